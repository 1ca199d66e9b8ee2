"""Frame -> alpha: segmenter, subject crop, guided refinement, temporal smoothing, mask options.

The same ``Matter`` serves ``video``, ``image``, ``matte``, ``cam`` and ``eval``, so every path
applies exactly the same processing. Per frame (see docs/quality.md):

1. The frame is reduced to the model's input size by area averaging (an image pyramid of exact 2x
   means, then a bilinear step below 2x), and segmented: the full-frame probability (averaged with
   the partner model's while no crop holds a person, ``quality.ensemble``).
2. Region of interest (``quality.roi``): the person blobs of the full-frame probability give a box
   that :class:`~livematte.roi.RoiTracker` carries across frames; that box is cut out of the frame
   at model size (one or two square tiles) and segmented again, so a small person is seen large.
   When the person is a whole body (their blob stops above the frame's bottom edge), the bundled
   full-body pose model segments a square around the crop too and its probability is combined in
   (the average; the larger where it is sure: ``quality.pose``, :mod:`livematte.models.pose`):
   limbs the selfie model misses come back.
3. Refinement (``quality.refine``): each probability is turned into full-resolution alpha by a fast
   guided filter whose coefficients live on the model grid and are applied to the full-resolution
   brightness (:mod:`livematte.refine`); the crop's alpha replaces the full frame's inside the box,
   with a soft seam. Full-frame foreground that touches the person and moves with them is added
   back (``quality.attach``, :mod:`livematte.attach`).
4. Temporal smoothing (``quality.temporal``): motion-aware, reset on a scene cut
   (:mod:`livematte.temporal`).
5. The user's mask options (threshold / grow / feather), last.

Steps 1-2 (every model run) are :meth:`Matter.front`, steps 3-5 :meth:`Matter.back`; each half
carries only its own state, so the file pipeline runs them on two threads, overlapped by a frame.
"""
from __future__ import annotations

from typing import List, NamedTuple, Optional, Tuple

import cv2
import numpy as np

from .attach import AttachedObjects
from .config import Config
from .maskops import shape_mask
from .models import create
from .models.base import Segmenter
from .refine import GuidedRefiner, clip01, upsample_region
from .roi import Pyramid, RoiTracker, WholeBodyGate, person_blobs, plan_tiles, regrid
from .temporal import MotionSmoother, SceneCutDetector
from .types import Frame, LivematteError

#: pose probability above which the pose pass's opinion wins over the selfie model's (the same
#: "confident" level as the person-blob test)
POSE_SURE = 0.9

#: the model whose full-frame output is averaged with each selfie model's (quality.ensemble)
_PARTNERS = {"selfie": "selfie-landscape", "selfie-landscape": "selfie"}
REFINE_MODES = ("guided", "none")
TEMPORAL_MODES = ("motion", "ema", "none")


def _seam_ramps(box: Tuple[int, int, int, int], frame_hw: Tuple[int, int], width: float) -> Tuple[np.ndarray, np.ndarray]:
    """The weight of a crop's own alpha as separable ramps ``(wy, wx)`` (float32, its height and width;
    the weight is ``wy[:, None] * wx[None, :]``): 1 inside, ramping to 0 over ``width`` pixels at the
    crop sides that lie inside the frame (a side on the frame border needs no seam)."""
    x0, y0, x1, y1 = box
    H, W = frame_hw

    def ramp(n: int, lo_open: bool, hi_open: bool) -> np.ndarray:
        i = np.arange(n, dtype=np.float32) + 0.5
        r = np.ones(n, np.float32)
        if lo_open:
            r = np.minimum(r, i / width)
        if hi_open:
            r = np.minimum(r, (n - i) / width)
        return np.clip(r, 0.0, 1.0)

    return ramp(y1 - y0, y0 > 0, y1 < H), ramp(x1 - x0, x0 > 0, x1 < W)


def _blend_separable(region: np.ndarray, new: np.ndarray, wy: np.ndarray, wx: np.ndarray) -> None:
    """``region += wy[:, None] * wx[None, :] * (new - region)`` in place, float32 ``(h, w)``, where the
    ramps are 1 over one middle run and below 1 only towards the ends: the middle is copied, only the
    border strips are blended (a seam is a few percent of the crop)."""
    rows, cols = np.flatnonzero(wy >= 1.0), np.flatnonzero(wx >= 1.0)
    runs = rows.size and cols.size and rows[-1] - rows[0] + 1 == rows.size and cols[-1] - cols[0] + 1 == cols.size
    if not runs:
        strips = [(slice(None), slice(None))]
    else:
        r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        np.copyto(region[r0:r1, c0:c1], new[r0:r1, c0:c1])
        strips = [(slice(0, r0), slice(None)), (slice(r1, None), slice(None)),
                  (slice(r0, r1), slice(0, c0)), (slice(r0, r1), slice(c1, None))]
    for ys, xs in strips:
        part = region[ys, xs]
        if part.size:
            part += np.outer(wy[ys], wx[xs]) * (new[ys, xs] - part)


class FrontResult(NamedTuple):
    """What :meth:`Matter.front` hands to :meth:`Matter.back` for one frame.

    Attributes:
        image: the RGB uint8 frame ``(H, W, 3)``.
        thumb: the pyramid's smallest level, uint8 ``(h, w, 3)``.
        cut: whether this frame starts a new scene (``back`` then forgets its past).
        guide: the full frame at model size as grey uint8 ``(h, w)`` (None for whole-frame backends).
        prob: the full-frame probability float32 ``(h, w)`` (partner averaged, doubtful blobs removed).
        crop: the subject crop for this frame, or None.
        tiles: ``(box, guide, prob)`` per tile of the crop, in paste order (empty without a crop).
    """

    image: np.ndarray
    thumb: np.ndarray
    cut: bool
    guide: Optional[np.ndarray]
    prob: np.ndarray
    crop: Optional[Tuple[int, int, int, int]]
    tiles: List[Tuple[Tuple[int, int, int, int], Optional[np.ndarray], np.ndarray]]


class Matter:
    """Computes the alpha of each frame, in order.

    Call it once per frame, in order; call :meth:`reset` on a new source, a seek or a restart
    (temporal, region-of-interest and recurrent state is cleared).

    Args:
        segmenter: the backend (see :mod:`livematte.models`). Backends with ``input_size`` and
            ``predict_model_input`` (the selfie family) get area-averaged inputs prepared here;
            others are given the frame (or crop) itself through ``predict``.
        config: quality and mask options.
        partner: a second model of the selfie family (``input_size`` and ``predict_model_input``)
            whose full-frame probability is averaged with the segmenter's (``quality.ensemble``).
        pose: a square-crop person model (:class:`~livematte.models.pose.PoseMask`) whose
            probability on the square around a whole-body person is combined into the crop pass
            (``quality.pose``); None: the crop pass uses ``segmenter`` alone.
    """

    def __init__(self, segmenter: Segmenter, config: Optional[Config] = None, *, partner: Optional[Segmenter] = None,
                 pose=None):
        self.config = config or Config()
        self.segmenter = segmenter
        self.partner = partner if hasattr(partner, "predict_model_input") else None
        self.mask = self.config.mask.validate()
        q = self.quality = self.config.quality.validate()
        self.refiner = GuidedRefiner(q.radius, q.eps) if q.refine == "guided" else None
        self.tracker = RoiTracker(margin=q.roi_margin, confirm=int(q.roi_confirm),
                                  max_aspect=100.0 if q.roi_tiles else 1.0) if q.roi else None
        mode = "ema" if q.temporal == "ema" else "motion"
        self.smoother = MotionSmoother(q.smoothing, q.motion_noise, mode, sure=q.temporal_sure) if q.temporal != "none" else None
        self.cuts = SceneCutDetector()
        self.attacher = AttachedObjects() if q.attach and q.roi else None
        self._model_input = hasattr(segmenter, "predict_model_input") and hasattr(segmenter, "input_size")
        self.pose = pose if q.pose and q.roi and self._model_input else None
        self.whole_body = WholeBodyGate()
        if not self._model_input:
            # Matting networks (modnet, rvm) take the whole frame at their own working size and refine
            # their own edges; a crop pass would also clear RVM's recurrent state, which it resets
            # whenever its input size changes.
            self.tracker, self.refiner, self.attacher = None, None, None
        self.last_crop: Optional[Tuple[int, int, int, int]] = None  # for inspection and tests

    def partner_now(self) -> bool:
        """Whether the partner model runs on this frame: always with ``ensemble_tracking``, else only
        while searching (no crop on the previous frame). Once a crop holds the person, the crop pass
        decides the person and the general model alone is sharper on the rest (and one run cheaper)."""
        return self.quality.ensemble_tracking or self.last_crop is None

    # ------------------------------------------------------------------ one region
    def _segment(self, pyr: Pyramid, image: np.ndarray, box: Tuple[int, int, int, int]):
        """Segment frame region ``box``: (model-grid guide uint8 (h, w) or None, prob float32 (h, w))."""
        x0, y0, x1, y1 = box
        if self._model_input:
            x = pyr.resize(box, tuple(self.segmenter.input_size))  # uint8 (h, w, 3)
            prob = self.segmenter.predict_model_input(x)
            return cv2.cvtColor(x, cv2.COLOR_RGB2GRAY), np.asarray(prob, np.float32)
        prob = np.asarray(self.segmenter.predict(np.ascontiguousarray(image[y0:y1, x0:x1])), np.float32)
        return None, prob

    def _blend_partner(self, pyr: Pyramid, box, prob: np.ndarray) -> np.ndarray:
        """Average ``prob`` float32 (h, w) with the partner model's probability of the same region."""
        h, w = prob.shape
        other = self.partner.predict_model_input(pyr.resize(box, tuple(self.partner.input_size)))
        return 0.5 * (prob + cv2.resize(np.asarray(other, np.float32), (w, h), interpolation=cv2.INTER_LINEAR))

    @staticmethod
    def _suppress(prob: np.ndarray, blobs: np.ndarray) -> np.ndarray:
        """Zero ``prob`` over ``blobs`` (bool, same grid) and their soft fringe (3 grid pixels)."""
        grown = cv2.dilate(blobs.view(np.uint8), np.ones((7, 7), np.uint8))
        out = prob.copy()
        out[grown > 0] = 0.0
        return out

    @staticmethod
    def _outside(prob: np.ndarray, crop: Tuple[int, int, int, int], frame_hw: Tuple[int, int]) -> np.ndarray:
        """bool ``(h, w)`` mask of the model grid that lies outside ``crop`` (frame pixels) and is not
        within 3 cells of a blob of ``prob >= 0.5`` reaching into it: full-frame foreground (and
        lukewarm haze) away from the person the tracker follows. Every person blob of at least a
        quarter of the largest is inside the box, so this drops specks and false blobs only."""
        h, w = prob.shape
        H, W = frame_hw
        n, labels = cv2.connectedComponents((prob >= 0.5).astype(np.uint8), connectivity=8)
        if n <= 1:
            return np.zeros(prob.shape, bool)
        x0, y0 = int(crop[0] * w / W), int(crop[1] * h / H)
        x1, y1 = max(x0 + 1, int(np.ceil(crop[2] * w / W))), max(y0 + 1, int(np.ceil(crop[3] * h / H)))
        inside = np.zeros(n, bool)
        inside[labels[y0:y1, x0:x1].ravel()] = True
        inside[0] = False
        keep = inside[labels]
        keep[y0:y1, x0:x1] = True
        keep = cv2.dilate(keep.view(np.uint8), np.ones((7, 7), np.uint8)) > 0
        return ~keep

    def _to_alpha(self, guide_lo, prob: np.ndarray, grey_hi: np.ndarray) -> np.ndarray:
        """Model-grid probability -> alpha at the size of ``grey_hi`` (uint8 (H, W))."""
        if self.refiner is None:
            return upsample_region(prob, grey_hi.shape[:2])
        if guide_lo is None or guide_lo.shape != prob.shape:
            h, w = prob.shape
            guide_lo = cv2.resize(grey_hi, (w, h), interpolation=cv2.INTER_AREA)
        alpha = self.refiner(guide_lo, prob, grey_hi)
        return clip01(alpha)  # the guided filter overshoots a little at edges

    # ------------------------------------------------------------------ per frame
    def __call__(self, frame: Frame) -> np.ndarray:
        """RGB frame -> alpha float32 ``(H, W)`` in [0, 1].

        The array may be kept as the next frame's past (temporal smoothing): treat it as read-only
        (copy it before writing into it).
        """
        return self.back(self.front(frame))

    def front(self, frame: Frame) -> "FrontResult":
        """First half of :meth:`__call__`: scene cut, pyramid, model runs (full frame, partner, tiles),
        person blobs and the ROI tracker. Depends only on earlier calls of ``front``.

        ``back(front(f))`` is exactly ``self(f)``. A file pipeline may run ``front`` of frame t+1
        on one thread while another runs ``back`` of frame t; both must see every frame, in order.
        """
        image = frame.image if isinstance(frame, Frame) else frame
        H, W = image.shape[:2]
        pyr = Pyramid(image)
        thumb = pyr.levels[-1]  # uint8 (h, w, 3), shorter side 128..255
        cut = self.cuts(thumb)
        if cut:
            self._forget_front()

        full = (0, 0, W, H)
        guide, prob = self._segment(pyr, image, full)  # (h, w) model grid
        if self.partner is not None and guide is not None and self.partner_now():
            prob = self._blend_partner(pyr, full, prob)
        found = None
        if self._model_input:  # the selfie models' lukewarm blobs; matting networks are taken as they are
            found, doubtful = person_blobs(prob, min_core=self.quality.min_core)
            if doubtful.any():  # lukewarm blobs with no confident core: not a person
                prob = self._suppress(prob, doubtful)

        crop = None
        # a person cut by the frame's bottom edge (head and shoulders): no whole body for the pose model
        whole_body = self.whole_body.update(found, prob.shape[0])
        if self.tracker is not None:
            h, w = prob.shape
            if found is not None:
                sx, sy = W / w, H / h
                found = (found[0] * sx, found[1] * sy, found[2] * sx, found[3] * sy)
            crop = self.tracker.update(found, (H, W))
            if crop is not None and (crop[2] - crop[0]) * (crop[3] - crop[1]) >= 0.9 * H * W:
                crop = None  # the crop would be the frame: nothing to gain
        tiles = []
        if crop is not None and self.quality.roi_outside == "drop":
            outside = self._outside(prob, crop, (H, W))
            if outside.any():
                prob = np.where(outside, np.float32(0.0), prob)
        if crop is not None:
            boxes = plan_tiles(crop, (H, W)) if self.quality.roi_tiles else [crop]
            tiles = [(t, *self._segment(pyr, image, t)) for t in boxes]
            if self.pose is not None and whole_body:
                tiles = self._with_pose(pyr, crop, tiles, (H, W))
        self.last_crop = crop
        return FrontResult(image, thumb, cut, guide, prob, crop, tiles)

    def _with_pose(self, pyr: Pyramid, crop, tiles, frame_hw):
        """Combine the pose model's probability on the square around ``crop`` (grown by
        ``pose_margin``) with each tile's ``(box, guide, prob)`` where the square covers the tile's
        cells: their average, or the larger of the two where the pose model is sure (>=
        ``POSE_SURE``: a limb it sees and the selfie model dropped comes out solid, not half
        transparent). One pose run per frame."""
        square = pose_square(crop, frame_hw, self.quality.pose_margin)
        side = self.pose.input_size
        q = np.asarray(self.pose.predict_model_input(pyr.resize(square, tuple(side))), np.float32)  # (256, 256)
        out = []
        for box, guide, prob in tiles:
            other, inside = regrid(q, square, box, prob.shape)  # (h, w) pose probability on the tile's grid
            # the average; where the pose model is sure (a limb the selfie model dropped), the larger
            mixed = np.where(other >= POSE_SURE, np.maximum(prob, other), 0.5 * (prob + other))
            out.append((box, guide, np.where(inside, mixed, prob).astype(np.float32)))
        return out

    def back(self, state: "FrontResult") -> np.ndarray:
        """Second half of :meth:`__call__`: refinement, tile paste, attached objects, temporal
        smoothing and mask options. Depends only on earlier calls of ``back``; give it every
        :meth:`front` result, in order."""
        if state.cut:
            self._forget_back()
        image, prob, crop = state.image, state.prob, state.crop
        H, W = image.shape[:2]
        if crop is None and self.refiner is None:  # matting backends, refine = none: no brightness needed
            alpha = upsample_region(prob, (H, W))
        elif crop is None:
            grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)  # uint8 (H, W)
            alpha = self._to_alpha(state.guide, prob, grey)  # (H, W)
        else:
            # the crop holds the person: outside it a plain upsampling is enough
            alpha = upsample_region(prob, (H, W))
            self._paste_tiles(alpha, state.tiles, image)

        thumb_grey = cv2.cvtColor(state.thumb, cv2.COLOR_RGB2GRAY)  # uint8 (h, w)
        if self.attacher is not None and crop is None:
            self.attacher.reset()  # attached objects need the crop's person: start again
        elif self.attacher is not None:
            alpha = self.attacher(alpha, prob, thumb_grey)
        if self.smoother is not None:
            alpha = self.smoother(alpha, thumb_grey)
        return shape_mask(alpha, self.mask)

    def _paste_tiles(self, alpha: np.ndarray, tiles, image: np.ndarray) -> None:
        """Refine each segmented tile (``(box, guide, prob)``, boxes from ``plan_tiles``) and paste its
        alpha into ``alpha`` float32 (H, W), in place, in order.

        Each tile's alpha fades out over a seam at its sides inside the frame; the second tile of a
        pair also fades in linearly across the overlap, so the pair cross-fades there (the first
        tile's own seam lies where the second one's weight is already 1).
        """
        H, W = alpha.shape
        # brightness of the tiles' bounding box only (a per-pixel conversion: same values as the frame's)
        bx0, by0 = min(t[0] for t, _, _ in tiles), min(t[1] for t, _, _ in tiles)
        bx1, by1 = max(t[2] for t, _, _ in tiles), max(t[3] for t, _, _ in tiles)
        grey = cv2.cvtColor(image[by0:by1, bx0:bx1], cv2.COLOR_RGB2GRAY)  # uint8 (by1-by0, bx1-bx0)
        for i, (t, guide_c, prob_c) in enumerate(tiles):
            x0, y0, x1, y1 = t
            alpha_c = self._to_alpha(guide_c, prob_c, grey[y0 - by0:y1 - by0, x0 - bx0:x1 - bx0])
            wy, wx = _seam_ramps(t, (H, W), self.quality.roi_seam * max(x1 - x0, y1 - y0))
            if i > 0:
                px0, py0, px1, py1 = tiles[0][0]
                if px0 == x0 and px1 == x1:  # top and bottom: fade in down the overlap rows
                    wy *= np.clip((np.arange(y0, y1, dtype=np.float32) + 0.5 - y0) / max(py1 - y0, 1), 0, 1)
                else:  # left and right
                    wx *= np.clip((np.arange(x0, x1, dtype=np.float32) + 0.5 - x0) / max(px1 - x0, 1), 0, 1)
            _blend_separable(alpha[y0:y1, x0:x1], alpha_c, wy, wx)

    def _forget_front(self) -> None:
        self.segmenter.reset()  # recurrent state (rvm) does not survive a scene cut either
        if self.tracker is not None:
            self.tracker.reset()
        self.whole_body.reset()

    def _forget_back(self) -> None:
        if self.smoother is not None:
            self.smoother.reset()
        if self.attacher is not None:
            self.attacher.reset()

    def _forget(self) -> None:
        self._forget_front()
        self._forget_back()

    def reset(self) -> None:
        """Forget everything carried across frames."""
        self._forget()
        self.cuts.reset()
        self.last_crop = None


def pose_square(crop: Tuple[int, int, int, int], frame_hw: Tuple[int, int], margin: float) -> Tuple[int, int, int, int]:
    """The square (frame pixels) the pose model segments for ``crop``: the crop grown by ``margin``
    of its larger side (the pose model wants context), squared within the frame."""
    H, W = frame_hw
    e = margin * max(crop[2] - crop[0], crop[3] - crop[1])
    grown = (max(0, int(crop[0] - e)), max(0, int(crop[1] - e)), min(W, int(crop[2] + e)), min(H, int(crop[3] + e)))
    return plan_tiles(grown, frame_hw, split=float("inf"))[0]


def build_matter(config: Optional[Config] = None) -> Matter:
    """A Matter for ``config`` (defaults when None)."""
    config = config or Config()
    m = config.model
    segmenter = create(m.name, runtime=m.runtime, device=m.device, weights=m.weights, threads=m.threads)
    partner = None
    if config.quality.ensemble and m.name in _PARTNERS:
        partner = create(_PARTNERS[m.name], runtime=m.runtime, device=m.device, threads=m.threads)
    pose = None
    if config.quality.pose and config.quality.roi and m.name in _PARTNERS:  # the selfie family's crop pass
        from .models.pose import PoseMask

        try:
            pose = PoseMask(threads=m.threads or 1)
        except LivematteError as err:
            raise LivematteError(f"{err} (or run with --no-pose: the selfie model alone)") from None
    return Matter(segmenter, config, partner=partner, pose=pose)
