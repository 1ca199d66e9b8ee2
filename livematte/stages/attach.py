"""Objects that move with the person, added back to the crop-pass alpha (the decision is made on
the host by :class:`livematte.subject.attached.AttachedObjects`)."""
from __future__ import annotations


def add_attached(ops, alpha, prob, add_grid):
    """``max(alpha, up(add) * up(prob))``: the regions ``add_grid`` (host float32 0/1 weight on the
    attach grid, from ``AttachedObjects.decide``) at the full-frame probability ``prob`` (map on the
    model grid), brought to alpha's size ``(H, W)`` bilinearly. A new array."""
    size = tuple(alpha.shape[:2])
    add = ops.resize_linear(ops.from_host(add_grid), size)
    return ops.maximum(alpha, add * ops.resize_linear(prob, size))
