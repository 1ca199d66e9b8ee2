"""Benchmark of ``livematte batch`` against ``livematte video`` run one clip after another.

    .venv/bin/python scripts/batch_bench.py [--clips 4] [--size 640x360] [--seconds 8] [--out /tmp/lm-batch-bench]

Makes the clips from samples/person.mp4 (played forwards then backwards until long enough, with a
tone for audio), then times, each as a fresh command (start-up and model loading included):
every clip with ``livematte video`` one after another; ``livematte batch`` of all clips with
1 and 2 workers; one clip with ``livematte video`` and with ``livematte batch --workers 1``.
Prints one JSON object; the batch runs' own reports give the per-task seconds used by the
scaling model.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time

import av
import cv2
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = [sys.executable, "-m", "livematte"]


def make_clip(path: str, size: tuple, seconds: float, fps: int = 30) -> None:
    """A person clip of ``seconds`` at ``size`` from the sample, with a 440 Hz stereo tone."""
    with av.open(os.path.join(REPO, "samples", "person.mp4")) as src:
        frames = [cv2.resize(f.to_ndarray(format="rgb24"), size, interpolation=cv2.INTER_AREA) for f in src.decode(video=0)]
    loop = frames + frames[::-1]
    n = int(seconds * fps)
    with av.open(path, "w") as out:
        v = out.add_stream("libx264", rate=fps, options={"preset": "veryfast", "crf": "20"})
        v.width, v.height, v.pix_fmt = size[0], size[1], "yuv420p"
        a = out.add_stream("aac", rate=48000, layout="stereo")
        for i in range(n):
            vf = av.VideoFrame.from_ndarray(loop[i % len(loop)], format="rgb24")
            vf.pts = i
            for p in v.encode(vf):
                out.mux(p)
        for p in v.encode(None):
            out.mux(p)
        tone = (0.2 * np.sin(2 * math.pi * 440 * np.arange(48000 * n // fps) / 48000)).astype(np.float32)
        for i in range(0, len(tone), 1024):
            af = av.AudioFrame.from_ndarray(np.stack([tone[i:i + 1024]] * 2), format="fltp", layout="stereo")
            af.sample_rate, af.pts = 48000, i
            for p in a.encode(af):
                out.mux(p)
        for p in a.encode(None):
            out.mux(p)


CPU = {}  #: CPU seconds (user + system) of each timed command, by its output path


def timed(cmd: list) -> float:
    """Wall seconds of ``cmd``; its CPU seconds (children included) go to ``CPU``."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU[cmd[cmd.index("-o") + 1]] = round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 2)
    return wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=4)
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--out", default="/tmp/lm-batch-bench")
    args = ap.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    shutil.rmtree(args.out, ignore_errors=True)
    clips_dir = os.path.join(args.out, "clips")
    os.makedirs(clips_dir)
    clips = [os.path.join(clips_dir, f"clip{i}.mp4") for i in range(args.clips)]
    for c in clips:
        make_clip(c, size, args.seconds)
    frames = int(args.seconds * 30)
    res = {"clips": args.clips, "size": args.size, "frames_per_clip": frames, "load": os.getloadavg()}
    res["video_sequential_s"] = sum(timed(CLI + ["video", c, "-o", os.path.join(args.out, f"v{i}.mp4")])
                                    for i, c in enumerate(clips))
    for workers in (1, 2):
        out = os.path.join(args.out, f"batch{workers}")
        report = os.path.join(args.out, f"batch{workers}.json")
        res[f"batch_{workers}w_s"] = timed(CLI + ["batch", clips_dir, "-o", out, "--workers", str(workers),
                                                  "--json", report])
        with open(report) as fh:
            res[f"batch_{workers}w_task_s"] = [round(r["seconds"], 2) for r in json.load(fh)["inputs"]]
    res["one_clip_video_s"] = timed(CLI + ["video", clips[0], "-o", os.path.join(args.out, "one.mp4")])
    res["one_clip_batch_1w_s"] = timed(CLI + ["batch", clips[0], "-o", os.path.join(args.out, "one"), "--workers", "1"])
    total = args.clips * frames
    res["fps"] = {k[:-2]: round(total / v, 2) for k, v in res.items() if k.endswith("_s") and k.startswith(("video", "batch"))
                  and not isinstance(v, list)}
    res["throughput_ratio_2w_vs_sequential"] = round(res["video_sequential_s"] / res["batch_2w_s"], 3)
    res["overhead_one_clip"] = round(res["one_clip_batch_1w_s"] / res["one_clip_video_s"] - 1, 3)
    res["one_clip_video_cpu_s"] = CPU[os.path.join(args.out, "one.mp4")]
    res["cores_per_video_process"] = round(res["one_clip_video_cpu_s"] / res["one_clip_video_s"], 2)
    res["load_after"] = os.getloadavg()
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
