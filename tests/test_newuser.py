"""What a new user trips on (issue #18): ``cam --to preview`` without a display, what ``doctor``
recommends, the help texts, ``image`` without the temporal flags, ``matte -o`` and ``--fps`` for a
folder of frames."""
from __future__ import annotations

import os
import subprocess
import sys

import av
import cv2
import numpy as np
import pytest

from livematte import doctor
from livematte.cli import build_parser
from livematte.sinks import preview

from .helpers import REPO, SAMPLES
from .test_live import _main

PERSON = os.path.join(SAMPLES, "person.mp4")


def run(*args, env=None, timeout=60):
    return subprocess.run([sys.executable, "-m", "livematte", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env=env)


def no_display_env():
    return {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}


def test_cam_to_preview_without_a_display_says_so_at_once_even_with_loop():
    for extra in ([], ["--loop"]):
        proc = run("cam", "--source", PERSON, "--to", "preview", *extra, env=no_display_env(), timeout=30)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.count("\n") == 1 and "--to preview: no display" in proc.stderr
        assert "--to out.mp4" in proc.stderr
    proc = run("cam", "--source", PERSON, "--to", "preview", "--to", "null", "--frames", "2", env=no_display_env())
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines()[0] == "livematte: warning: --to preview skipped: no display (neither DISPLAY " \
                                          "nor WAYLAND_DISPLAY is set)"  # before the run, not only after it


def test_doctor_without_vcam_or_display_recommends_what_works(monkeypatch, capsys):
    import pyvirtualcam.camera

    real = {k: v for k, v in pyvirtualcam.camera.BACKENDS.items() if not k.startswith("lm-test")}
    monkeypatch.setattr(pyvirtualcam.camera, "BACKENDS", real)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(preview, "_checked", None)
    assert _main(["doctor"], monkeypatch) == 1
    out = capsys.readouterr().out
    assert "[FAIL] virtual camera" in out
    assert "vcam" not in out.lower() and "the virtual camera, files" not in out  # it does not work here
    assert "--to preview`" not in out.replace("`--to preview` needs a display", "")
    assert "--loop --to try.mp4" in out and "`--to preview` needs a display" in out
    assert "the virtual camera" in doctor.check_display(vcam_ok=True).fix[0]  # where one works, it is named
    monkeypatch.setattr(preview, "_checked", "")  # a display: the window is the first thing to try
    assert doctor.check_display().fix == [] and doctor._try_output() == "preview"


def test_help_texts_and_flags():
    parser = build_parser()
    sub = {a.dest: a for a in parser._subparsers._group_actions}["command"].choices
    video, matte, image = sub["video"], sub["matte"], sub["image"]
    assert video.description and "folder of" in video.description
    assert all(a.help for a in video._actions if a.dest in ("input", "fps")), "IN and --fps have help"
    assert matte.description and all(a.help for a in matte._actions if a.dest in ("input", "out"))
    assert matte.parse_args(["clip.mp4", "-o", "out/"]).out == "out/"
    assert matte.parse_args(["clip.mp4", "--out", "out/"]).out == "out/"
    flags = {o for a in image._actions for o in a.option_strings}
    assert "--temporal" not in flags and "--smoothing" not in flags
    assert "--temporal" in {o for a in video._actions for o in a.option_strings}


def test_fps_for_a_folder_of_frames(tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(3):
        cv2.imwrite(str(frames / f"{i:05d}.png"), np.full((48, 64, 3), 40 * i, np.uint8))
    out = tmp_path / "out.mp4"
    proc = run("video", str(frames), "-o", str(out), "--fps", "12", "--no-pose")
    assert proc.returncode == 0, proc.stderr
    with av.open(str(out)) as c:
        stream = c.streams.video[0]
        assert stream.average_rate == 12 and stream.frames in (0, 3)
        assert len(list(c.decode(video=0))) == 3
    proc = run("video", PERSON, "-o", str(tmp_path / "b.mp4"), "--fps", "12")
    assert proc.returncode == 2 and "only a folder of frames takes a frame rate" in proc.stderr
    assert not (tmp_path / "b.mp4").exists()


@pytest.mark.parametrize("flag", ["--temporal", "--smoothing"])
def test_image_refuses_temporal_flags(flag, tmp_path):
    proc = run("image", os.path.join(SAMPLES, "background.jpg"), "-o", str(tmp_path / "x.png"), flag, "1")
    assert proc.returncode == 2 and "unrecognized arguments" in proc.stderr
