"""A matter whose outputs wait for later frames: :class:`LookaheadMatter` (``quality.lookahead``,
``--quality best``; ``quality.presence_window``), and the two calls every file consumer uses for any
matter (:func:`matte_now`, :func:`matte_rest`).

``LookaheadMatter`` runs a :class:`~livematte.matter.Matter`, then the look-ahead smoother
(:class:`~livematte.stages.lookahead.LookaheadSmoother`, with ``lookahead``) and the presence
window (:class:`~livematte.subject.presence.PresenceWindow`, with ``presence_window`` and a person
detector: whether anyone is there is decided with later frames, the matte's gain applied last):
frames go in one by one, ``(frame, alpha)`` pairs come out in order, up to ``max(2 * lookahead,
presence_window)`` frames later, the rest at :meth:`flush`. The user's mask options (threshold,
grow, feather) are applied after both.
The file pipeline, ``eval`` and ``bench`` use it; live paths have no future frames
(:func:`livematte.profiles.for_live`).
"""
from __future__ import annotations

from typing import List, Tuple

from .matter import Matter, build_matter
from .stages.lookahead import LookaheadSmoother, small_grey
from .stages.mask import MaskOptions, shape_mask
from .subject.presence import PresenceWindow
from .types import Frame

#: the presence window holds at most this many bytes of frames and mattes (8-bit RGB + float32
#: alpha: 32 frames up to 1080p; fewer frames for larger pictures)
WINDOW_BYTES = 512 << 20


class LookaheadMatter:
    """``push(frame)`` -> the ``(frame, alpha)`` pairs finished now; ``flush()`` -> the rest.

    ``front`` / ``back`` split it like a :class:`~livematte.matter.Matter` for the file pipeline's
    two threads (``back(frame, state)`` returns pairs). Calling it on one frame (``matter(frame)``:
    a still image, the frame-by-frame API) is the inner matter alone, with its causal presence gate:
    there is no future to use.
    """

    def __init__(self, matter: Matter):
        self.matter = matter
        self.engine, self.ops, self.quality = matter.engine, matter.ops, matter.quality
        q = matter.quality
        self.stage = LookaheadSmoother(matter.ops, q.lookahead, flow_width=q.flow_width) if q.lookahead > 0 else None
        self.window = None
        if q.presence_window > 0 and matter.planner.presence is not None:
            self.window = PresenceWindow(q.presence_window, matter.planner.presence.fade)
        self.mask, matter.mask = matter.mask, MaskOptions()  # the mask options after the look-ahead
        self._frames: List = []  # frames whose alpha the smoother still holds
        self._held: List = []  # (frame, alpha) waiting for the presence window
        self._sized = False

    @property
    def lookahead(self) -> int:
        return 0 if self.stage is None else self.stage.lookahead

    @property
    def two_threads(self) -> bool:
        return self.matter.two_threads

    def describe(self) -> str:
        parts = [self.matter.describe()]
        if self.stage is not None:
            parts.append(f"look-ahead {self.lookahead} frames")
        if self.window is not None:
            parts.append(f"presence decided over {self.window.window} later frames")
        return ", ".join(parts)

    def front(self, frame):
        self.matter.planner.deferred = self.window is not None  # the window empties the matte
        return self.matter.front(frame)

    def back(self, frame, state) -> List[Tuple[object, object]]:
        """The back half of ``frame`` (``state`` = ``front(frame)``), then the look-ahead and the
        presence window: the pairs finished now."""
        alpha = self.matter.back(state)
        image = frame.image if isinstance(frame, Frame) else frame
        if self.window is not None:
            if not self._sized:  # the window's length within WINDOW_BYTES (decided on the first frame)
                self._sized = True
                self.window.window = min(self.quality.presence_window, max(1, WINDOW_BYTES // (7 * image.shape[0] * image.shape[1])))
            self.window.push(bool(state.present), state.cut)
        if self.stage is None:
            return self._hand_out([alpha], [frame])
        self._frames.append(frame)
        return self._hand_out(self.stage.push(alpha, small_grey(image, self.stage.flow_width), state.cut))

    def push(self, frame) -> List[Tuple[object, object]]:
        return self.back(frame, self.front(frame))

    def flush(self) -> List[Tuple[object, object]]:
        """Every waiting frame, finished (the end of the file)."""
        return self._hand_out(self.stage.flush() if self.stage is not None else [], end=True)

    def __call__(self, frame):
        self.matter.planner.deferred = False  # no future: the causal gate empties the matte
        return self._finish(self.matter(frame))

    def _finish(self, alpha):
        alpha = shape_mask(self.ops, alpha, self.mask)
        if self.matter.output == "engine" or self.engine.name == "numpy":
            return alpha
        return self.engine.download(alpha, copy=True)

    def _hand_out(self, alphas: list, frames: list = None, end: bool = False) -> List[Tuple[object, object]]:
        """The smoother's finished ``alphas`` (of the oldest waiting frames, or of ``frames``) ->
        the pairs the presence window lets go now (all of them at the ``end``)."""
        if frames is None:
            frames, self._frames = self._frames[:len(alphas)], self._frames[len(alphas):]
        pairs = list(zip(frames, alphas))
        if self.window is None:
            return [(f, self._finish(a)) for f, a in pairs]
        self._held.extend(pairs)
        n = len(self._held) if end else min(len(self._held), self.window.ready())
        gains = self.window.flush() if end else self.window.take(n)
        done, self._held = self._held[:n], self._held[n:]
        return [(f, self._finish(a if g >= 1.0 else a * g if g > 0.0 else self.matter.empty_matte(a.shape[:2])))
                for (f, a), g in zip(done, gains)]

    def reset(self) -> None:
        self.matter.reset()
        if self.stage is not None:
            self.stage.reset()
        if self.window is not None:
            self.window.reset()
        self._frames, self._held, self._sized = [], [], False


def with_lookahead(matter):
    """``matter`` wrapped in a :class:`LookaheadMatter` when its ``quality.lookahead`` or its
    ``quality.presence_window`` (with a person detector) asks for it."""
    if isinstance(matter, Matter) and (matter.quality.lookahead > 0 or (
            matter.quality.presence_window > 0 and matter.planner.presence is not None)):
        return LookaheadMatter(matter)
    return matter


def file_matter(config=None, **options):
    """:func:`~livematte.matter.build_matter` for files: with the look-ahead when the config asks."""
    return with_lookahead(build_matter(config, **options))


def matte_now(matter, frame) -> list:
    """The ``(frame, alpha)`` pairs finished after giving ``frame`` to any matter (one for an
    ordinary matter, zero or more for a :class:`LookaheadMatter`)."""
    if isinstance(matter, LookaheadMatter):
        return matter.push(frame)
    return [(frame, matter(frame))]


def matte_rest(matter) -> list:
    """The pairs still waiting at the end of a source (none for an ordinary matter)."""
    return matter.flush() if isinstance(matter, LookaheadMatter) else []
