"""Shared pytest fixtures: small synthetic videos made with PyAV in temporary directories."""
from __future__ import annotations

import itertools
import math
import os
from fractions import Fraction
from pathlib import Path
from typing import Callable, Optional, Sequence, Tuple

import numpy as np
import pytest

# torch's OpenMP threads (libgomp) spin between parallel regions by default. With the suite's other
# threads (pipelines, cameras, servers) and other processes on 2 cores, the spinning starves the
# thread doing the work: a random-weight RVM frame took 10x the wall time (0.08 -> 1.0 s at load 13)
# and 8x the CPU of the same frame with the threads asleep while they wait. Read when torch first
# loads (nothing imports it before this file), in this process and the CLI children the tests
# start; a value already in the environment wins. It changes no result, only how threads wait.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def pattern_frame(index: int, size: Tuple[int, int] = (160, 120)) -> np.ndarray:
    """RGB uint8 ``(H, W, 3)``: a colour gradient with a white square moving right by 4 px a frame.

    Frames differ from each other, and the square's position tells which frame it is.
    """
    w, h = size
    y, x = np.mgrid[0:h, 0:w]
    image = np.empty((h, w, 3), np.uint8)
    image[..., 0] = (x * 255 // max(1, w - 1)).astype(np.uint8)
    image[..., 1] = (y * 255 // max(1, h - 1)).astype(np.uint8)
    image[..., 2] = (index * 8) % 256
    side = max(4, min(w, h) // 4)
    x0 = (index * 4) % max(1, w - side)
    y0 = (h - side) // 2
    image[y0:y0 + side, x0:x0 + side] = 255
    return image


def write_video(path: Path, *, n: int = 30, size: Tuple[int, int] = (160, 120),
                fps: "int | Fraction" = 30, audio: bool = True, codec: str = "libx264",
                pix_fmt: Optional[str] = None, time_base: Optional[Fraction] = None,
                pts: Optional[Sequence[int]] = None, container_options: Optional[dict] = None,
                frames: Optional[Sequence[np.ndarray]] = None,
                codec_options: Optional[dict] = None) -> Path:
    """Encode ``n`` pattern frames (or the given RGB/RGBA ``frames``) into ``path``.

    Audio, when asked, is a 440 Hz tone as long as the video (AAC, or Opus for .webm).
    ``pts`` (in ``time_base``, default ``1/fps``) allows variable frame rates.
    ``codec_options`` replace the encoder options (default: fast, no B-frames).
    """
    import av

    fps = Fraction(fps)
    time_base = time_base or 1 / fps
    if frames is not None:
        n = len(frames)
    w, h = size
    with av.open(str(path), mode="w", options=container_options or {}) as out:
        options = {"preset": "ultrafast", "crf": "23"} if codec == "libx264" else {}
        if codec == "libvpx-vp9":
            options = {"deadline": "realtime", "cpu-used": "8"}
        if codec_options is not None:
            options = codec_options
        video = out.add_stream(codec, rate=fps, options=options)
        video.width, video.height = w, h
        video.pix_fmt = pix_fmt or ("yuv420p" if codec in ("libx264", "libvpx-vp9") else
                                    video.codec_context.codec.video_formats[0].name)
        video.codec_context.time_base = time_base
        video.time_base = time_base
        sound = None
        if audio:
            acodec = "libopus" if str(path).endswith(".webm") else "aac"
            sound = out.add_stream(acodec, rate=48000, layout="stereo")
        for i in range(n):
            image = frames[i] if frames is not None else pattern_frame(i, size)
            fmt = "rgba" if image.shape[2] == 4 else "rgb24"
            frame = av.VideoFrame.from_ndarray(image, format=fmt)
            frame.pts = pts[i] if pts is not None else i
            frame.time_base = time_base
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
        if sound is not None:
            samples = int(48000 * n / fps)
            t = np.arange(samples) / 48000
            tone = (0.3 * np.sin(2 * math.pi * 440 * t)).astype(np.float32)
            for start in range(0, samples, 960):
                chunk = tone[start:start + 960]
                data = np.ascontiguousarray(np.repeat(chunk, 2)[None, :])  # packed: L R L R ...
                frame = av.AudioFrame.from_ndarray(data, format="flt", layout="stereo")
                frame.sample_rate = 48000
                frame.pts = start
                frame.time_base = Fraction(1, 48000)
                for packet in sound.encode(frame):
                    out.mux(packet)
            for packet in sound.encode(None):
                out.mux(packet)
    return Path(path)


@pytest.fixture
def make_video(tmp_path) -> Callable[..., Path]:
    """Factory: ``make_video(name="clip.mp4", **write_video_options) -> Path`` in ``tmp_path``."""
    counter = itertools.count()

    def factory(name: Optional[str] = None, **kwargs) -> Path:
        path = tmp_path / (name or f"clip{next(counter)}.mp4")
        return write_video(path, **kwargs)

    return factory
