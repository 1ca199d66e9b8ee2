"""When the matter's front runs which model: the full-frame search pass (left out on still frames,
``quality.search_every``, and while idle, ``quality.idle_every``) and the models at all
(``quality.model_every``: a still picture reuses the last run's outputs). Host-side, on both engines;
:class:`livematte.matter.Matter` asks it before each frame and tells it what the planner decided after."""
from __future__ import annotations

from typing import Optional, Tuple

import cv2
import numpy as np

Box = Tuple[int, int, int, int]

#: the search pass's stillness test (:func:`still_outside`): a thumbnail pixel has changed when its
#: brightness moved by more than STILL_LEVEL (8-bit), the scene is still when at most STILL_SHARE of
#: the pixels outside the person's box (grown by STILL_GROW of the frame's shorter side) changed
STILL_LEVEL, STILL_SHARE, STILL_GROW = 24, 0.003, 0.02
#: frames in a row with nobody in view before the matter idles (``quality.idle_every``)
IDLE_AFTER = 5
#: ``quality.model_every``: a frame is still when its mean brightness (8-bit levels, on a 1/16 grid)
#: differs by less than this from the frame the models last ran on
STILL_LEVELS = 2.0


class FrontSchedule:
    """The front's cadence: which frames run the search pass, which idle, which reuse the models.

    Args:
        quality: the ``[quality]`` options (``search_every``, ``idle_every``, ``model_every``).
        tracking: whether a crop tracker is there (without one every frame is searched).
        crop_pass: whether the backend takes the crop pass (without it the matter never idles).
    """

    def __init__(self, quality, *, tracking: bool = True, crop_pass: bool = True):
        #: the full-frame search pass may be left out on still frames (``quality.search_every``)
        self.search_every = int(quality.search_every) if tracking else 1
        self.idle_every = int(quality.idle_every) if crop_pass else 1
        self.model_every = int(quality.model_every)
        self._ref: Optional[np.ndarray] = None  # the thumbnail at the last search pass (host uint8)
        self._prev: Optional[np.ndarray] = None  # the previous frame's thumbnail
        self._since = 0  # frames since the last search pass
        self._still = False  # the last frame showed nothing changed outside the person
        self._nobody = 0  # frames in a row with nobody in view
        self._still_ref: Optional[np.ndarray] = None  # model_every: the small brightness at the last model run
        self._runs_skipped = 0

    @property
    def watches_still(self) -> bool:
        """Whether :meth:`planned` wants the frame's thumbnail (the search pass may be left out)."""
        return self.search_every > 1

    @property
    def reuses_search(self) -> bool:
        """Whether some frames may leave the search pass out (still frames, or idling)."""
        return self.search_every > 1 or self.idle_every > 1

    @property
    def idle(self) -> bool:
        """Nobody in view for IDLE_AFTER frames in a row (no person blob, or the presence gate
        says nobody): the search pass runs every ``idle_every``th frame and the matte is empty,
        until a search pass finds someone (on that frame the matter works as usual)."""
        return self.idle_every > 1 and self._nobody >= IDLE_AFTER

    def search_now(self, crop: Optional[Box]) -> bool:
        """Whether the full-frame search pass (the model on the whole frame) runs on this frame:
        while idle, every ``idle_every``th frame; otherwise always, except while a crop (``crop``,
        the previous frame's) tracks one person and the previous frame showed nothing changed
        outside the person's box since the last search pass (nor since the frame before), for at
        most ``search_every - 1`` frames in a row: the last search pass's probability stands in."""
        if self.idle:
            return self._since + 1 >= self.idle_every
        return not (self._still and crop is not None and self._since + 1 < self.search_every)

    def left_out(self) -> None:
        """An idle frame that left out the search pass (the planner did not see it)."""
        self._since += 1

    def planned(self, crop: Optional[Box], found, crowd: bool, gain: float, thumb: Optional[np.ndarray],
                searched: bool, frame_hw: Tuple[int, int]) -> None:
        """After the planner's decision for a frame: its ``crop``, the person blobs' box ``found``
        (frame pixels, or None), ``crowd`` (more than one person), the presence ``gain``, the
        frame's thumbnail brightness (host uint8, or None) and whether it was searched."""
        self._since = 0 if searched else self._since + 1
        nobody = crop is None and (found is None or gain <= 0.0)
        self._nobody = self._nobody + 1 if nobody else 0
        if not self.watches_still or thumb is None:
            self._still = False
            return
        if searched or self._ref is None:
            self._ref = thumb
        self._still = (crop is not None and found is not None and not crowd
                       and self._prev is not None and self._prev.shape == thumb.shape
                       and still_outside(thumb, self._ref, found, frame_hw)
                       and still_outside(thumb, self._prev, found, frame_hw))
        self._prev = thumb

    def reuse_models(self, host_image: np.ndarray, tracked: bool) -> bool:
        """``quality.model_every``: whether this frame reuses the last model run's outputs: while
        they had a crop (``tracked``), fewer than ``model_every - 1`` frames reused them, and the
        picture's mean brightness change since they ran is below :data:`STILL_LEVELS`."""
        small = still_sample(host_image)
        ref = self._still_ref
        if (tracked and ref is not None and ref.shape == small.shape and self._runs_skipped < self.model_every - 1
                and float(np.mean(np.abs(small - ref))) < STILL_LEVELS):
            self._runs_skipped += 1
            return True
        self._runs_skipped, self._still_ref = 0, small
        return False

    def forget(self) -> None:
        """A scene cut, a new source: every comparison starts again."""
        self._ref, self._prev, self._since, self._still = None, None, 0, False
        self._nobody = 0
        self._still_ref = None


def still_outside(thumb: np.ndarray, ref: np.ndarray, person, frame_hw: Tuple[int, int]) -> bool:
    """Whether nothing changed between two thumbnails (host uint8 ``(h, w)``) outside the
    ``person`` box (frame pixels, grown by STILL_GROW of the shorter side): at most STILL_SHARE of
    the pixels there moved by more than STILL_LEVEL. A sub-pixel camera shake lights up only the
    background's sharpest edges; a person walking in or a camera move changes far more.

    >>> a = np.full((90, 160), 100, np.uint8); b = a.copy(); b[40:50, 60:100] = 200
    >>> still_outside(b, a, (240, 160, 400, 200), (360, 640)), still_outside(b, a, (0, 0, 10, 10), (360, 640))
    (True, False)
    """
    h, w = thumb.shape[:2]
    H, W = frame_hw
    g = STILL_GROW * min(H, W)
    x0, y0 = max(0, int((person[0] - g) * w / W)), max(0, int((person[1] - g) * h / H))
    x1, y1 = min(w, int(np.ceil((person[2] + g) * w / W))), min(h, int(np.ceil((person[3] + g) * h / H)))
    changed = cv2.threshold(cv2.absdiff(thumb, ref), STILL_LEVEL, 1, cv2.THRESH_BINARY)[1]
    outside = h * w - max(0, x1 - x0) * max(0, y1 - y0)
    if outside <= 0:
        return True
    moved = int(cv2.countNonZero(changed)) - int(cv2.countNonZero(changed[y0:y1, x0:x1]))
    return moved <= STILL_SHARE * outside


def still_sample(image: np.ndarray) -> np.ndarray:
    """The frame's green channel on a grid of 1/16 of its size, area-averaged from every 8th pixel
    (float32; cheap: a strided read, no pass over the whole frame)."""
    g = np.ascontiguousarray(image[::8, ::8, 1])
    h, w = g.shape
    return cv2.resize(g, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA).astype(np.float32)
