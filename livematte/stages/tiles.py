"""The subject crop's tiles: the pose model fused into a tile's probability, and each tile's
refined alpha pasted into the frame's alpha with soft seams."""
from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np

from ..subject.geometry import regrid_map, view_weights

Box = Tuple[int, int, int, int]

#: pose probability above which the pose pass's opinion wins over the selfie model's (the same
#: "confident" level as the person-blob test)
POSE_SURE = 0.9


def fuse_pose(ops, prob, pose_prob, square: Box, box: Box):
    """Combine the pose model's probability ``pose_prob`` (map over frame box ``square``) into a
    tile's probability ``prob`` (map over frame box ``box``) where the square covers the tile's
    cells: their average, or the larger of the two where the pose model is sure (>= ``POSE_SURE``:
    a limb it sees and the selfie model dropped comes out solid, not half transparent)."""
    h, w = prob.shape
    qh, qw = pose_prob.shape
    m, _ = regrid_map(square, box, (qh, qw), (h, w))
    other = ops.regrid(pose_prob, m, (h, w))  # (h, w) pose probability on the tile's grid
    mixed = ops.where(other >= POSE_SURE, ops.maximum(prob, other), 0.5 * (prob + other))
    # a tile cell whose centre lies within the square <=> its source cell lies in [-0.5, n - 0.5)
    su = ops.arange(w) * float(m[0, 0]) + float(m[0, 2])
    sv = ops.arange(h) * float(m[1, 1]) + float(m[1, 2])
    cols = ops.step(su, -0.5) * (1.0 - ops.step(su, qw - 0.5))
    rows = ops.step(sv, -0.5) * (1.0 - ops.step(sv, qh - 0.5))
    return ops.where(ops.outer(rows, cols) > 0.5, mixed, prob)


#: ``quality.tile_views``: the weight of the sub-tiles' average against the tile's own probability
VIEWS_WEIGHT = 0.5


def merge_views(ops, prob, box: Box, views: Sequence[Tuple[Box, object]], weight: float = VIEWS_WEIGHT):
    """A tile's probability ``prob`` (map over frame box ``box``) averaged with the same tile seen
    again as sub-tiles (``views``: ``(sub_box, prob)``, each a map over its own box, within ``box``):
    ``(1 - weight) * prob + weight * merged``, where ``merged`` is the sub-tiles' probabilities read on
    the tile's grid and blended with feathered weights (:func:`~livematte.subject.geometry.view_weights`),
    ``prob`` itself on the cells no sub-tile covers. A new array ``(h, w)``."""
    h, w = prob.shape
    ramps = view_weights(box, [b for b, _ in views], (h, w))
    total = sum(np.outer(wy, wx) for wy, wx in ramps)  # (h, w) host: geometry only
    covered = total > 1e-3
    scale = np.where(covered, 1.0 / np.maximum(total, 1e-3), 0.0).astype(np.float32)
    out = ops.from_host(np.where(covered, 1.0 - weight, 1.0).astype(np.float32)) * prob
    for (sub, p), (wy, wx) in zip(views, ramps):
        m, _ = regrid_map(sub, box, tuple(p.shape), (h, w))
        k = ops.from_host((weight * np.outer(wy, wx) * scale).astype(np.float32))
        out = out + k * ops.regrid(p, m, (h, w))
    return out


def seam_ramps(ops, box: Box, frame_hw: Tuple[int, int], width: float):
    """The weight of a crop's own alpha as separable ramps ``(wy, wx)`` (float32, its height and
    width; the weight is ``outer(wy, wx)``): 1 inside, ramping to 0 over ``width`` pixels at the
    crop sides that lie inside the frame (a side on the frame border needs no seam)."""
    x0, y0, x1, y1 = box
    H, W = frame_hw

    def ramp(n: int, lo_open: bool, hi_open: bool):
        i = ops.arange(n) + 0.5
        r = ops.zeros((n,)) + 1.0
        if lo_open:
            r = ops.minimum(r, i / width)
        if hi_open:
            r = ops.minimum(r, (n - i) / width)
        return ops.clip01_(r)

    return ramp(y1 - y0, y0 > 0, y1 < H), ramp(x1 - x0, x0 > 0, x1 < W)


def paste_tiles(ops, alpha, tiles: Sequence[Tuple[Box, object]], seam: float) -> None:
    """Paste each tile's refined alpha (``(box, alpha_tile)``, boxes from ``plan_tiles``, in order)
    into ``alpha`` ``(H, W)``, in place.

    Each tile's alpha fades out over a seam (``seam`` of its larger side) at its sides inside the
    frame; the second tile of a pair also fades in linearly across the overlap, so the pair
    cross-fades there (the first tile's own seam lies where the second one's weight is already 1).
    """
    H, W = alpha.shape[:2]
    for i, (t, alpha_t) in enumerate(tiles):
        x0, y0, x1, y1 = t
        wy, wx = seam_ramps(ops, t, (H, W), seam * max(x1 - x0, y1 - y0))
        if i > 0:
            px0, py0, px1, py1 = tiles[0][0]
            if px0 == x0 and px1 == x1:  # top and bottom: fade in down the overlap rows
                wy = wy * ops.clip01_((ops.arange(y1 - y0) + 0.5) / max(py1 - y0, 1))
            else:  # left and right
                wx = wx * ops.clip01_((ops.arange(x1 - x0) + 0.5) / max(px1 - x0, 1))
        ops.blend_ramps_(alpha[y0:y1, x0:x1], alpha_t, wy, wx)
