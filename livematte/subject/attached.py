"""Objects that move with the person: the full-frame model's foreground that the crop pass left out.

The subject crop segments the *person* sharply; a stroller pushed beside them, a board under their
feet or a kite they hold is person-like to the full-frame model (probability >= 0.5) yet left out
by the crop. Adding all such foreground back also adds the full-frame model's false positives that
touch the person (a graffiti wall behind a skater). :class:`AttachedObjects` tells them apart by
motion: on a small grid it measures the optical flow (DIS, ultrafast) between consecutive frames
and adds a region only when

* the person moves relative to the background (otherwise motion tells nothing, and nothing is added),
* the region touches the person, survives an opening (thin spill along the person's edge does not
  count) and
* its median flow is closer to the person's than to the background's by a clear factor.

All sizes are relative to the person's height on the grid. The decision runs on the host (this
module); adding the regions to the full-resolution alpha is the stage
:func:`livematte.stages.attach.add_attached`, written once for both engines.
"""
from __future__ import annotations

from typing import Optional

import cv2
import numpy as np

#: the grid (h, w) on which regions and flow are compared
GRID = (144, 256)


class AttachedObjects:
    """Decides which full-frame foreground moves with the person (host side, on ``GRID``).

    Args:
        opening: opening size as a fraction of the person's height (removes thin spill).
        separation: the person's flow must differ from the background's by at least this fraction of
            the person's height per frame for motion to decide anything.
        ratio: a region is attached when its flow distance to the person is below ``ratio`` times
            its distance to the background.
    """

    def __init__(self, opening: float = 0.15, separation: float = 0.01, ratio: float = 0.5, persist: int = 2):
        self.opening, self.separation, self.ratio, self.persist = opening, separation, ratio, persist
        self.flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        self.reset()

    def reset(self) -> None:
        """Forget the previous frame (new source, seek, scene cut)."""
        self._prev: Optional[np.ndarray] = None  # uint8 GRID brightness of the last frame
        self.last_added = 0.0  # fraction of GRID cells added on the last frame (for inspection)
        self._streak: Optional[np.ndarray] = None  # uint8 GRID: consecutive frames a cell was attached

    def _nothing(self) -> None:
        self._streak = None  # nothing attached this frame: every streak ends
        return None

    def decide(self, alpha_grid: np.ndarray, prob: np.ndarray, grey_small: np.ndarray) -> Optional[np.ndarray]:
        """The decision on the grid: float32 ``GRID`` weight (0/1, grown by one cell) of the regions to
        add at the full-frame probability, or None when nothing is added this frame.

        Args:
            alpha_grid: the crop-pass alpha sampled on ``GRID`` (``upsample.sample_nearest``: enough to tell where alpha >= 0.5, without reading the whole frame), float32 (gh, gw).
            prob: the full-frame model's probability, float32 (h, w) over the whole frame.
            grey_small: the frame's brightness on a small grid, uint8, same size every frame.
        """
        gh, gw = GRID
        cur = cv2.resize(grey_small, (gw, gh), interpolation=cv2.INTER_AREA)
        prev, self._prev = self._prev, cur
        self.last_added = 0.0
        if prev is None:
            return None
        person = alpha_grid >= 0.5  # (gh, gw)
        rows = np.flatnonzero(person.any(axis=1))
        if rows.size == 0:
            return self._nothing()
        height = rows[-1] - rows[0] + 1
        p_g = cv2.resize(prob, (gw, gh), interpolation=cv2.INTER_AREA)
        cand = ((p_g >= 0.5) & ~person).astype(np.uint8)
        k = max(3, int(round(self.opening * height)) | 1)
        cand = cv2.morphologyEx(cand, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
        if not cand.any():
            return self._nothing()
        n, labels = cv2.connectedComponents(cand, connectivity=8)
        near = cv2.dilate(person.view(np.uint8), np.ones((k, k), np.uint8)) > 0
        touching = np.unique(labels[near & (labels > 0)])
        if touching.size == 0:
            return self._nothing()
        flow = self.flow.calc(prev, cur, None)  # float32 (gh, gw, 2): prev -> cur, grid pixels
        background = (p_g < 0.2) & ~near
        if person.sum() < 16 or background.sum() < 16:
            return self._nothing()
        f_person = np.median(flow[person], axis=0)
        f_back = np.median(flow[background], axis=0)
        if np.linalg.norm(f_person - f_back) < self.separation * height:
            return self._nothing()  # the person does not move against the background: no decision
        keep = np.zeros(n, bool)
        for i in touching:
            f = np.median(flow[labels == i], axis=0)
            keep[i] = np.linalg.norm(f - f_person) < self.ratio * np.linalg.norm(f - f_back)
        attached = keep[labels]  # bool (gh, gw)
        streak = np.zeros(attached.shape, np.uint8) if self._streak is None else self._streak
        self._streak = np.where(attached, np.minimum(streak, 254) + 1, 0).astype(np.uint8)
        if not keep.any():
            return None
        # a region counts once it has moved with the person for ``persist`` frames in a row
        add = (self._streak >= self.persist).astype(np.float32)  # (gh, gw)
        if not add.any():
            return None
        self.last_added = float(add.mean())
        return cv2.dilate(add, np.ones((3, 3), np.uint8))
