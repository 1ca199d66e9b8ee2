"""The documented pipe commands (README, docs/obs.md) keep the alpha: livematte's side runs for
real; ffmpeg's side runs for real when ffmpeg is installed, and is otherwise done with PyAV using
exactly the codec, pixel format and options the documented command gives."""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from fractions import Fraction

import av
import numpy as np
import pytest

from .helpers import REPO, small_clip

W, H, N = 160, 96, 6
DOCS = [os.path.join(REPO, "README.md"), os.path.join(REPO, "docs", "obs.md")]


def documented_commands():
    """``(livematte args, ffmpeg args)`` of every ``livematte ... | ffmpeg -f rawvideo ...`` in the docs."""
    found = []
    for path in DOCS:
        text = open(path, encoding="utf-8").read().replace("\\\n", " ")
        for m in re.finditer(r"(livematte (?:video|cam)[^|`\n]*)\|\s*(ffmpeg -f rawvideo[^`\n]*)", text):
            found.append((shlex.split(m.group(1))[1:], shlex.split(m.group(2))[1:]))
    return found


def ffmpeg_output(args):
    """The output side of an ffmpeg command line: ``(codec, pix_fmt, options, file)``."""
    out = args[args.index("-i") + 2:]
    opts = dict(zip(out[:-1:2], out[1:-1:2]))
    extra = {k.split(":")[0].lstrip("-"): v for k, v in opts.items() if k not in ("-c:v", "-pix_fmt")}
    return opts.get("-c:v"), opts.get("-pix_fmt"), extra, out[-1]


@pytest.fixture(scope="module")
def rgba_frames(tmp_path_factory):
    """Raw RGBA frames from ``livematte video SMALL.mp4 -o - --background transparent`` (the README's side)."""
    small = small_clip(str(tmp_path_factory.mktemp("pipe") / "small.mp4"), W, H, N)
    proc = subprocess.run([sys.executable, "-m", "livematte", "video", small, "-o", "-", "--background",
                           "transparent"], cwd=REPO, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    assert f"-video_size {W}x{H} -framerate 30" in proc.stderr.decode()
    frames = np.frombuffer(proc.stdout, np.uint8).reshape(-1, H, W, 4)
    assert len(frames) == N and 0 < frames[..., 3].mean() < 255  # a person on a transparent background
    return proc.stdout, frames


def test_the_docs_show_pipe_commands_that_keep_alpha():
    commands = documented_commands()
    assert len(commands) >= 3, commands  # README video, obs.md video and cam
    for _, ff in commands:
        codec, pix_fmt, _, _ = ffmpeg_output(ff)
        assert (codec, pix_fmt) in {("prores_ks", "yuva444p10le"), ("libvpx-vp9", "yuva420p"), ("qtrle", "argb"),
                                    ("qtrle", None)}, f"ffmpeg {' '.join(ff)}: this drops the alpha"


@pytest.mark.parametrize("index", range(3))
def test_a_documented_ffmpeg_side_keeps_the_alpha(index, rgba_frames, tmp_path):
    livematte_args, ff = documented_commands()[index]
    raw, frames = rgba_frames
    codec, pix_fmt, extra, name = ffmpeg_output(ff)
    out = str(tmp_path / os.path.basename(name))
    if shutil.which("ffmpeg"):
        cmd = [a.replace("1280x720", f"{W}x{H}") for a in ff[:-1]] + [out]
        subprocess.run(["ffmpeg", "-loglevel", "error", *cmd], input=raw, check=True, timeout=60)
    else:
        assert ff[ff.index("-pix_fmt") + 1] == "rgba" and "-video_size" in ff  # the input is read as livematte writes it
        with av.open(out, "w") as c:
            stream = c.add_stream(codec, rate=30)
            stream.width, stream.height, stream.time_base = W, H, Fraction(1, 30)
            stream.pix_fmt = pix_fmt or "argb"
            stream.options = {k: v for k, v in extra.items() if k in ("profile", "deadline")}
            for i, rgba in enumerate(frames):
                frame = av.VideoFrame.from_ndarray(rgba, format="rgba").reformat(format=stream.pix_fmt)
                frame.pts = i
                c.mux(stream.encode(frame))
            c.mux(stream.encode())
    with av.open(out) as c:
        vs = c.streams.video[0]
        ctx = av.CodecContext.create("libvpx-vp9", "r") if vs.codec_context.name == "vp9" else vs.codec_context
        back = [f.to_ndarray(format="rgba") for p in c.demux(vs) for f in ctx.decode(p)]  # the last packet flushes
    assert len(back) == N, livematte_args
    err = np.abs(np.stack(back)[..., 3].astype(int) - frames[..., 3])
    assert err.mean() < 2 and np.percentile(err, 99) < 16, f"{codec}: the alpha did not survive"
