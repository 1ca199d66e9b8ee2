"""Look-ahead (two-sided) temporal smoothing for files: ``--quality best`` (``quality.lookahead``).

The causal smoother (:class:`~livematte.stages.temporal.MotionSmoother`) only knows the past, and
it does not follow the motion: where the picture moved it takes the new alpha as it is. For a file
:class:`LookaheadSmoother` runs two more recursions over the matter's (causally smoothed) outputs
``F``, both **along the optical flow**: a forward one, ``P_t = F_t + v_t * (warp(P_{t-1},
flow_t->t-1) - F_t)``, and then a backward one over its results,

``B_t = P_t + w_t * (warp(B_{t+1}, flow_t->t+1) - P_t)``

where ``flow_t->s`` is the optical flow from frame t to frame s (DIS, on a small grey copy of each
frame, :data:`FLOW_WIDTH` wide, on the host, and only on the person's box: where either frame's matte
is above 0, grown by :data:`FLOW_MARGIN`; zero flow and weight elsewhere, no flow at all with
nobody in view) and the weights, on the small grid,

``w_t = strength * exp(-err_t / noise) * exp(-|warped - P_t| / jump) [* sure(P_t)]``

fall where the flow does not explain the picture (``err_t``: the mean absolute brightness error of
the other frame warped onto frame t) and where alpha changes a lot (real motion the flow missed);
optionally also where the new alpha is certain (``sure``, off: on DAVIS group A it cost dtSSD).
The forward pass has its own strength and alpha-change guard (``forward``, ``forward_jump``).
Forward then backward is a two-sided smoother: each frame's matte gets evidence from both sides,
moved to where the person is now. The flow is refined down to the small grey's own grid
(``flow_scale`` 0; the ultrafast preset's quarter grid missed a third of a 3 px motion). A finer
grey follows limbs better (DAVIS A dtSSD falls with the width: docs/quality.md, issue #17 best
revision 2: 480 columns gave A 7.29 against 7.35 at 320), but a close-up's box is most of the frame:
:data:`FLOW_WIDTH` is 320 and ``--quality best`` asks for 480 (``quality.flow_width``, since best
revision 3 on a faster machine: BENCHMARKS.md).

**Blocks.** The backward recursion needs a start in the future. Frames are held until
``2 * lookahead`` are waiting; the backward pass then runs from the last back to the first and the
first ``lookahead`` are handed out: every frame sees at least ``lookahead`` later frames, for two
backward steps per frame. The forward pass runs once per frame as it comes in (it needs only the
past). A scene cut ends a block and the forward pass (nothing is carried across it); :meth:`flush`
ends the last one. Latency: up to ``2 * lookahead`` frames, which is why this is for files only.

The full-resolution work (the warp, the blend) uses the engine's primitives (``ops.flow_maps``,
``ops.remap``, ``ops.blend_past``, ...), so both engines run it, only inside the box where either
matte is above 0; the flows and their errors are host work on small
grey images (OpenCV's DIS has no torch counterpart), like the attach decision.
"""
from __future__ import annotations

from typing import List, Optional

import cv2
import numpy as np

from .temporal import sure_weight

#: width of the small grey copy the flow is computed on (its height keeps the frame's aspect)
FLOW_WIDTH = 320
#: the flow is computed only around the person: the box where either frame's matte is above 0,
#: grown by this fraction of the small grid's width on each side ...
FLOW_MARGIN = 1.0 / 16
#: ... and at least this many cells on a side (DIS's pyramid needs a few levels)
FLOW_MIN = 48


def small_grey(image: np.ndarray, width: int = FLOW_WIDTH) -> np.ndarray:
    """The RGB 8-bit frame's brightness, area-averaged to ``width`` columns (uint8)."""
    H, W = image.shape[:2]
    w = min(width, W)
    h = max(1, int(round(H * w / W)))
    return cv2.resize(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), (w, h), interpolation=cv2.INTER_AREA)


class LookaheadSmoother:
    """Backward recursion over blocks of frames (see the module docstring).

    Args:
        ops: the engine's array layer.
        lookahead: frames each output waits for (>= 1).
        strength: the largest weight of the future, in [0, 1).
        noise: brightness error of the warp (8-bit levels) at which the weight is 1/e of ``strength``.
        jump: alpha change at which the weight falls by a further 1/e (0: off).
        sure: as :class:`~livematte.stages.temporal.MotionSmoother`'s ``sure`` (0: off).
        flow_scale: the finest level of DIS's pyramid the flow is refined on (0: the small grey's
            own grid; the ultrafast preset's 2 is a quarter of it: too coarse for a limb's motion).
        forward: the largest weight of the past in the flow-warped forward pass, in [0, 1) (0: off,
            the backward pass alone).
        forward_jump: ``jump`` of the forward pass (0: off).
        flow_width: width of the small grey copies the flows are computed on (:func:`small_grey`
            with this width is what :meth:`push` takes).
    """

    def __init__(self, ops, lookahead: int = 4, strength: float = 0.8, noise: float = 16.0, jump: float = 1.0,
                 sure: float = 0.0, flow_scale: int = 0, forward: float = 0.8, forward_jump: float = 2.0,
                 flow_width: int = FLOW_WIDTH):
        if lookahead < 1 or not 0.0 <= strength < 1.0 or not 0.0 <= forward < 1.0:
            raise ValueError(f"lookahead must be >= 1 and strength, forward in [0, 1), got {lookahead}, "
                             f"{strength}, {forward}")
        self.ops, self.lookahead = ops, lookahead
        self.strength, self.noise, self.jump, self.sure = strength, noise, jump, sure
        self.forward, self.forward_jump, self.flow_width = forward, forward_jump, flow_width
        self.flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        self.flow.setFinestScale(flow_scale)
        self.reset()

    def reset(self) -> None:
        """Forget every waiting frame (new source, seek)."""
        self._alpha: List = []  # P_t (F_t after the forward pass), engine maps (read-only)
        self._grey: List[np.ndarray] = []  # small grey per waiting frame
        self._links: List[tuple] = []  # (flow t -> t+1, host weight (h, w)) for each waiting pair
        self._past = None  # (P_{t-1}, its small grey) for the forward pass; None after a cut

    @property
    def waiting(self) -> int:
        """Frames pushed and not handed out yet."""
        return len(self._alpha)

    def push(self, alpha, grey: np.ndarray, cut: bool = False) -> list:
        """Add one frame's alpha ``(H, W)`` (the engine's; not written into) and its small grey
        (:func:`small_grey`); ``cut``: it starts a new scene. Returns the alphas now finished, in
        order (new arrays), possibly none."""
        out = self.flush() if cut else []
        if self._past is not None and (self._past[1].shape != grey.shape
                                       or tuple(self._past[0].shape[:2]) != tuple(alpha.shape[:2])):
            out += self.flush()
        size = tuple(alpha.shape[:2])
        if self._grey:
            cells = self._cells((self._alpha[-1], alpha), grey.shape)
            self._links.append(self._link(self._grey[-1], grey, size, self.strength, cells))
        if self._past is not None and self.forward > 0:  # the forward pass: the past, moved to this frame
            past, past_grey = self._past
            cells = self._cells((alpha, past), grey.shape)
            alpha = self._pull(alpha, past, self._link(grey, past_grey, size, self.forward, cells), self.forward_jump)
        self._past = (alpha, grey)
        self._alpha.append(alpha)
        self._grey.append(grey)
        if len(self._alpha) >= 2 * self.lookahead:
            out += self._backward(self.lookahead)
        return out

    def flush(self) -> list:
        """Every waiting frame's alpha, finished (the end of a file or a scene)."""
        self._past = None
        return self._backward(len(self._alpha))

    # ------------------------------------------------------------------ internals
    def _cells(self, mattes, grid) -> Optional[tuple]:
        """Cells ``(cy0, cy1, cx0, cx1)`` of the small grid the flow between two frames is computed
        on: where either of ``mattes`` is above 0, grown by :data:`FLOW_MARGIN` of the grid's width
        (the person's motion from one frame to the next, and context for DIS) and at least
        :data:`FLOW_MIN` cells a side; None when both are empty (no flow needed)."""
        ops = self.ops
        rows, cols = np.nonzero(np.maximum(*ops.to_host(*(ops.sample_nearest(m, grid) for m in mattes))) > 1.0 / 512)
        if rows.size == 0:
            return None
        h, w = grid
        g = max(2, int(round(w * FLOW_MARGIN)))
        box = []
        for lo, hi, n in ((rows.min() - g, rows.max() + 1 + g, h), (cols.min() - g, cols.max() + 1 + g, w)):
            short = max(0, min(n, FLOW_MIN) - (hi - lo))  # too small for DIS's pyramid: widen it
            lo, hi = lo - short // 2, hi + short - short // 2
            lo, hi = max(0, lo - max(0, hi - n)), min(n, hi - min(0, lo))  # slid inside the grid
            box += [int(lo), int(hi)]
        return tuple(box)

    def _link(self, grey: np.ndarray, grey_next: np.ndarray, size, strength: float, cells) -> tuple:
        """Flow from ``grey`` to ``grey_next`` (the next frame's, or the previous one's) on the
        ``cells`` of the small grid (:meth:`_cells`; zero elsewhere, None: nowhere): (sampling maps
        at the alpha's ``size``, the weight its brightness error allows, at most ``strength``
        (host, small grid; 0 outside ``cells``), the largest flow in cells)."""
        h, w = grey.shape
        flow = np.zeros((h, w, 2), np.float32)
        weight = np.zeros((h, w), np.float32)
        reach = 0
        if cells is not None:
            cy0, cy1, cx0, cx1 = cells
            a = np.ascontiguousarray(grey[cy0:cy1, cx0:cx1])
            b = np.ascontiguousarray(grey_next[cy0:cy1, cx0:cx1])
            f = self.flow.calc(a, b, None)  # a(p) ~ b(p + f(p))
            ch, cw = a.shape
            mx = f[..., 0] + np.arange(cw, dtype=np.float32)[None, :]
            my = f[..., 1] + np.arange(ch, dtype=np.float32)[:, None]
            warped = cv2.remap(b, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            err = cv2.absdiff(a, warped).astype(np.float32)
            k = max(3, (min(h, w) // 32) | 1)
            weight[cy0:cy1, cx0:cx1] = np.exp(cv2.blur(err, (k, k)) * (-1.0 / self.noise)) * strength
            flow[cy0:cy1, cx0:cx1] = f
            reach = int(np.ceil(float(np.abs(f).max()))) if f.size else 0
        return self.ops.flow_maps(flow, size), weight, reach

    def _box(self, cur, nxt, grid, reach: int):
        """Cells ``(cy0, cy1, cx0, cx1)`` of the small grid where either matte is above 0, grown by
        the flow's reach and 2 cells; None when both are empty (nothing to blend)."""
        ops = self.ops
        a, b = ops.to_host(ops.sample_nearest(cur, grid), ops.sample_nearest(nxt, grid))
        rows, cols = np.nonzero(np.maximum(a, b) > 1.0 / 512)
        if rows.size == 0:
            return None
        g = reach + 2
        return (max(0, rows.min() - g), min(grid[0], rows.max() + 1 + g),
                max(0, cols.min() - g), min(grid[1], cols.max() + 1 + g))

    def _pull(self, cur, other, link: tuple, jump: float):
        """``cur`` blended with ``other`` (the neighbour frame's matte, already smoothed) warped onto
        it along ``link`` (:meth:`_link` from this frame to the other's): a new array. Only the box
        where either matte is above 0 (grown by the flow's reach) is touched: outside it both are 0
        and the blend changes nothing."""
        ops = self.ops
        maps, weight, reach = link
        out = ops.copy(cur)
        cells = self._box(cur, other, tuple(weight.shape), reach) if float(weight.max(initial=0.0)) > 0 else None
        if cells is None:
            return out
        (H, W), (h, w) = tuple(cur.shape[:2]), weight.shape
        cy0, cy1, cx0, cx1 = cells
        box = (int(round(cy0 * H / h)), int(round(cy1 * H / h)), int(round(cx0 * W / w)), int(round(cx1 * W / w)))
        y0, y1, x0, x1 = box
        warped = ops.remap(other, maps, box)
        grid = (cy1 - cy0, cx1 - cx0)
        wb = ops.from_host(np.ascontiguousarray(weight[cy0:cy1, cx0:cx1]))
        small = ops.sample_nearest(cur[y0:y1, x0:x1], grid)
        if jump > 0:
            change = ops.blur(ops.abs(ops.sample_nearest(warped, grid) - small), 3)
            wb = wb * ops.exp(change * (-1.0 / jump))
        if self.sure > 0:
            wb = wb * sure_weight(ops, small, self.sure)
        out[y0:y1, x0:x1] = ops.blend_past(out[y0:y1, x0:x1], warped, wb)
        return out

    def _backward(self, emit: int) -> list:
        """Run the backward recursion over every waiting frame; hand out the first ``emit``.

        Each step touches only the box where either matte is above 0 (grown by the flow's reach):
        outside it both are 0 and the blend changes nothing."""
        n = len(self._alpha)
        if n == 0 or emit <= 0:
            return []
        ops = self.ops
        done: List[Optional[object]] = [None] * n
        nxt = self._alpha[-1]
        done[-1] = ops.copy(nxt)
        for t in range(n - 2, -1, -1):
            nxt = done[t] = self._pull(self._alpha[t], nxt, self._links[t], self.jump)
        out = done[:emit]
        self._alpha, self._grey = self._alpha[emit:], self._grey[emit:]
        self._links = self._links[emit:]
        return out
