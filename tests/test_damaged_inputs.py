"""Inputs damaged or odd in ways a user meets: a file damaged part-way, a frame folder mixing sizes
and holding hidden files, a folder given where a file is expected, an output that fails alone."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from livematte.cli import main
from livematte.sources.video import VideoFileSource
from tests.conftest import pattern_frame, write_video
from tests.helpers import REPO

FAST = ["--no-roi", "--no-pose", "--background", "white"]


def _damage(path: Path, spots=(0.45, 0.5), length: int = 400) -> None:
    """Overwrite ``length`` bytes at each fraction of the file with a fixed pattern."""
    data = bytearray(path.read_bytes())
    for frac in spots:
        at = int(len(data) * frac)
        data[at:at + length] = bytes((i * 37 + 11) % 256 for i in range(length))
    path.write_bytes(bytes(data))


def _frames(path: Path) -> list:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def test_a_file_damaged_part_way_skips_the_bad_packets(tmp_path, capsys):
    clip = write_video(tmp_path / "clip.mp4", n=60, audio=False)
    _damage(clip)
    with VideoFileSource(str(clip)) as source:
        decoded = sum(1 for _ in source)
    assert source.damaged >= 1 and decoded >= 54  # before: 27, decoding stopped at the first bad packet
    assert f"{60 - decoded} of 60 frames lost" in source.warning
    out = tmp_path / "out.mp4"
    code = main(["video", str(clip), "-o", str(out), *FAST])
    err = capsys.readouterr().err
    assert code == 0 and "damaged packets skipped" in err and "frames lost" in err
    assert len(_frames(out)) == decoded


def _png(path: Path, size, index: int) -> None:
    cv2.imwrite(str(path), cv2.cvtColor(pattern_frame(index, size), cv2.COLOR_RGB2BGR))


def test_a_frame_folder_with_mixed_sizes_and_hidden_files(tmp_path, capsys):
    frames = tmp_path / "frames"
    frames.mkdir()
    sizes = [(160, 120)] * 3 + [(200, 100), (80, 60), (160, 120)]
    for i, size in enumerate(sizes):
        _png(frames / f"{i:05d}.png", size, i)
    (frames / "._00003.png").write_bytes(b"\x00\x05\x16\x07 AppleDouble resource fork")
    _png(frames / ".hidden.png", (320, 240), 9)
    out = tmp_path / "out.mp4"
    code = main(["video", str(frames), "-o", str(out), *FAST])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.err.count("scaled and padded") == 1 and "Traceback" not in captured.err
    decoded = _frames(out)
    assert len(decoded) == len(sizes) and all(f.shape == (120, 160, 3) for f in decoded)


def test_cam_source_folder_is_named_a_folder(tmp_path, capsys):
    code = main(["cam", "--source", str(tmp_path), "--to", "null", *FAST])
    err = capsys.readouterr().err
    assert code == 2 and "is a folder" in err and "no such file" not in err and err.count("\n") == 1


@pytest.fixture
def full_disk(tmp_path):
    """A 96 KiB tmpfs (a disk that fills up); skipped where it cannot be mounted (not root)."""
    folder = tmp_path / "small-disk"
    folder.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(folder)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here")
    try:
        with open(folder / "filler", "wb") as f:  # leave one 4 KiB page free
            f.write(b"\0" * (92 * 1024))
        (folder / "filler").rename(folder / ".filler")
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_a_failing_alpha_output_leaves_the_main_output(tmp_path, full_disk, capsys):
    noise = [np.random.default_rng(i).integers(0, 255, (120, 160, 3), np.uint8) for i in range(40)]
    clip = write_video(tmp_path / "clip.mp4", audio=False, frames=noise)
    out, alpha = tmp_path / "out.mp4", full_disk / "alpha.mp4"
    code = main(["video", str(clip), "-o", str(out), "--alpha-out", str(alpha), "--crf", "0", *FAST])
    err = capsys.readouterr().err
    assert code == 2 and "alpha.mp4" in err and f"kept {out}" in err and "Traceback" not in err, err
    assert err.count("\n") == 1 and os.listdir(full_disk) == [".filler"]
    assert out.exists() and len(_frames(out)) == 40
