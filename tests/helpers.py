"""Paths and real images shared by the tests."""
from __future__ import annotations

import glob
import os

import cv2
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(REPO, "samples")
SHARED = os.path.join(os.path.dirname(REPO), "shared", "data")
PERSON_PHOTOS = sorted(glob.glob(os.path.join(SHARED, "person-unlabeled", "images", "*.jpg")))


def read_rgb(path: str) -> np.ndarray:
    """RGB uint8 (H, W, 3) of an image file."""
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    assert bgr is not None, path
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def sample_frame(index: int = 30) -> np.ndarray:
    """One RGB frame of the shipped sample clip (a real person)."""
    import av

    with av.open(os.path.join(SAMPLES, "person.mp4")) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i == index:
                return f.to_ndarray(format="rgb24")
    raise AssertionError("sample too short")


def small_clip(path: str, width: int, height: int, frames: int) -> str:
    """Write the first ``frames`` frames of the sample clip, scaled to ``width`` x ``height``, as H.264 ``path``."""
    import av

    with av.open(os.path.join(SAMPLES, "person.mp4")) as src, av.open(path, "w") as dst:
        stream = dst.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i, frame in enumerate(src.decode(video=0)):
            if i == frames:
                break
            dst.mux(stream.encode(frame.reformat(width, height, "yuv420p")))
        dst.mux(stream.encode())
    return path


def real_images() -> list:
    """Real photos of people: the sample clip's frame, plus the shared photos when present."""
    return [("sample", sample_frame())] + [(os.path.basename(p), read_rgb(p)) for p in PERSON_PHOTOS]


def slowdown(cpu_seconds: float = 0.05) -> float:
    """How many times longer than its CPU time a busy loop in this thread takes now (at least 1).

    About 1 on an idle machine; about N when N runnable threads share each core. Timing tests
    multiply a deadline stated for an idle machine by it, so a loaded machine slows the deadline
    as much as it slows the work: the same bound when idle, no false failure under load.
    """
    import time

    t0, c0 = time.perf_counter(), time.thread_time()
    while time.thread_time() - c0 < cpu_seconds:
        pass
    return max(1.0, (time.perf_counter() - t0) / (time.thread_time() - c0))


def x264_options(path) -> dict:
    """The settings libx264 wrote into a video file (its SEI message in the first packets), read back
    with PyAV: ``{"bframes": "0", "threads": "1", ...}``."""
    import re

    import av

    with av.open(str(path)) as c:
        for _, packet in zip(range(5), c.demux(video=0)):
            data = bytes(packet)
            m = re.search(rb"x264 - core .*? options: ([ -~]*)", data)
            if m:
                return dict(kv.split("=", 1) for kv in m.group(1).decode().split() if "=" in kv)
    raise AssertionError(f"{path}: no x264 settings in its first packets")
