"""Figures of a live run: rates, drops, latency per stage; the status line and ``--stats-json``.

Latency of a frame = its capture timestamp to the moment its output was handed to every sink;
p50/p95 are over the frames that went out. CPU per output frame, in all and per stage
(``cpu_ms_per_frame``, ``stage_cpu_ms_p50`` / ``_mean``, ``unattributed_cpu_ms``): see
:mod:`livematte.cpu_meter`.
"""
from __future__ import annotations

import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

from .atomic import write_text


def _pct(values: List[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else 0.0


@dataclass
class LiveStats:
    """What a live run did; :meth:`as_dict` is the ``--stats-json`` content."""

    source: str = ""
    size: tuple = (0, 0)
    fps_source: float = 0.0
    frames_in: int = 0
    frames_out: int = 0
    dropped: int = 0
    max_backlog: int = 0
    keepalive_frames: int = 0
    loops: int = 0
    losses: int = 0
    reconnects: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    stopped_by: str = ""
    latency: List[float] = field(default_factory=list)  # ms per frame out
    stages: Dict[str, List[float]] = field(default_factory=lambda: {k: [] for k in ("wait", "matte", "effect", "output")})
    outputs: List[dict] = field(default_factory=list)
    cpu: dict = field(default_factory=dict)  # livematte.cpu_meter.StageMeter.report() at the end
    warnings: List[str] = field(default_factory=list)
    lost: Optional[str] = None
    retry_in: float = 0.0
    recent_in: deque = field(default_factory=lambda: deque(maxlen=64))
    recent_out: deque = field(default_factory=lambda: deque(maxlen=64))
    #: the live budget (:mod:`livematte.live_budget`): frames out at each shed level, and level changes
    shed_frames: Dict[int, int] = field(default_factory=dict)
    shed_changes: int = 0
    shed_level: int = 0  # the level now (the status line)

    @property
    def fps_in(self) -> float:
        return self.frames_in / self.seconds if self.seconds > 0 else 0.0

    @property
    def fps_out(self) -> float:
        return self.frames_out / self.seconds if self.seconds > 0 else 0.0

    @staticmethod
    def _rate(stamps: deque, now: float) -> float:
        recent = [t for t in list(stamps) if now - t <= 1.0]  # list(): one C call, safe against the capture thread
        return (len(recent) - 1) / (recent[-1] - recent[0]) if len(recent) > 1 and recent[-1] > recent[0] else 0.0

    def as_dict(self) -> dict:
        return {
            "source": self.source, "size": list(self.size), "fps_source": round(self.fps_source, 3),
            "seconds": round(self.seconds, 3), "fps_in": round(self.fps_in, 3), "fps_out": round(self.fps_out, 3),
            "frames_in": self.frames_in, "frames_out": self.frames_out, "dropped": self.dropped,
            "max_backlog": self.max_backlog,
            "latency_ms_p50": round(_pct(self.latency, 50), 3), "latency_ms_p95": round(_pct(self.latency, 95), 3),
            "latency_ms_mean": round(float(np.mean(self.latency)) if self.latency else 0.0, 3),
            "latency_ms_max": round(max(self.latency, default=0.0), 3),
            "stage_ms_p50": {k: round(_pct(v, 50), 3) for k, v in self.stages.items()},
            "stage_ms_p95": {k: round(_pct(v, 95), 3) for k, v in self.stages.items()},
            "keepalive_frames": self.keepalive_frames, "loops": self.loops, "camera_losses": self.losses,
            "reconnects": self.reconnects, "interrupted": self.interrupted, "stopped_by": self.stopped_by,
            "outputs": self.outputs, "warnings": self.warnings,
            "shed_frames": {str(k): v for k, v in self.shed_frames.items()}, "shed_changes": self.shed_changes,
            **self.cpu,
        }

    def status_line(self) -> str:
        """One line for a terminal: rates, drops, latency per stage, and a lost camera."""
        now = time.perf_counter()
        tail = {k: v[-30:] for k, v in self.stages.items()}
        ms = " ".join(f"{k} {np.median(v):.0f}" for k, v in tail.items() if v)
        line = (f"in {self._rate(self.recent_in, now):4.1f} fps  out {self._rate(self.recent_out, now):4.1f} fps  "
                f"dropped {self.dropped}  latency {np.median(self.latency[-30:]) if self.latency else 0:.0f} ms ({ms})")
        if self.shed_level:
            line += f"  lighter work: level {self.shed_level}"
        if self.lost:
            line += f"  | SOURCE LOST ({self.lost}): sending the last frame, retry in {max(0.0, self.retry_in):.1f} s"
        return line

    def summary_line(self) -> str:
        d = self.as_dict()
        return (f"{d['frames_out']} frames out in {d['seconds']:.1f} s: in {d['fps_in']:.1f} fps, out {d['fps_out']:.1f} fps, "
                f"dropped {d['dropped']}, latency p50 {d['latency_ms_p50']:.0f} ms, p95 {d['latency_ms_p95']:.0f} ms"
                + (f", CPU {d['cpu_ms_per_frame']:.1f} ms per frame out" if self.cpu else ""))


def write_stats(path: str, stats: LiveStats) -> None:
    """Write ``stats.as_dict()`` as JSON (complete or not at all; LivematteError when it cannot)."""
    write_text(path, json.dumps(stats.as_dict(), indent=2) + "\n")
