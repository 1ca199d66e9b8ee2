"""CPU time per output frame, in all and per stage (``livematte bench``, ``livematte cam --stats-json``).

Two kinds of figure, measured over the same frames:

* **Process CPU** (``cpu_ms_per_frame``): user + system time of the whole process (every thread: the
  codec's, OpenCV's and the model runtime's helpers included) from :meth:`StageMeter.start` to
  :meth:`StageMeter.stop`, divided by the frames that went out. This is what a laptop's fan hears.
* **Per stage** (``stage_cpu_ms_p50`` / ``stage_cpu_ms_mean``): ``time.thread_time()`` deltas
  around each stage, in whichever thread runs it (the file pipeline runs the matter's front and
  back halves on two threads, the encoder on a third). A stage nested in another (the smoother
  inside the back half) is counted in its own stage only. ``p50`` is over the stage's calls;
  ``mean`` is the stage's whole time divided by the frames out (so the means add up: decode of
  frames a live run dropped still counts against the frames that went out).
  ``unattributed_cpu_ms`` = process CPU minus the stages' means: time spent in helper threads that
  no stage's own thread accounts for (FFmpeg's slice and frame threads, OpenCV's thread pool) and
  in the glue between stages.

Stages (:data:`STAGES`): ``decode`` (reading a frame from the source), ``model`` (the matter's
front half: pyramid, model runs, subject decisions), ``refine`` (the back half: guided refinement,
tile seams, attached objects, solid bodies, mask options), ``smooth`` (temporal smoothing, the
look-ahead smoother of ``--quality best`` included), ``effect`` (background and composite) and
``output`` (sinks: encoding, the virtual camera).
"""
from __future__ import annotations

import functools
import os
import threading
import time
from typing import Callable, Dict, Iterable, Iterator, List

import numpy as np

STAGES = ("decode", "model", "refine", "smooth", "effect", "output")


def process_cpu() -> float:
    """User + system CPU seconds of this process so far (all threads)."""
    t = os.times()
    return t.user + t.system


class _TimedCall:
    """A callable object (the smoother) with its calls timed; every other attribute is the object's."""

    def __init__(self, inner, meter: "StageMeter", stage: str):
        self._inner, self._call = inner, meter.timed(stage, inner)

    def __call__(self, *args, **kwargs):
        return self._call(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._inner, name)


class StageMeter:
    """Collects thread CPU time per stage and the process CPU time of a run; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._local = threading.local()
        self.samples: Dict[str, List[float]] = {s: [] for s in STAGES}
        self._cpu0 = self.cpu_s = 0.0
        self.frames = 0

    # ------------------------------------------------------------------ run
    def start(self) -> None:
        """Forget every sample (warm-up frames) and start the process clock."""
        with self._lock:
            self.samples = {s: [] for s in STAGES}
        self._cpu0 = process_cpu()

    def stop(self, frames: int) -> None:
        """Stop the process clock; ``frames`` = the frames that went out."""
        self.cpu_s, self.frames = process_cpu() - self._cpu0, frames

    # ------------------------------------------------------------------ timing
    def add(self, stage: str, seconds: float) -> None:
        with self._lock:
            self.samples[stage].append(seconds)

    def timed(self, stage: str, fn: Callable) -> Callable:
        """``fn`` with each call's thread CPU time counted in ``stage`` (less that of stages timed
        inside it, in the same thread)."""
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}; stages are {', '.join(STAGES)}")

        @functools.wraps(fn)
        def call(*args, **kwargs):
            stack = getattr(self._local, "stack", None)
            if stack is None:
                stack = self._local.stack = []
            stack.append(0.0)
            t0 = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                dt = time.thread_time() - t0
                inner = stack.pop()
                if stack:
                    stack[-1] += dt
                self.add(stage, dt - inner)

        return call

    def iterate(self, items: Iterable, stage: str = "decode") -> Iterator:
        """``items`` with the time to produce each counted in ``stage`` (a source's decoding)."""
        it = iter(items)
        step = self.timed(stage, lambda: next(it, _DONE))
        while True:
            item = step()
            if item is _DONE:
                return
            yield item

    def wrap(self, obj, method: str, stage: str):
        """Time ``obj.method`` from now on (an instance attribute over the class's method); returns ``obj``."""
        setattr(obj, method, self.timed(stage, getattr(obj, method)))
        return obj

    def instrument_matter(self, matter):
        """Time a matter's stages: a :class:`~livematte.matter.Matter`'s front half as ``model`` (its
        pose model's runs too, on whichever thread), its back half as ``refine`` and its smoother as
        ``smooth``; any other callable whole as ``model``.
        Returns the matter to call (the same object for a Matter)."""
        from .lookahead import LookaheadMatter
        from .matter import Matter

        if isinstance(matter, LookaheadMatter):
            self.instrument_matter(matter.matter)
            if matter.stage is not None:
                self.wrap(matter.stage, "push", "smooth")
                self.wrap(matter.stage, "flush", "smooth")
            return matter
        if isinstance(matter, Matter):
            self.wrap(matter, "front", "model")
            self.wrap(matter, "back", "refine")
            if matter.smoother is not None:
                matter.smoother = _TimedCall(matter.smoother, self, "smooth")
            if matter.pose is not None:  # on the CPU it runs on a thread of its own: still the model's
                matter.pose = _TimedCall(matter.pose, self, "model")
            return matter
        return _TimedMatter(matter, self)

    # ------------------------------------------------------------------ report
    def report(self) -> dict:
        """``cpu_ms_per_frame``, ``stage_cpu_ms_p50`` / ``stage_cpu_ms_mean`` (every stage, 0 when it
        did not run), ``stage_cpu_ms_sum`` (of the means) and ``unattributed_cpu_ms``."""
        n = max(self.frames, 1)
        with self._lock:
            samples = {k: list(v) for k, v in self.samples.items()}
        p50 = {k: round(1000 * float(np.median(v)), 3) if v else 0.0 for k, v in samples.items()}
        mean = {k: round(1000 * float(np.sum(v)) / n, 3) for k, v in samples.items()}
        total = 1000 * self.cpu_s / n
        attributed = float(sum(mean.values()))
        return {"cpu_ms_per_frame": round(total, 3), "stage_cpu_ms_p50": p50, "stage_cpu_ms_mean": mean,
                "stage_cpu_ms_sum": round(attributed, 3), "unattributed_cpu_ms": round(total - attributed, 3)}


_DONE = object()


class _TimedMatter:
    """A matter that is not a :class:`~livematte.matter.Matter` (a test stand-in), timed whole."""

    def __init__(self, inner, meter: StageMeter):
        self._inner, self._call = inner, meter.timed("model", inner)

    def __call__(self, frame):
        return self._call(frame)

    def __getattr__(self, name):
        return getattr(self._inner, name)


def format_stages(report: dict) -> str:
    """One line: ``decode 2.1 / model 18.0 / ...`` (mean CPU ms per frame) and the rest."""
    mean = report["stage_cpu_ms_mean"]
    parts = " / ".join(f"{k} {mean[k]:.1f}" for k in STAGES)
    return f"{parts} / other {report['unattributed_cpu_ms']:.1f} ms"
