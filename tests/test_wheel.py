"""The wheel: what it ships, and that an installed copy runs from any folder (presets included).

The source is copied first (``pyproject.toml``, ``README.md``, ``livematte/``) so the build writes
nothing into the checkout and can only use what the package itself holds.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from livematte.cli import main

from .helpers import REPO, sample_frame


def _pip(*args: str, cwd: Path) -> None:
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    done = subprocess.run([sys.executable, "-m", "pip", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built (offline, no build isolation) from a copy of the source tree."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(os.path.join(REPO, name), src / name)
    shutil.copytree(os.path.join(REPO, "livematte"), src / "livematte",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
    _pip("wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", str(root / "dist"), ".", cwd=src)
    (path,) = (root / "dist").glob("livematte-*.whl")
    return path


def test_the_wheel_holds_the_package_and_its_data_and_nothing_else(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    package = Path(REPO) / "livematte"
    shipped_py = {p.relative_to(REPO).as_posix() for p in package.rglob("*.py") if "__pycache__" not in p.parts}
    assert shipped_py <= names, sorted(shipped_py - names)
    presets = {f"livematte/presets/{p.name}" for p in (package / "presets").glob("*.toml")}
    assert {"livematte/presets/meeting-blur.toml", "livematte/presets/green-screen.toml"} <= presets <= names
    html = {f"livematte/sinks/{p.name}" for p in (package / "sinks").glob("*.html")}
    assert html and html <= names
    tops = {n.split("/", 1)[0] for n in names}
    assert tops == {"livematte", "livematte-0.1.0.dist-info"}, tops  # no tests/, samples/, configs/, weights/
    entry = zipfile.ZipFile(wheel).read("livematte-0.1.0.dist-info/entry_points.txt").decode()
    assert "livematte = livematte.cli:main" in entry


def test_installed_wheel_runs_a_preset_from_another_folder(wheel, tmp_path, capsys):
    site = tmp_path / "site"
    _pip("install", "--no-deps", "--no-index", "-q", "--target", str(site), str(wheel), cwd=tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    still = elsewhere / "x.jpg"
    frame = cv2.resize(sample_frame(30), (320, 180), interpolation=cv2.INTER_AREA)  # RGB, a real person
    assert cv2.imwrite(str(still), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    env = dict(os.environ, PYTHONPATH=str(site))

    def run(*argv):
        return subprocess.run([sys.executable, *argv], cwd=elsewhere, env=env, capture_output=True, text=True,
                              timeout=300)

    where = run("-c", "import livematte, livematte.config as c; print(livematte.__file__); print(c.list_presets())")
    assert where.returncode == 0, where.stderr
    file_line, presets_line = where.stdout.strip().splitlines()
    assert Path(file_line).resolve().is_relative_to(site.resolve()), file_line
    assert "meeting-blur" in presets_line

    done = run("-m", "livematte", "image", "x.jpg", "-o", "out.png", "--config", "meeting-blur")
    assert done.returncode == 0, done.stderr
    out = cv2.imread(str(elsewhere / "out.png"), cv2.IMREAD_UNCHANGED)
    assert out is not None and out.shape == (180, 320, 3)
    assert np.abs(out.astype(int) - cv2.imread(str(still)).astype(int)).mean() > 1.0  # the background was blurred
    # the installed copy gives what the source tree gives
    assert main(["image", str(still), "-o", str(tmp_path / "here.png"), "--config", "meeting-blur"]) == 0
    capsys.readouterr()
    np.testing.assert_array_equal(out, cv2.imread(str(tmp_path / "here.png"), cv2.IMREAD_UNCHANGED))

    bad = run("-m", "livematte", "image", "x.jpg", "-o", "bad.png", "--config", "no-such-preset")
    lines = bad.stderr.strip().splitlines()
    assert bad.returncode == 2 and len(lines) == 1 and "presets are: green-screen, meeting-blur" in lines[0], bad.stderr
