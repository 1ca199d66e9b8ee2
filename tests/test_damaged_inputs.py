"""Inputs damaged or odd in ways a user meets: a file damaged part-way, a frame folder mixing sizes
and holding hidden files, a folder given where a file is expected, an output that fails alone."""
from __future__ import annotations

import contextlib
import json
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


@contextlib.contextmanager
def small_disk(folder: Path, free_kib: int):
    """A tmpfs at ``folder`` with ``free_kib`` KiB free (a disk that fills up); skips the test where it
    cannot be mounted (not root)."""
    folder.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={free_kib + 92}k", "tmpfs", str(folder)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here")
    try:
        with open(folder / "filler", "wb") as f:
            f.write(b"\0" * (92 * 1024))
        (folder / "filler").rename(folder / ".filler")
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


@pytest.fixture
def full_disk(tmp_path):
    """A tmpfs with one 4 KiB page free."""
    with small_disk(tmp_path / "small-disk", 4) as folder:
        yield folder


def test_a_failing_alpha_output_leaves_the_main_output(tmp_path, full_disk, capsys):
    noise = [np.random.default_rng(i).integers(0, 255, (120, 160, 3), np.uint8) for i in range(40)]
    clip = write_video(tmp_path / "clip.mp4", audio=False, frames=noise)
    out, alpha = tmp_path / "out.mp4", full_disk / "alpha.mp4"
    code = main(["video", str(clip), "-o", str(out), "--alpha-out", str(alpha), "--crf", "0", *FAST])
    err = capsys.readouterr().err
    assert code == 2 and "alpha.mp4" in err and f"kept {out}" in err and "Traceback" not in err, err
    assert err.count("\n") == 1 and os.listdir(full_disk) == [".filler"]
    assert out.exists() and len(_frames(out)) == 40


@pytest.mark.parametrize("ext", [".mp4", ".mkv"])
def test_a_live_recording_onto_a_full_disk_keeps_what_it_recorded(tmp_path, capsys, ext):
    """`cam --to rec.mp4` on a disk with 64 KiB free, beside `--to null`. Before: the recording is
    deleted (the MP4 index cannot be written) and the run fails; after: the fragments (Matroska:
    clusters) written before the fault play, one line says so, the other output goes on to the end
    of the source."""
    noise = [np.random.default_rng(i).integers(0, 255, (48, 64, 3), np.uint8) for i in range(75)]
    clip = write_video(tmp_path / "noise.mp4", audio=False, frames=noise, size=(64, 48))
    stats = tmp_path / "stats.json"
    with small_disk(tmp_path / "disk", 64) as disk:
        rec = disk / f"rec{ext}"
        code = main(["cam", "--source", str(clip), "--to", str(rec), "--to", "null", "--stats-json", str(stats),
                     "--no-roi", "--no-pose", "--background", str(clip)])
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if f"rec{ext}" in line]
        assert code == 2 and "Traceback" not in err, err
        assert len(lines) == 1 and "No space left on device" in lines[0] and "kept the first" in lines[0], err
        kept = int(lines[0].split("kept the first ")[1].split()[0])
        decoded = _frames(rec)
        assert kept >= 20 and len(decoded) == kept  # every frame kept plays
        assert sorted(os.listdir(disk)) == [".filler", f"rec{ext}"]
    report = json.loads(stats.read_text())
    assert report["stopped_by"] == "end" and report["frames_out"] > kept  # the run went on to the end


@pytest.mark.parametrize("command, target", [("image", "sub/"), ("video", "x.mp4")])
def test_an_output_on_a_read_only_disk_is_a_one_line_error(tmp_path, capsys, command, target):
    """`image a.png -o /readonly/sub/` (issue #18: an OSError traceback); also `video`."""
    still = tmp_path / "a.png"
    cv2.imwrite(str(still), np.full((48, 64, 3), 120, np.uint8))
    source = still if command == "image" else write_video(tmp_path / "clip.mp4", n=3, size=(64, 48), audio=False)
    folder = tmp_path / "ro"
    folder.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(folder)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a read-only tmpfs here")
    try:
        subject = ["--subject", "person"] if command == "image" else []  # a flat picture: no subject to find
        code = main([command, str(source), "-o", f"{folder}/{target}", *FAST[:2], *subject])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
        assert "Read-only file system" in err or "not writable" in err
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_a_video_stream_that_changes_size_is_fitted_to_the_first_frame(tmp_path, capsys):
    """Two raw H.264 streams of different sizes joined (damage can make a decoder do the same: found
    by fuzzing). Before: a ValueError traceback ("picture: got shape (48, 96, 3)")."""
    first = write_video(tmp_path / "a.h264", n=6, size=(64, 48), audio=False)
    second = write_video(tmp_path / "b.h264", n=6, size=(96, 48), audio=False)
    joined = tmp_path / "joined.h264"
    joined.write_bytes(first.read_bytes() + second.read_bytes())
    out = tmp_path / "out.mp4"
    code = main(["video", str(joined), "-o", str(out), *FAST])
    err = capsys.readouterr().err
    assert code == 0 and "Traceback" not in err, err
    assert "6 frames differ in size from the first (64x48; e.g. 96x48); scaled and padded" in err
    decoded = _frames(out)
    assert len(decoded) == 12 and all(f.shape == (48, 64, 3) for f in decoded)


def test_a_video_of_unknown_length_runs(tmp_path, capsys):
    """A raw H.264 stream declares no frame count. Before: "TypeError: bool() undefined when
    iterable == total == None" (the progress bar of unknown total was tested for truth)."""
    raw = write_video(tmp_path / "raw.h264", n=6, size=(64, 48), audio=False)
    out = tmp_path / "out.mp4"
    code = main(["video", str(raw), "-o", str(out), *FAST])
    assert code == 0, capsys.readouterr().err
    assert len(_frames(out)) == 6
