"""Per-frame subject decisions: one object, called by :class:`livematte.matter.Matter` on both engines."""
from __future__ import annotations

from typing import List, NamedTuple, Optional, Tuple

import numpy as np

from .blobs import outside_crop, person_blobs, suppress
from .geometry import plan_tiles, pose_square
from .presence import PresenceGate, best_face, best_person, combined
from .tracker import RoiTracker, WholeBodyGate

Box = Tuple[int, int, int, int]

#: a crop covering this share of the frame or more is dropped: the crop would be the frame
CROP_IS_FRAME = 0.9


class Plan(NamedTuple):
    """What to do with one frame.

    Attributes:
        prob: the full-frame probability after the decisions (host float32 ``(h, w)``), or None
            when they left it as it was (a device engine then keeps its own copy).
        crop: the subject crop (integer frame pixels), or None.
        tiles: the model-input tiles covering the crop, in paste order (empty without a crop).
        pose_square: the square the pose model segments (a whole body with a crop), or None.
        gain: the matte's gain in [0, 1] from the presence decision (1 without a detector).
    """

    prob: Optional[np.ndarray]
    crop: Optional[Box]
    tiles: List[Box]
    pose_square: Optional[Box]
    gain: float = 1.0


class SubjectPlanner:
    """Blobs, tracker, whole-body gate, crop rules and the partner schedule, in one place.

    Args:
        quality: the ``[quality]`` options (``QualityConfig``).
        crop_pass: whether the backend takes the crop pass (``BackendSpec.crop_pass``); without it
            the model's output is taken as it is (no blobs, no crop).
        pose: whether a pose model is there to segment whole bodies.
        presence: whether a person detector answers (:meth:`detect_box`; ``plan(detections=)``,
            and the face detector's ``plan(faces=)`` on the same frames when it runs): with no
            person in the picture the matte fades to empty (:mod:`.presence`).
    """

    def __init__(self, quality, *, crop_pass: bool = True, pose: bool = False, presence: bool = False):
        q = self.quality = quality
        self.crop_pass = crop_pass
        self.tracker = None
        if crop_pass and q.roi:
            self.tracker = RoiTracker(margin=q.roi_margin, confirm=int(q.roi_confirm),
                                      max_aspect=100.0 if q.roi_tiles else 1.0)
        self.pose = pose and self.tracker is not None
        self.whole_body = WholeBodyGate()
        self.presence = PresenceGate() if presence and crop_pass else None
        self.last_crop: Optional[Box] = None
        self.last_found: Optional[Tuple[float, float, float, float]] = None  # person blobs, frame pixels
        self._runs = 0  # detector runs so far (which view is next)

    def detect_box(self, frame_hw: Tuple[int, int]) -> Optional[Box]:
        """Where the person detector looks on this frame (integer frame pixels), or None when it
        does not run (it runs on every frame while no person is sure, every few frames while one
        is): by turns the whole frame and the square around the previous frame's person blobs
        (:func:`detection_box`; a small person is seen larger there, a rider with the vehicle
        is seen better whole)."""
        if self.presence is None or not self.presence.due():
            return None
        self._runs += 1
        return detection_box(self.last_found if self._runs % 2 else None, frame_hw)

    def partner_now(self) -> bool:
        """Whether the partner model runs on this frame: always with ``ensemble_tracking``, else only
        while searching (no crop on the previous frame). Once a crop holds the person, the crop pass
        decides the person and the general model alone is sharper on the rest (and one run cheaper)."""
        return self.quality.ensemble_tracking or self.last_crop is None

    def plan(self, prob: np.ndarray, frame_hw: Tuple[int, int], detections=None, *, faces=None) -> Plan:
        """Decide for one frame from its full-frame probability (host float32 ``(h, w)``) and, on
        the frames where :meth:`detect_box` gave a box, the person detector's ``detections`` there
        (normalised to the frame) and the face detector's ``faces`` on the whole frame (boxes in
        frame pixels; None without a face detector)."""
        if not self.crop_pass:
            return Plan(None, None, [], None)
        H, W = frame_hw
        h, w = prob.shape
        found, doubtful = person_blobs(prob, min_core=self.quality.min_core)
        self.last_found = None if found is None else (found[0] * W / w, found[1] * H / h,
                                                      found[2] * W / w, found[3] * H / h)
        gain = 1.0
        if self.presence is not None:
            score = None
            if detections is not None:
                face = None if faces is None else best_face(faces, prob, frame_hw)
                score = combined(best_person(detections, prob), face, self.presence.on, self.presence.stay)
            gain = self.presence.update(score)
            if gain <= 0.0:  # nobody there: an empty matte, and the tracker lets go
                if self.tracker is not None:
                    self.tracker.update(None, frame_hw)
                self.last_crop = None
                return Plan(np.zeros_like(prob), None, [], None, 0.0)
        changed = None
        if doubtful.any():  # lukewarm blobs with no confident core: not a person
            changed = prob = suppress(prob, doubtful)
        # a person cut by the frame's bottom edge (head and shoulders): no whole body for the pose model
        whole_body = self.whole_body.update(found, h)
        crop = None
        if self.tracker is not None:
            crop = self.tracker.update(self.last_found, (H, W))
            if crop is not None and (crop[2] - crop[0]) * (crop[3] - crop[1]) >= CROP_IS_FRAME * H * W:
                crop = None  # the crop would be the frame: nothing to gain
        self.last_crop = crop
        if crop is None:
            return Plan(changed, None, [], None, gain)
        if self.quality.roi_outside == "drop":
            outside = outside_crop(prob, crop, (H, W))
            if outside.any():
                changed = prob = np.where(outside, np.float32(0.0), prob)
        tiles = plan_tiles(crop, (H, W)) if self.quality.roi_tiles else [crop]
        square = pose_square(crop, (H, W), self.quality.pose_margin) if self.pose and whole_body else None
        return Plan(changed, crop, tiles, square, gain)

    def forget(self) -> None:
        """A scene cut: the tracker and the whole-body decision start again; the presence decision
        is kept (no one-frame gap) and checked again on the next frame."""
        if self.tracker is not None:
            self.tracker.reset()
        self.whole_body.reset()
        if self.presence is not None:
            self.presence.since = self.presence.every

    def reset(self) -> None:
        """A new source or a seek."""
        self.forget()
        self.last_crop = None
        self.last_found = None
        if self.presence is not None:
            self.presence.reset()


def detection_box(found, frame_hw: Tuple[int, int], grow: float = 0.25) -> Box:
    """The square the person detector sees: ``found`` (frame pixels, or None) grown by ``grow`` x
    its larger side on each side, made square, clipped to the frame; the whole frame without it.
    A small person seen through this box is large enough for the detector's 224x224 input.

    >>> detection_box((100, 100, 140, 200), (480, 854))
    (45, 75, 195, 225)
    """
    H, W = frame_hw
    if found is None:
        return (0, 0, W, H)
    x0, y0, x1, y1 = found
    side = max(x1 - x0, y1 - y0) * (1 + 2 * grow)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    bx0, by0 = max(0, int(cx - side / 2)), max(0, int(cy - side / 2))
    bx1, by1 = min(W, int(np.ceil(cx + side / 2))), min(H, int(np.ceil(cy + side / 2)))
    if bx1 - bx0 < 8 or by1 - by0 < 8:
        return (0, 0, W, H)
    return (bx0, by0, bx1, by1)
