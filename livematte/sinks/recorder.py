"""Live outputs that are not devices: a recording on its own thread, and the null sink.

:class:`Recorder` runs a file sink (:class:`~livematte.sinks.video.VideoFileSink`) on its own
thread behind a bounded queue: when the encoder falls behind, frames are left out of that
recording (counted in ``dropped``) and the live output never waits. Frames are stamped with their
capture time (:data:`RECORD_TIME_BASE`), so a recording plays in real time even across drops.

A live recording is encoded for the live run (:data:`LIVE_ENCODER`: ``cam``'s ``[output] live_preset``,
``superfast`` by default, tuned for zero latency on one encoder thread: ~15 ms of CPU a 720p frame
where the files' ``veryfast`` takes ~25-35 ms), and its thread runs at a lower priority
(:data:`LIVE_NICE`): when the two cores are short, the recording is the one that leaves frames out,
not the call.

A recording that fails (a full disk) fails alone when its sink can ``salvage`` (a video file, written
as fragments): what was recorded before the fault is kept and plays, :attr:`Recorder.failure` says so
in one line, later frames are left out, and the live run goes on with its other outputs.
"""
from __future__ import annotations

import os
import queue
import sys
import threading
from dataclasses import replace
from fractions import Fraction
from typing import Optional

import cv2
import numpy as np

from ..types import Frame, LivematteError, StreamInfo
from ..worker import END, Worker
from .base import LiveSink, Sink
from .vcam import as_rgb

RECORD_TIME_BASE = Fraction(1, 1000)  # recordings are stamped with capture time in ms
#: the encoder settings of a live recording besides its preset: no look-ahead, no B-frames, no
#: frame threads (x264 encodes on the recording's own thread, in step with the frames it gets)
LIVE_ENCODER = {"tune": "zerolatency", "threads": 1}
#: how much nicer (Linux scheduling priority) a live recording's thread is than the matting
LIVE_NICE = 5


def lower_priority(nice: int) -> bool:
    """Make the calling thread ``nice`` steps nicer (Linux: per thread); False where it cannot."""
    if nice <= 0 or not sys.platform.startswith("linux"):
        return False
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except OSError:
        return False
    return True


class NullSink(LiveSink):
    """Discards pictures (``--to null``): for measuring. ``frames``: how many it was given."""

    def __init__(self) -> None:
        self.frames = 0

    def write(self, picture: np.ndarray, frame: Optional[Frame]) -> None:
        self.frames += 1

    def describe(self) -> str:
        return "null"


def fit_picture(picture: np.ndarray, alpha: bool) -> np.ndarray:
    """Make an effect's output match what a sink was opened for (RGBA if ``alpha``, else RGB)."""
    if alpha:
        return picture if picture.ndim == 3 and picture.shape[2] == 4 else cv2.cvtColor(as_rgb(picture), cv2.COLOR_RGB2RGBA)
    return as_rgb(picture)


class Recorder(LiveSink):
    """Runs a file sink on its own thread behind a bounded queue (full: this recording drops the frame,
    counted in ``dropped``); the sink's first write error becomes ``error``."""

    def __init__(self, sink: Sink, depth: int = 8, close_timeout: Optional[float] = None, fail_alone: bool = False,
                 nice: int = 0):
        """``close_timeout``: seconds to wait at close for a consumer that has stopped reading (a
        stalled pipe or network peer) before giving up on it; None waits for every queued frame.
        ``fail_alone``: a write or finish error (``LivematteError``) does not end the live run: the sink
        keeps what it can (:meth:`~livematte.sinks.base.Sink.salvage`) and :attr:`failure` says so.
        ``nice``: the thread runs this many steps nicer than the live loop (Linux; :data:`LIVE_NICE`)."""
        self.sink, self.depth, self.close_timeout, self.fail_alone = sink, depth, close_timeout, fail_alone
        self.nice = nice
        self.niced = False  # whether the thread's priority was lowered
        self._priority_set = False
        self.dropped = 0
        self.alpha = False
        self.failure: Optional[str] = None
        self._thread: Optional[Worker] = None
        self._error: Optional[BaseException] = None

    def open(self, info: StreamInfo, alpha: bool = False) -> None:
        self.alpha = alpha
        self.sink.open(replace(info, time_base=RECORD_TIME_BASE), alpha)
        self._thread = Worker("livematte-record", self.depth, self._write)
        self._thread.start()

    def _write(self, item) -> None:
        if not self._priority_set:  # on the recording's own thread
            self._priority_set, self.niced = True, lower_priority(self.nice)
        if self.failure is not None:
            return
        try:
            self.sink.write(fit_picture(item[0], self.alpha), item[1])
        except LivematteError as err:
            if not self.fail_alone:
                raise
            self._failed(err, self.sink.salvage())

    def _failed(self, err: LivematteError, kept: int) -> None:
        what = f"kept the first {kept} frames, playable" if kept else "nothing could be kept"
        self.failure = f"{err}; {what} (the recording stopped there, the other outputs went on)"

    @property
    def error(self) -> Optional[BaseException]:
        """The sink's first write error, if any (kept after close)."""
        return self._thread.error if self._thread is not None else self._error

    def write(self, picture: np.ndarray, frame: Frame) -> None:
        try:
            self._thread.q.put_nowait((picture, frame))
        except queue.Full:
            self.dropped += 1

    def _join(self) -> bool:
        """Let the thread finish what is queued; False when it is still stuck after ``close_timeout``."""
        if self._thread is not None:
            try:
                self._thread.q.put(END, timeout=self.close_timeout)
            except queue.Full:
                return False
            self._thread.join(self.close_timeout)
            if self._thread.is_alive():
                return False
            self._error, self._thread = self._thread.error, None
        return True

    def close(self) -> None:
        """Encode what is queued and finish the file."""
        if not self._join():
            raise LivematteError(f"{self.describe()}: stopped taking frames; gave up after {self.close_timeout:g} s")
        if self.failure is not None:
            return
        try:
            self.sink.close()
        except LivematteError as err:
            if not self.fail_alone:
                raise
            self.failure = f"{err} (the other outputs went on)"

    def abort(self) -> None:
        """Stop the thread (what is queued is still written) and abort the sink."""
        self._join()
        self.sink.abort()

    def describe(self) -> str:
        """The wrapped sink's own description (its file, URL or ``stdout``)."""
        return self.sink.describe()
