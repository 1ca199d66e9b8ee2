"""Runs frames from a source through a Matter and an effect into sinks, for files.

Threads overlap the work: one decodes, the calling thread computes the matte and the effect, one
encodes. A matter with ``front``/``back`` halves (:class:`~livematte.matter.Matter`) gets a fourth:
the calling thread runs the front half (model runs) of frame t+1 while another runs the back half
(refinement, smoothing) of frame t. Queues are bounded and file mode never drops a frame. Ctrl-C
(KeyboardInterrupt) stops reading, writes every frame already computed, and finishes each sink,
so what was processed plays.
"""
from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Optional

import cv2
import numpy as np

from . import signals
from .engine import as_numpy
from .lookahead import LookaheadMatter, matte_now, matte_rest
from .matter import Matter
from .types import Frame, LivematteError, Sink, StreamInfo
from .worker import END as _END
from .worker import Worker


@dataclass
class Output:
    """A sink and what it receives.

    Attributes:
        sink: where pictures go.
        kind: ``picture`` (the effect's output), ``alpha`` (uint8 grey ``(H, W)``) or
            ``alpha_rgb`` (the alpha as grey RGB ``(H, W, 3)``, for encoders without grey input).
    """

    sink: Sink
    kind: str = "picture"


@dataclass
class RunStats:
    """What a run did."""

    frames: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    warnings: List[str] = field(default_factory=list)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def _select(kind: str, picture: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    if kind == "picture":
        return picture
    alpha = as_numpy(alpha)  # a device tensor on the torch engine
    a8 = cv2.convertScaleAbs(alpha, alpha=255.0)  # (H, W) uint8, rounded
    return a8 if kind == "alpha" else cv2.merge((a8, a8, a8))


class _Reader(threading.Thread):
    """Decodes ahead into a bounded queue; stops early when told."""

    def __init__(self, frames: Iterable[Frame], depth: int = 4):
        super().__init__(daemon=True, name="livematte-read")
        self.frames, self.q, self.stop = frames, queue.Queue(maxsize=depth), threading.Event()
        self.error: Optional[BaseException] = None

    def run(self) -> None:
        try:
            for frame in self.frames:
                while not self.stop.is_set():
                    try:
                        self.q.put(frame, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if self.stop.is_set():
                    break
        except BaseException as err:  # handed to the main thread
            self.error = err
        finally:
            self.q.put(_END)


class _Writer(Worker):
    """Hands computed pictures to every output in order; applies the effect first when given one
    (then the effect and the encoder share this thread, and the matte has the other to itself).

    An output whose sink fails to write (``LivematteError``: a full disk) fails alone: it is
    aborted, kept in ``failed`` (index -> error) and skipped from then on; the others go on
    (when every output has failed, the error ends the run)."""

    def __init__(self, outputs: List[Output], effect=None, depth: int = 4):
        super().__init__("livematte-write", depth, self._write)
        self.outputs, self.effect = outputs, effect
        self.failed: Dict[int, LivematteError] = {}

    def _write(self, item) -> None:
        frame, picture, alpha = item
        if self.effect is not None:
            picture = self.effect.apply(frame.image, alpha)
        for index, out in enumerate(self.outputs):
            if index in self.failed:
                continue
            try:
                out.sink.write(_select(out.kind, picture, alpha), frame)
            except LivematteError as err:
                self.failed[index] = err
                out.sink.abort()
                if len(self.failed) == len(self.outputs):
                    raise


class _Back(Worker):
    """Runs the matter's back half (and the effect, unless the writer applies it) in frame order,
    handing ``(frame, picture, alpha)`` to the writer; an item ``(None, _REST)`` hands out what a
    look-ahead matter still holds."""

    def __init__(self, back: Callable, rest: Callable, effect, writer: _Writer, depth: int = 2):
        super().__init__("livematte-back", depth, self._back)
        self.back, self.rest, self.effect, self.writer = back, rest, effect, writer

    def _back(self, item) -> None:
        frame, state = item
        for frame, alpha in (self.rest() if state is _REST else self.back(frame, state)):
            picture = None if self.effect is None else self.effect.apply(frame.image, alpha)
            self.writer.q.put((frame, picture, alpha))


_REST = object()


def _halves(matter):
    """``(front, back, rest)`` of a matter whose halves may run on two threads (the numpy engine),
    ``back(frame, state)`` and ``rest()`` returning ``(frame, alpha)`` pairs; else None (any other
    callable is called whole)."""
    if isinstance(matter, LookaheadMatter) and matter.two_threads:
        return matter.front, matter.back, matter.flush
    if isinstance(matter, Matter) and matter.two_threads:
        return matter.front, lambda frame, state: [(frame, matter.back(state))], list
    return None


def run(
    frames: Iterable[Frame],
    info: StreamInfo,
    matter: Callable[[Frame], np.ndarray],
    effect,
    outputs: List[Output],
    *,
    on_frame: Optional[Callable[[int], None]] = None,
    effect_on_writer: bool = False,
) -> RunStats:
    """Process every frame of ``frames`` into ``outputs``; returns what happened.

    ``effect_on_writer`` applies the effect on the encoding thread instead of the matting thread
    (for CPU effects: on 2 cores it lifts 720p blur from ~56 to ~70 fps); the effect must then not
    depend on anything the matter mutates later.

    Each output's sink is opened here (``alpha`` = the effect's pictures carry alpha) and closed
    at the end, also after Ctrl-C; on any other error the sinks are aborted (no partial file is
    left under the requested name) and the error is raised. An output that fails to write fails
    alone (see :class:`_Writer`): the others are finished, then a ``LivematteError`` names it.
    """
    stats = RunStats()
    opened: List[Output] = []
    try:
        for out in outputs:
            out.sink.open(info, alpha=bool(effect.alpha) and out.kind == "picture")
            opened.append(out)
    except BaseException:
        for out in opened:
            out.sink.abort()
        raise
    reader, writer = _Reader(frames), _Writer(outputs, effect if effect_on_writer else None)
    halves = _halves(matter)
    back = _Back(halves[1], halves[2], None if effect_on_writer else effect, writer) if halves else None
    start = time.perf_counter()
    reader.start()
    writer.start()
    if back is not None:
        back.start()
    failed: Optional[BaseException] = None
    try:
        while True:
            frame = reader.q.get()
            if frame is _END:
                break
            if back is not None:
                back.q.put((frame, halves[0](frame)))
            else:
                _hand_on(matte_now(matter, frame), effect, effect_on_writer, writer)
            stats.frames += 1
            if on_frame is not None:
                on_frame(1)
            if writer.error is not None or (back is not None and back.error is not None):
                break
    except KeyboardInterrupt:
        stats.interrupted = True
    except BaseException as err:
        failed = err
    with signals.shield():  # a second Ctrl-C (or a SIGTERM) now waits for the outputs to be finished
        reader.stop.set()
        if failed is None and back is not None:  # frames a look-ahead still holds
            back.q.put((None, _REST))
        elif failed is None:
            try:
                _hand_on(matte_rest(matter), effect, effect_on_writer, writer)
            except BaseException as err:
                failed = err
        if back is not None:  # it finishes the frames already started, then ends the writer
            back.q.put(_END)
            back.join()
        writer.q.put(_END)
        writer.join()
        stats.seconds = time.perf_counter() - start
        failed = failed or (back.error if back is not None else None) or writer.error or reader.error
        if failed is not None:
            for out in outputs:
                out.sink.abort()
            raise failed
        _close(outputs, writer.failed, stats)
    stats.interrupted = stats.interrupted or signals.received() is not None
    return stats


def _hand_on(pairs, effect, effect_on_writer: bool, writer: _Writer) -> None:
    for frame, alpha in pairs:
        picture = None if effect_on_writer else effect.apply(frame.image, alpha)
        writer.q.put((frame, picture, alpha))


def _close(outputs: List[Output], failed: Dict[int, LivematteError], stats: RunStats) -> None:
    """Finish every output that has not failed; then one ``LivematteError`` naming those that
    failed (while writing or finishing) and the ones kept."""
    for index, out in enumerate(outputs):
        if index in failed:
            continue
        try:
            out.sink.close()
        except LivematteError as err:
            failed[index] = err
    if failed:
        kept = [outputs[i].sink.describe() for i in range(len(outputs)) if i not in failed]
        what = "; ".join(str(failed[i]) for i in sorted(failed))
        raise LivematteError(what + (f"; kept {', '.join(kept)} ({stats.frames} frames)" if kept else ""))
