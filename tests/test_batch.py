"""``livematte batch`` on a local Ray cluster (2 CPUs, started once for the module).

Clips are 160x120 person clips made from the sample (keyframe every 15 frames, 15 fps, with audio).
"""
from __future__ import annotations

import json
import os
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

from livematte import api
from livematte.batch.plan import Item, plan_item
from livematte.batch.runner import BatchOptions, run_batch
from livematte.cli import main
from livematte.config import Config

from .conftest import write_video
from .helpers import SAMPLES

ray = pytest.importorskip("ray")

FPS = 15
CODEC = {"preset": "ultrafast", "crf": "23", "g": "15", "bf": "0"}


def person_frames(n: int) -> list:
    """``n`` RGB ``(120, 160, 3)`` frames of the sample at 15 fps (every other frame)."""
    out = []
    with av.open(os.path.join(SAMPLES, "person.mp4")) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i % 2 == 0:
                out.append(cv2.resize(f.to_ndarray(format="rgb24"), (160, 120), interpolation=cv2.INTER_AREA))
            if len(out) == n:
                break
    return out


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """A folder with two clips (one in a sub-folder), a still and a corrupt file; and a 45-frame clip."""
    root = tmp_path_factory.mktemp("batch-in")
    frames = person_frames(45)
    (root / "in" / "sub").mkdir(parents=True)
    write_video(root / "in" / "a.mp4", frames=frames[:12], fps=FPS, codec_options=CODEC)
    write_video(root / "in" / "sub" / "b.mp4", frames=frames[12:20], fps=FPS, codec_options=CODEC, audio=False)
    cv2.imwrite(str(root / "in" / "still.jpg"), cv2.cvtColor(frames[5], cv2.COLOR_RGB2BGR))
    (root / "in" / "broken.mp4").write_bytes(os.urandom(4000))
    long = write_video(root / "long.mp4", frames=frames, fps=FPS, codec_options=CODEC)
    return root, long


def decode(path) -> tuple:
    """``(pts list, grey frames (N, H, W) float32, audio packets)`` of a video file."""
    with av.open(str(path)) as c:
        frames = list(c.decode(video=0))
    with av.open(str(path)) as c:
        audio = sum(1 for p in c.demux(audio=0) if p.size) if c.streams.audio else 0
    grey = np.stack([f.to_ndarray(format="gray").astype(np.float32) for f in frames])
    return [f.pts for f in frames], grey, audio


def test_folder_of_clips_and_images_with_a_corrupt_input(cluster, clips, tmp_path, capsys):
    root, _ = clips
    out, report = tmp_path / "out", tmp_path / "report.json"
    code = main(["batch", str(root / "in"), "-r", "-o", str(out), "--json", str(report), "--no-pose"])
    assert code == 1  # the corrupt file failed; the others are written
    err = capsys.readouterr().err
    assert "broken.mp4" in err and "failed" in err
    pts_a, _, audio_a = decode(out / "a.mp4")
    pts_b, _, audio_b = decode(out / "sub" / "b.mp4")
    assert len(pts_a) == 12 and audio_a > 0
    assert len(pts_b) == 8 and audio_b == 0
    assert cv2.imread(str(out / "still.png")).shape == (120, 160, 3)
    assert not (out / "broken.mp4").exists()
    data = json.loads(report.read_text())
    by_name = {os.path.basename(r["input"]): r for r in data["inputs"]}
    assert by_name["broken.mp4"]["status"] == "failed" and by_name["broken.mp4"]["errors"]
    assert by_name["a.mp4"]["status"] == "done" and by_name["a.mp4"]["frames"] == 12
    assert by_name["a.mp4"]["fps"] > 0 and by_name["a.mp4"]["workers"]
    assert data["summary"]["done"] == 3 and data["summary"]["failed"] == 1

    # a rerun skips every completed output and leaves it untouched
    mtime = os.stat(out / "a.mp4").st_mtime_ns
    code = main(["batch", str(root / "in"), "-r", "-o", str(out), "--json", str(report), "--no-pose"])
    data = json.loads(report.read_text())
    assert code == 1 and data["summary"]["skipped"] == 3 and data["summary"]["done"] == 0
    assert os.stat(out / "a.mp4").st_mtime_ns == mtime


def test_long_clip_in_three_segments_matches_a_single_run(cluster, clips, tmp_path):
    """Lossless output of the matte: the joined file has the input's pts and audio, and its mattes
    differ from one process's run no more at the seams than elsewhere."""
    _, long = clips
    cfg = Config()
    cfg.effect.background, cfg.output.crf = "matte", 0
    item = plan_item(Item(str(long), str(tmp_path / "x.mp4"), "video"), segment_s=1.0, warmup_s=1.0,
                     work_dir=str(tmp_path))
    assert [t.frames for t in item.tasks] == [15, 15, 15]
    out = tmp_path / "out"
    rep = run_batch([str(long)], cfg, BatchOptions(outdir=str(out), segment_s=1.0, warmup_s=1.0))
    (r,) = rep.inputs.values()
    assert r.status == "done" and r.segments == 3 and r.frames == 45, r
    api.process_file(str(long), str(tmp_path / "single.mp4"), config=cfg)
    pts_in, _, audio_in = decode(long)
    pts_j, joined, audio_j = decode(out / "long.mp4")
    _, single, _ = decode(tmp_path / "single.mp4")
    assert pts_j == pts_in and audio_j == audio_in
    with av.open(str(out / "long.mp4")) as c:
        assert Fraction(c.streams.video[0].average_rate) == FPS
    diff = np.abs(joined - single).mean(axis=(1, 2))  # (45,) mean |Δ| per frame, 8-bit levels
    seams = [14, 15, 16, 29, 30, 31]
    elsewhere = np.delete(diff, seams)
    assert diff[seams].max() <= elsewhere.max() + 0.05, diff.round(2)
    # with the 1 s warm-up the state is primed: no pixel moves by more than 2 levels (measured: 0;
    # without the warm-up up to 216 levels just after a seam)
    assert np.abs(joined - single).max() <= 2
    assert not (out / ".livematte-batch").exists() or not any((out / ".livematte-batch").rglob("*.mp4"))


def test_a_worker_killed_mid_task_is_retried(cluster, clips, tmp_path, monkeypatch):
    root, _ = clips
    marker = tmp_path / "died"
    monkeypatch.setenv("LIVEMATTE_BATCH_DIE_ONCE", str(marker))
    cfg = Config()
    cfg.quality.pose = False
    out = tmp_path / "out"
    rep = run_batch([str(root / "in" / "a.mp4")], cfg, BatchOptions(outdir=str(out), workers=1))
    assert marker.exists()  # a worker did die, at its 5th frame
    (r,) = rep.inputs.values()
    assert r.status == "done" and r.frames == 12, r
    pts, _, audio = decode(out / "a.mp4")
    assert len(pts) == 12 and audio > 0
    assert sorted(p.name for p in out.iterdir()) == ["a.mp4"]  # the dead writer's part file is gone


def test_without_ray_batch_says_what_to_install(tmp_path, monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    assert main(["batch", str(tmp_path), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["livematte: error: livematte batch needs Ray: pip install 'livematte[cluster]' (or pip install ray)"]


def test_an_input_that_names_nothing_is_one_line(tmp_path, capsys):
    assert main(["batch", str(tmp_path / "nope.mp4"), "-o", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.strip() == f"livematte: error: {tmp_path / 'nope.mp4'}: no such file or directory"


def test_batch_keeps_the_tracks_and_names_what_the_container_cannot_hold(cluster, tmp_path, capsys):
    """Two audio tracks and subtitles go through `batch` as through `video`; bitmap subtitles into
    .mp4 are named in one warning (before: dropped with the second audio track, nothing said)."""
    from tests.media_cases import LINES, read_tracks, tracks_file

    (tmp_path / "in").mkdir()
    tracks_file(tmp_path / "in" / "talk.mkv", subtitles=("subrip", "dvd_subtitle"))
    out = tmp_path / "out"
    code = main(["batch", str(tmp_path / "in"), "-o", str(out), "--video-format", "mp4", "--no-pose"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert len([line for line in err.splitlines() if "not kept" in line and "dvd_subtitle" in line]) == 1, err
    tracks = read_tracks(out / "talk.mp4")
    assert [k for k, *_ in tracks] == ["audio", "audio", "subtitle"] and tracks[2][3] == [t for _, t in LINES]
