"""``video -o DIR/`` and ``-o NAME%05d.png|webp``: a video written as numbered images with alpha;
``-o clip.gif`` with transparency; the ``.mp4`` transparency error names outputs that work (issue #18)."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest
from PIL import Image

from livematte.sinks.sequence import ImageSequenceSink, sequence_target
from livematte.types import LivematteError, StreamInfo

from .helpers import REPO, small_clip

W, H, N = 128, 72, 4


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return small_clip(str(tmp_path_factory.mktemp("seq") / "small.mp4"), W, H, N)


def video(*args):
    return subprocess.run([sys.executable, "-m", "livematte", "video", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture(scope="module")
def ref_sequence(clip, tmp_path_factory):
    """The folder of ``video CLIP -o DIR/ --background transparent`` (run once for the module)."""
    folder = str(tmp_path_factory.mktemp("ref")) + "/"
    proc = video(clip, "-o", folder, "--background", "transparent", "--no-pose")
    assert proc.returncode == 0, proc.stderr
    return folder


def test_video_writes_a_png_folder_with_alpha(ref_sequence):
    names = [f"{i:05d}.png" for i in range(N)]
    assert sorted(os.listdir(ref_sequence)) == names  # nothing else: no temporary files left
    pictures = [cv2.imread(ref_sequence + n, cv2.IMREAD_UNCHANGED) for n in names]
    assert all(p.shape == (H, W, 4) for p in pictures)
    alpha = np.stack([p[..., 3] for p in pictures])
    assert (alpha == 0).mean() > 0.1 and (alpha == 255).mean() > 0.05  # a person on transparency


def test_video_writes_a_webp_pattern_with_alpha(clip, ref_sequence, tmp_path):
    proc = video(clip, "-o", str(tmp_path / "shot_%03d.webp"), "--background", "transparent",
                 "--no-pose")
    assert proc.returncode == 0, proc.stderr
    assert sorted(os.listdir(tmp_path)) == [f"shot_{i:03d}.webp" for i in range(N)]
    for i in range(N):
        got = cv2.imread(str(tmp_path / f"shot_{i:03d}.webp"), cv2.IMREAD_UNCHANGED)
        ref = cv2.imread(f"{ref_sequence}{i:05d}.png", cv2.IMREAD_UNCHANGED)
        assert np.array_equal(got[..., 3], ref[..., 3])  # lossless: the same alpha as the PNGs


def test_mp4_transparency_error_suggests_outputs_that_work(clip, tmp_path):
    proc = video(clip, "-o", str(tmp_path / "cut.mp4"), "--background", "transparent")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    suggested = re.findall(r"-o (\S+)", proc.stderr)
    assert ".webm" in proc.stderr and ".mov" in proc.stderr and len(suggested) == 2
    assert suggested[0].endswith("cut/") and suggested[1].endswith("cut_%05d.png")
    assert not os.listdir(tmp_path)
    proc = video(clip, "-o", suggested[1], "--background", "transparent", "--no-pose")  # the suggestion works
    assert proc.returncode == 0, proc.stderr
    assert sorted(os.listdir(tmp_path)) == [f"cut_{i:05d}.png" for i in range(N)]


def test_sequence_targets_and_their_errors(tmp_path):
    assert sequence_target("clip.mp4") is None and sequence_target("a.png") is None
    assert sequence_target(str(tmp_path)).name(7) == os.path.join(str(tmp_path), "00007.png")  # an existing folder
    assert sequence_target("x/f_%03d.webp").name(12) == os.path.join("x", "f_012.webp")
    with pytest.raises(LivematteError, match="written as .png or .webp"):
        sequence_target("x/f_%03d.jpg")
    with pytest.raises(LivematteError, match="exactly one %d"):
        sequence_target("x/%d_%d.png")
    sink = ImageSequenceSink(sequence_target(str(tmp_path / "s" / "%02d.webp")))
    sink.open(StreamInfo(8, 6), True)
    rgba = np.random.default_rng(0).integers(0, 256, (6, 8, 4), dtype=np.uint8)
    sink.write(rgba, None)
    sink.close()
    back = cv2.cvtColor(cv2.imread(str(tmp_path / "s" / "00.webp"), cv2.IMREAD_UNCHANGED), cv2.COLOR_BGRA2RGBA)
    assert np.array_equal(back[..., 3], rgba[..., 3])  # lossless WebP: the alpha exact
    assert np.array_equal(back[..., :3][rgba[..., 3] > 0], rgba[..., :3][rgba[..., 3] > 0])


def test_video_writes_a_gif_with_transparency(clip, ref_sequence, tmp_path):
    gif, seq = str(tmp_path / "cut.gif"), ref_sequence
    proc = video(clip, "-o", gif, "--background", "transparent", "--no-pose")
    assert proc.returncode == 0, proc.stderr
    assert os.listdir(tmp_path) == ["cut.gif"]  # no temporary file left
    with Image.open(gif) as im:
        assert im.n_frames == N and im.info.get("loop") == 0
        frames = []
        for k in range(N):
            im.seek(k)
            frames.append(np.asarray(im.convert("RGBA")))  # (H, W, 4)
    for k, got in enumerate(frames):
        ref = cv2.cvtColor(cv2.imread(f"{seq}{k:05d}.png", cv2.IMREAD_UNCHANGED), cv2.COLOR_BGRA2RGBA)
        assert ((got[..., 3] == 0) == (ref[..., 3] < 128)).mean() > 0.999, f"frame {k}: transparency"
        opaque = ref[..., 3] >= 128
        assert 0.05 < opaque.mean() < 0.95
        assert np.abs(got[opaque, :3].astype(int) - ref[opaque, :3]).mean() < 6, f"frame {k}: colours"
