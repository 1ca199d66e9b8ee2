"""Solid bodies: inside a tracked person alpha is raised to 1, so the body never turns see-through.

The selfie model is often unsure in the middle of a person (a white coat, a hand over the torso:
alpha ~0.5 there, and the new background shows through the body). Where the picture shows
background inside the silhouette the model says so plainly (alpha well under 0.25); where it is
merely unsure it stays above that. So, on a small grid:

* the region is ``alpha >= 0.25`` (a ramp from 0.2 to 0.3); its core is the region eroded by ``erode`` cells (the soft rim
  of hair and edges is left alone);
* the core, box-blurred by ``soft`` cells, is a floor ``w`` in [0, 1]: 1 from ``erode + soft``
  cells inside the region's edge (2.8% of the frame height), 0 within ``erode - soft`` of it;
* ``alpha = max(alpha, w)`` at full resolution (the floor bilinearly upsampled).

Written once against ``ops``; :class:`livematte.matter.Matter` runs it while a crop tracks a person.
"""
from __future__ import annotations

from typing import Tuple

#: the grid on which the floor is made (rows, columns); a cell is 0.7% of the frame height
GRID: Tuple[int, int] = (144, 256)
REGION, RAMP = 0.25, 0.05


def solidify(ops, alpha, *, erode: int = 3, soft: int = 1, grid: Tuple[int, int] = GRID):
    """``alpha`` float32 ``(H, W)`` -> a new ``(H, W)`` alpha, at least the body's floor everywhere."""
    H, W = alpha.shape[:2]
    small = ops.resize_area(alpha, grid)  # (gh, gw)
    # the region as a steep ramp (0 at 0.2, 1 at 0.3) rather than a step: the floor then moves
    # little when alpha does, and the two engines' last-bit differences stay last-bit differences
    region = ops.clip01_((small - (REGION - RAMP)) * (1.0 / (2 * RAMP)))
    core = ops.morph_ellipse(region, erode, False)
    floor = ops.box_filter(core, soft)  # (gh, gw) in [0, 1]
    return ops.maximum(alpha, ops.resize_linear(floor, (H, W)))
