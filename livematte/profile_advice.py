"""Which quality profile suits this machine (``livematte doctor``), from a ~2-second measurement.

Frames of the shipped sample, scaled to 1280x720 (a webcam), go through ``balanced`` and ``fast``
with the blur background, one frame at a time as ``cam`` runs them. Per profile: process CPU per
frame (all threads) and wall time per frame. At 30 fps a frame has :data:`FRAME_MS`; the machine
has ``cores * FRAME_MS`` of CPU per frame. The decision uses CPU time (the matte runs on one thread
per frame, so on an idle core its CPU time is about its wall time; wall time on a busy machine
says more about the other programs than about livematte, and is only reported). :func:`advise`:

* ``balanced`` when its CPU per frame is at most :data:`BALANCED_CORE` of the frame time and
  livematte would use at most :data:`BALANCED_SHARE` of the machine (the call app needs the rest);
* ``fast`` when ``fast`` fits in the frame time and in :data:`FAST_SHARE` of the machine;
* else ``fast`` with a smaller camera mode or rate.

``best`` is for files on any machine (it is slower, not live).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import List, Optional, Tuple

FRAME_MS = 1000.0 / 30
BALANCED_CORE, BALANCED_SHARE = 0.75, 0.5
FAST_SHARE = 0.75
#: the measurement's time per profile (seconds, after a short warm-up)
SECONDS = 0.9


@dataclass
class Cost:
    """One profile's measured cost per frame."""

    profile: str
    cpu_ms: float
    wall_ms: float
    frames: int

    def share(self, cores: int) -> float:
        """The fraction of the machine's CPU it takes at 30 fps."""
        return self.cpu_ms / (max(cores, 1) * FRAME_MS)


def sample_frames(n: int = 30, size: Tuple[int, int] = (1280, 720)) -> list:
    """The first ``n`` frames of the checkout's sample clip at ``size`` (LivematteError without it)."""
    import av
    import cv2

    from .checkout import sample_path

    path = sample_path("person.mp4", hint="doctor measures on it")
    frames = []
    with av.open(path) as c:
        for f in c.decode(video=0):
            frames.append(cv2.resize(f.to_ndarray(format="rgb24"), size, interpolation=cv2.INTER_AREA))
            if len(frames) == n:
                break
    return frames


def measure(profile: str, frames: list, seconds: float = SECONDS) -> Cost:
    """``profile``'s CPU and wall milliseconds per frame over ``frames`` (looped up to ``seconds``)."""
    from .api import frame_path
    from .config import Config
    from .cpu_meter import process_cpu
    from .types import Frame

    cfg = Config()
    cfg.override("quality", profile=profile)
    matter, effect = frame_path(cfg)
    for image in frames[:3]:  # warm-up: first-call allocations
        effect.apply(image, matter(Frame(image=image)))
    matter.reset()
    n, cpu, start = 0, process_cpu(), time.perf_counter()
    while time.perf_counter() - start < seconds or n < 3:
        image = frames[n % len(frames)]
        effect.apply(image, matter(Frame(image=image, index=n)))
        n += 1
    wall = time.perf_counter() - start
    return Cost(profile, 1000 * (process_cpu() - cpu) / n, 1000 * wall / n, n)


def advise(costs: List[Cost], cores: int) -> Tuple[str, str]:
    """``(profile, why)`` for ``cam`` from the measured ``balanced`` and ``fast`` costs."""
    by = {c.profile: c for c in costs}
    b, f = by["balanced"], by["fast"]
    if b.cpu_ms <= BALANCED_CORE * FRAME_MS and b.share(cores) <= BALANCED_SHARE:
        return "balanced", (f"balanced takes {b.cpu_ms:.0f} ms CPU of the {FRAME_MS:.0f} ms a frame has at 30 fps, "
                            f"{100 * b.share(cores):.0f}% of the {cores} cores")
    if f.cpu_ms <= FRAME_MS and f.share(cores) <= FAST_SHARE:
        return "fast", (f"balanced would take {100 * b.share(cores):.0f}% of the {cores} cores at 30 fps "
                        f"({b.cpu_ms:.0f} ms CPU per frame), fast {100 * f.share(cores):.0f}% ({f.cpu_ms:.0f} ms)")
    return "fast", (f"even fast takes {f.cpu_ms:.0f} ms CPU per frame ({100 * f.share(cores):.0f}% of the {cores} "
                    "cores at 30 fps): also ask the camera for less, e.g. --size 640x360 or --fps 15")
