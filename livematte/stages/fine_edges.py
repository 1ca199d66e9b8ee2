"""``--fine-edges``: alpha matting on the matte's unknown band, and the foreground's own colours.

1. **Trimap** from the matte: sure object where alpha >= 0.95 and sure background where alpha <=
   0.05, each shrunk by the band's half-width; the rest (the edge, hair, fur) is unknown.
2. **Solve** (pymatting's closed-form matting, ``estimate_alpha_cf``) only where the band is:
   the picture is cut into tiles and only the tiles holding unknown pixels are solved, each on
   its unknown pixels' bounding box with a margin of context, on one thread per core. Pictures over :data:`SOLVE_SIDE` on the long side are solved on a
   downscaled copy (area average), and the solved alpha is brought back with a bilinear resize
   inside the band only: outside it the matte is kept at full resolution.
3. **Foreground colour** (``estimate_foreground_ml``) on the same tiles: in the band the picture's
   colour is replaced by the estimated foreground's, so hair and fur carry no colour of the old
   background when composited elsewhere.

Needs the ``fine`` extra (pymatting). Host numpy only (stills).
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Tuple

import cv2
import numpy as np

from ..types import LivematteError

SOLVE_SIDE = 1600  # long side the solve runs at, pixels
TILE = 320  # tile core, solve-size pixels
MARGIN = 24  # context around each tile core


def trimap(alpha: np.ndarray, half_width: int) -> np.ndarray:
    """float64 ``(h, w)``: 1 sure object, 0 sure background, 0.5 unknown, from ``alpha`` float32 ``(h, w)``."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * half_width + 1, 2 * half_width + 1))
    fg = cv2.erode((alpha >= 0.95).astype(np.uint8), kernel) > 0
    bg = cv2.erode((alpha <= 0.05).astype(np.uint8), kernel) > 0
    out = np.full(alpha.shape, 0.5)
    out[fg], out[bg] = 1.0, 0.0
    return out


def kernels_compiled() -> bool:
    """Whether numba's cache holds pymatting's compiled kernels (``*.nbi`` in ``NUMBA_CACHE_DIR``, else
    beside its sources); without them the first import compiles them all (~80 s of CPU on 2 cores).
    A read-only install (numba then caches elsewhere) counts as compiled: nothing to say."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        places = [Path(os.environ["NUMBA_CACHE_DIR"])]
    else:
        spec = importlib.util.find_spec("pymatting")
        places = [Path(p) for p in (spec.submodule_search_locations or [])] if spec else []
        if not places or not all(os.access(place, os.W_OK) for place in places):
            return True
    return any(next(place.rglob("*.nbi"), None) for place in places if place.is_dir())


def _pymatting():
    try:
        from pymatting import estimate_alpha_cf, estimate_foreground_ml
        from pymatting.preconditioner.ichol import ichol
    except ImportError:
        raise LivematteError("--fine-edges needs pymatting: pip install 'livematte[fine]'") from None
    return estimate_alpha_cf, estimate_foreground_ml, ichol


#: the incomplete Cholesky preconditioner's settings: entries under 1e-3 dropped (pymatting's
#: default 1e-4) and the first diagonal shift 1e-4 (its default starts at 0, which fails on most
#: tiles and is then retried): a third less CPU for alpha within 0.02/255 of the defaults' (docs/stills.md)
ICHOL_DISCARD, ICHOL_SHIFTS = 1e-3, (1e-4, 1e-3, 1e-2, 0.1, 0.5, 1.0, 10.0, 100.0)


def _windows(unknown: np.ndarray):
    """``(tile, window)`` boxes ``(y0, x0, y1, x1)`` for each :data:`TILE` cell holding unknown
    pixels: ``tile`` the cell plus :data:`MARGIN` of context, ``window`` (inside it) the unknown
    pixels' bounding box in the cell plus the margin."""
    h, w = unknown.shape
    out = []
    for y0 in range(0, h, TILE):
        for x0 in range(0, w, TILE):
            y1, x1 = min(h, y0 + TILE), min(w, x0 + TILE)
            ys, xs = np.nonzero(unknown[y0:y1, x0:x1])
            if not len(ys):
                continue
            tile = (max(0, y0 - MARGIN), max(0, x0 - MARGIN), min(h, y1 + MARGIN), min(w, x1 + MARGIN))
            window = (max(0, y0 + ys.min() - MARGIN), max(0, x0 + xs.min() - MARGIN),
                      min(h, y0 + ys.max() + 1 + MARGIN), min(w, x0 + xs.max() + 1 + MARGIN))
            out.append(((y0, x0, y1, x1), tile, window))
    return out


def solve(image: np.ndarray, tri: np.ndarray, workers: int = 0) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Matting on the tiles holding unknown pixels: ``image`` float64 ``(h, w, 3)`` in [0, 1] and its
    trimap -> ``(alpha (h, w), foreground (h, w, 3), solved (h, w) bool)``; where no tile ran
    (``solved`` False: a tile seeing only one side), alpha is the trimap and the foreground the picture. Alpha is solved on each tile's window (its unknown pixels plus
    the margin: closed-form matting's cost follows the pixels it is given), the foreground on the
    whole tile (its multi-level estimate depends on the region it sees, and is kept as it was).
    The tiles run on ``workers`` threads (0: one per core; pymatting's compiled parts release the GIL)."""
    from concurrent.futures import ThreadPoolExecutor

    from ..sinks.png import usable_cores

    estimate_alpha_cf, estimate_foreground_ml, ichol = _pymatting()
    alpha, fore = tri.copy(), image.copy()
    solved = np.zeros(tri.shape, bool)

    def one(boxes):
        (y0, x0, y1, x1), (Y0, X0, Y1, X1), (v0, u0, v1, u1) = boxes
        t = tri[v0:v1, u0:u1]
        if not ((t == 1).any() and (t == 0).any()):  # closed-form matting needs both sides: the whole tile
            v0, u0, v1, u1 = Y0, X0, Y1, X1
            t = tri[v0:v1, u0:u1]
            if not ((t == 1).any() and (t == 0).any()):
                return  # left unsolved: the matte is kept there
        a = tri[Y0:Y1, X0:X1].copy()
        a[v0 - Y0:v1 - Y0, u0 - X0:u1 - X0] = estimate_alpha_cf(
            image[v0:v1, u0:u1], t, preconditioner=lambda A: ichol(A, ICHOL_DISCARD, list(ICHOL_SHIFTS)))
        f = estimate_foreground_ml(image[Y0:Y1, X0:X1], a)
        core = (slice(y0 - Y0, y1 - Y0), slice(x0 - X0, x1 - X0))
        alpha[y0:y1, x0:x1], fore[y0:y1, x0:x1] = a[core], f[core]
        solved[y0:y1, x0:x1] = True

    windows = _windows(tri == 0.5)
    with ThreadPoolExecutor(max_workers=max(1, workers or usable_cores())) as pool:
        list(pool.map(one, windows))
    return alpha, fore, solved


def fine_edges(image: np.ndarray, alpha: np.ndarray, band: float = 0.006) -> Tuple[np.ndarray, np.ndarray]:
    """RGB uint8 ``image`` ``(H, W, 3)`` and alpha float32 ``(H, W)`` -> ``(image, alpha)`` with the
    band's alpha solved by matting and its colours replaced by the foreground's (module docstring).

    ``band``: the unknown band's half-width as a share of the picture's long side (at least 3 px
    at solve size).
    """
    H, W = alpha.shape
    s = min(1.0, SOLVE_SIDE / max(H, W))
    size = (max(1, int(round(W * s))), max(1, int(round(H * s))))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA) if s < 1 else image
    a_small = cv2.resize(alpha, size, interpolation=cv2.INTER_AREA) if s < 1 else alpha
    tri = trimap(a_small, max(3, int(round(band * max(size)))))
    solved, fore, done = solve(small.astype(np.float64) / 255, tri)  # (h, w), (h, w, 3), (h, w)
    unknown = ((tri == 0.5) & done).astype(np.uint8)  # the band where a tile was solved
    if s < 1:
        solved = cv2.resize(solved.astype(np.float32), (W, H), interpolation=cv2.INTER_LINEAR)
        fore = cv2.resize(fore.astype(np.float32), (W, H), interpolation=cv2.INTER_LINEAR)
        unknown = cv2.resize(unknown, (W, H), interpolation=cv2.INTER_NEAREST)
    inside = unknown > 0  # (H, W)
    out_alpha = alpha.astype(np.float32, copy=True)
    out_alpha[inside] = np.clip(solved[inside], 0, 1)
    out_image = image.copy()
    out_image[inside] = np.clip(fore[inside] * 255 + 0.5, 0, 255).astype(np.uint8)
    return out_image, out_alpha
