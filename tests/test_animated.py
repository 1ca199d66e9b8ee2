"""Animated GIF and WebP inputs: `image` takes the first frame, `video` (and `cam --source`) every
frame with its own duration, into .mp4 and into .gif."""
from __future__ import annotations

import json

import av
import numpy as np
import pytest
from PIL import Image

from livematte.cli import main
from livematte.sources.images import load_image
from tests.conftest import pattern_frame

FAST = ["--no-roi", "--no-pose", "--background", "white"]
SIZE = (64, 48)
DURATIONS = [100] * 4 + [200] * 4 + [300]  # ms: frames shown unequally long
STARTS = [0.0, 0.1, 0.2, 0.3, 0.4, 0.6, 0.8, 1.0, 1.2]


def _animation(path, **options):
    frames = [Image.fromarray(pattern_frame(i, SIZE)) for i in range(len(DURATIONS))]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=DURATIONS, loop=0, **options)
    return path


def _times(path):
    with av.open(str(path)) as c:
        return [round(float(f.pts * f.time_base), 2) for f in c.decode(video=0)]


@pytest.mark.parametrize("ext, options", [(".webp", {"lossless": True}), (".gif", {})])
def test_image_takes_the_first_frame(tmp_path, ext, options):
    image = load_image(str(_animation(tmp_path / f"a{ext}", **options)))
    assert image.shape == (48, 64, 3)
    error = np.abs(image.astype(int) - pattern_frame(0, SIZE)).mean()
    assert error < (0.5 if ext == ".webp" else 6)  # GIF: a 256-colour palette


def test_an_animated_webp_source_gives_every_frame_with_its_time(tmp_path):
    from livematte.io import open_source

    path = _animation(tmp_path / "a.webp", lossless=True)
    with open_source(str(path)) as source:
        frames = list(source)
    assert source.info.frames == 9 and (source.info.width, source.info.height) == SIZE
    assert [round(f.seconds, 2) for f in frames] == STARTS
    assert all(np.array_equal(f.image, pattern_frame(i, SIZE)) for i, f in enumerate(frames))


@pytest.mark.parametrize("source_ext", [".webp", ".gif"])
@pytest.mark.parametrize("ext", [".mp4", ".gif"])
def test_video_takes_every_frame_and_keeps_the_durations(tmp_path, capsys, source_ext, ext):
    """Before: an animated WebP was "a still image, not a video"; an animated GIF into .gif lost its
    durations (every frame 0.15 s, the mean rate)."""
    source = _animation(tmp_path / f"a{source_ext}", **({"lossless": True} if source_ext == ".webp" else {}))
    out = tmp_path / f"out{ext}"
    code = main(["video", str(source), "-o", str(out), *FAST])
    err = capsys.readouterr().err
    assert code == 0, err
    assert _times(out) == STARTS


def test_cam_plays_an_animated_webp_as_a_camera(tmp_path, capsys):
    source = _animation(tmp_path / "a.webp", lossless=True)
    stats = tmp_path / "stats.json"
    code = main(["cam", "--source", str(source), "--to", "null", "--stats-json", str(stats), *FAST])
    assert code == 0, capsys.readouterr().err
    report = json.loads(stats.read_text())
    assert report["frames_out"] == 9 and report["stopped_by"] == "end"
    assert report["seconds"] == pytest.approx(1.2, abs=0.5)  # played at the file's own pace


@pytest.mark.parametrize("source_ext", [".webp", ".gif"])
def test_image_into_a_gif_keeps_every_frame_transparent(tmp_path, capsys, source_ext):
    """Issue #14: an animated input written as .gif by `image` keeps all its frames (a cut-out, so
    transparent by default). Before: "unsupported image format ('.gif')"."""
    source = _animation(tmp_path / f"a{source_ext}", **({"lossless": True} if source_ext == ".webp" else {}))
    out = tmp_path / "cut.gif"
    assert main(["image", str(source), "-o", str(out), "--no-roi", "--no-pose"]) == 0
    assert _times(out) == STARTS
    with Image.open(out) as gif:
        assert gif.n_frames == len(DURATIONS) and "transparency" in gif.info


def test_image_into_a_gif_refuses_stills_and_still_tools(tmp_path, capsys):
    still = tmp_path / "still.png"
    Image.fromarray(pattern_frame(0, SIZE)).save(still)
    assert main(["image", str(still), "-o", str(tmp_path / "o.gif")]) == 2
    assert "for a still picture write .png or .webp" in capsys.readouterr().err
    source = _animation(tmp_path / "a.gif")
    assert main(["image", str(source), "-o", str(tmp_path / "o.gif"), "--shadow"]) == 2
    assert "--shadow" in capsys.readouterr().err
    assert not list(tmp_path.glob("o*.gif"))
