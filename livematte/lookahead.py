"""A matter whose outputs wait for later frames: :class:`LookaheadMatter` (``quality.lookahead``,
``--quality best``), and the two calls every file consumer uses for any matter (:func:`matte_now`,
:func:`matte_rest`).

``LookaheadMatter`` runs a :class:`~livematte.matter.Matter` and then the look-ahead smoother
(:class:`~livematte.stages.lookahead.LookaheadSmoother`): frames go in one by one, ``(frame,
alpha)`` pairs come out in order, up to ``2 * lookahead`` frames later, the rest at :meth:`flush`.
The user's mask options (threshold, grow, feather) are applied after the look-ahead smoothing.
The file pipeline, ``eval`` and ``bench`` use it; live paths have no future frames
(:func:`livematte.profiles.for_live`).
"""
from __future__ import annotations

from typing import List, Tuple

from .matter import Matter, build_matter
from .stages.lookahead import LookaheadSmoother, small_grey
from .stages.mask import MaskOptions, shape_mask
from .types import Frame


class LookaheadMatter:
    """``push(frame)`` -> the ``(frame, alpha)`` pairs finished now; ``flush()`` -> the rest.

    ``front`` / ``back`` split it like a :class:`~livematte.matter.Matter` for the file pipeline's
    two threads (``back(frame, state)`` returns pairs). Calling it on one frame (``matter(frame)``:
    a still image, the frame-by-frame API) is the inner matter alone: there is no future to use.
    """

    def __init__(self, matter: Matter):
        self.matter = matter
        self.engine, self.ops, self.quality = matter.engine, matter.ops, matter.quality
        self.stage = LookaheadSmoother(matter.ops, matter.quality.lookahead)
        self.mask, matter.mask = matter.mask, MaskOptions()  # the mask options after the look-ahead
        self._frames: List = []

    @property
    def lookahead(self) -> int:
        return self.stage.lookahead

    @property
    def two_threads(self) -> bool:
        return self.matter.two_threads

    def describe(self) -> str:
        return f"{self.matter.describe()}, look-ahead {self.lookahead} frames"

    def front(self, frame):
        return self.matter.front(frame)

    def back(self, frame, state) -> List[Tuple[object, object]]:
        """The back half of ``frame`` (``state`` = ``front(frame)``), then the look-ahead: the
        pairs finished now."""
        alpha = self.matter.back(state)
        image = frame.image if isinstance(frame, Frame) else frame
        self._frames.append(frame)
        return self._hand_out(self.stage.push(alpha, small_grey(image, self.stage.flow_width), state.cut))

    def push(self, frame) -> List[Tuple[object, object]]:
        return self.back(frame, self.front(frame))

    def flush(self) -> List[Tuple[object, object]]:
        """Every waiting frame, finished (the end of the file)."""
        return self._hand_out(self.stage.flush())

    def __call__(self, frame):
        return self._finish(self.matter(frame))

    def _finish(self, alpha):
        alpha = shape_mask(self.ops, alpha, self.mask)
        if self.matter.output == "engine" or self.engine.name == "numpy":
            return alpha
        return self.engine.download(alpha, copy=True)

    def _hand_out(self, alphas: list) -> List[Tuple[object, object]]:
        frames, self._frames = self._frames[:len(alphas)], self._frames[len(alphas):]
        return [(f, self._finish(a)) for f, a in zip(frames, alphas)]

    def reset(self) -> None:
        self.matter.reset()
        self.stage.reset()
        self._frames = []


def with_lookahead(matter):
    """``matter`` wrapped in a :class:`LookaheadMatter` when its ``quality.lookahead`` asks for it."""
    if isinstance(matter, Matter) and matter.quality.lookahead > 0:
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
