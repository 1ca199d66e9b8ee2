"""An image pyramid of exact 2x area means, from which model inputs are cut.

A person who fills a small part of the frame covers few of the model's input pixels; the subject
crop is cut out of the frame at about the model's resolution from the coarsest level still at
least that size (so at most twice it), then finished bilinearly (a factor below 2, where bilinear
barely aliases).
"""
from __future__ import annotations

import threading
import weakref
from typing import List, Optional, Tuple

from ..subject.geometry import pyramid_region


class Pyramid:
    """Area-averaged 2x reductions of a frame (8-bit values kept, rounded as OpenCV does).

    Args:
        ops: the engine's array layer.
        image: RGB 8-bit ``(H, W, 3)`` engine array.
        smallest: stop halving once a level's shorter side is below this.
        levels: levels already made (by a captured front stage) instead of ``image``.
    """

    def __init__(self, ops, image=None, smallest: int = 128, *, levels: Optional[List] = None):
        self.ops = ops
        if levels is not None:
            self.levels = list(levels)
            return
        self.levels = [image]  # each (h, w, 3)
        while min(self.levels[-1].shape[:2]) >= 2 * smallest:
            self.levels.append(ops.half_area(self.levels[-1]))

    @property
    def thumb(self):
        """The smallest level, 8-bit ``(h, w, 3)`` with its shorter side in 128..255."""
        return self.levels[-1]

    def resize(self, box: Tuple[int, int, int, int], size: Tuple[int, int]):
        """Frame region ``box`` (integer frame pixels) at ``size`` = (h, w): 8-bit ``(h, w, 3)``."""
        k, ya, yb, xa, xb = pyramid_region(box, size, len(self.levels))
        return self.ops.resize_linear(self.levels[k][ya:yb, xa:xb], size)


class LevelShelf:
    """The pyramid levels made of the last few frames, for later stages of the same frames (the
    blur's halvings: :class:`livematte.effects.blur.Blur`), so that no level is made twice.

    Keyed by the frame's engine image itself (a weak reference: an entry ends with its frame) and
    bounded to ``size`` frames; safe across the file pipeline's threads. Only levels that stay
    valid go on it (not a captured graph's buffers, which its next call overwrites).
    """

    def __init__(self, size: int = 4):
        self.size = size
        self._lock = threading.Lock()
        self._items: List[Tuple[weakref.ref, List]] = []

    def put(self, image, levels) -> None:
        """Keep ``levels`` (``levels[0]`` is ``image``; each the 2x area mean of the one before)."""
        try:
            ref = weakref.ref(image)
        except TypeError:  # an array type without weak references: nothing is kept
            return
        with self._lock:
            self._items = [(r, lv) for r, lv in self._items if r() is not None and r() is not image][-(self.size - 1):]
            self._items.append((ref, list(levels[1:])))  # not the image itself: the entry ends with it

    def get(self, image) -> Optional[List]:
        """The levels kept for this very ``image`` object (``image`` first), or None."""
        with self._lock:
            for ref, levels in self._items:
                if ref() is image:
                    return [image, *levels]
        return None


#: the shelf the matter's front fills and the effects read
SHELF = LevelShelf()
