"""``TorchMatter``: the whole of :class:`livematte.matter.Matter` in torch, on CUDA or the CPU.

Same call contract as ``Matter`` (``__call__(frame) -> alpha``, ``reset()``), plus the tensor-level
:meth:`TorchMatter.matte_tensor`: uint8 ``[H, W, 3]`` already on the device -> alpha ``[H, W]``
float32 on the device. Per frame, mirroring ``Matter.__call__`` step by step:

1. **Front stage** (fixed shapes, captured as one CUDA graph on CUDA): the frame (uint8, uploaded
   once) -> channels-first float -> area pyramid -> model inputs at 256x256 and 144x256 -> both
   selfie models (fp16 with an fp32 sigmoid on CUDA, when the first frame shows it agrees with
   fp32) -> ensemble average; also the full-resolution brightness, the thumbnail brightness and the
   thumbnail's colour histogram.
2. **The one host sync**: the 256x256 probability and the 48-bin histogram (~260 kB) come to the
   host. The scene-cut decision, the person blobs (connected components: ``roi.person_blobs``,
   unchanged) and the ROI tracker (``roi.RoiTracker``, unchanged) run there on that small grid;
   a probability with doubtful blobs removed goes back up (rare).
3. **Back stage** on the device: guided refinement at full resolution (on the crop when there is
   one, with the crop's second model pass replayed from its own graph, and for a whole body the
   ported pose model's person mask on the square around it, ``quality.pose``), the seam, clipping,
   motion-aware temporal smoothing, the user's mask options.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from ..attach import GRID, AttachedObjects
from ..config import Config
from ..matter import POSE_SURE, Matter, _PARTNERS, pose_square
from ..models.torch_port import PoseMaskNet, load_pose_torch
from ..roi import RoiTracker, WholeBodyGate, person_blobs, plan_tiles, regrid_map
from ..types import Frame, LivematteError
from . import ops
from .device import resolve_device
from .graphs import GraphedCall, compare_precision, half_with_fp32_head
from .stages import (HistogramCutDetector, TorchGuidedRefiner, TorchMotionSmoother, TorchPyramid,
                     seam_weight, shape_mask, thumb_histogram, upsample_region)
from .transfer import Transfer

PRECISIONS = ("auto", "fp32", "fp16")
#: fp16 is kept only when, on the first frame, it differs from fp32 by at most this (mean, max)
FP16_TOLERANCE = (2e-3, 0.1)


def check_options(precision: str, output: str, device) -> torch.device:
    """The torch matters' shared checks: ``precision`` and ``output`` names, the device resolved
    (``auto``/``cpu``/``cuda`` or a ``torch.device``); fp16 only on CUDA (one-line LivematteError)."""
    if precision not in PRECISIONS:
        raise LivematteError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if output not in ("numpy", "tensor"):
        raise ValueError(f"output must be numpy or tensor, got {output!r}")
    device = device if isinstance(device, torch.device) else resolve_device(device)
    if precision == "fp16" and device.type != "cuda":
        raise LivematteError("precision fp16 needs --device cuda (fp16 convolutions are slow on the CPU)")
    return device


class TorchMatter:
    """Computes the alpha of each frame, in order, in torch (see the module docstring).

    Args:
        config: model, quality and mask options (``config.model.name``: ``selfie`` or
            ``selfie-landscape``; other backends have their own device handling).
        device: ``auto``, ``cpu``, ``cuda`` or a ``torch.device``; None takes ``config.model.device``.
        precision: ``auto`` (fp16 on CUDA when it agrees with fp32 on the first frame, else fp32),
            ``fp32`` or ``fp16`` (CUDA only).
        graphs: capture the fixed-shape stages as CUDA graphs (CUDA only; ignored elsewhere).
        output: what ``__call__`` returns: ``numpy`` (float32 ``(H, W)``, like ``Matter``) or
            ``tensor`` (``[H, W]`` on the device; do not write into it, it is kept as the past).
        transfer: the host<->device copier to share with a torch effect (one upload per frame).
    """

    def __init__(self, config: Optional[Config] = None, *, device=None, precision: str = "auto",
                 graphs: bool = True, output: str = "numpy", transfer: Optional[Transfer] = None):
        from ..models.torch_port import load_selfie_torch

        self.config = config or Config()
        m = self.config.model
        if m.name not in _PARTNERS:
            raise LivematteError(f"--device: the torch frame path runs the selfie models, not {m.name!r}")
        self.device = check_options(precision, output, device or m.device)
        cuda = self.device.type == "cuda"
        self.mask = self.config.mask.validate()
        q = self.quality = self.config.quality.validate()
        self.output = output
        self.transfer = transfer or Transfer(self.device)

        names = [m.name] + ([_PARTNERS[m.name]] if q.ensemble else [])
        self.fp32 = [load_selfie_torch(n, device=self.device) for n in names]
        self.sizes = [tuple(net.input_size) for net in self.fp32]
        self.fp16 = [half_with_fp32_head(n) for n in self.fp32] if cuda and precision != "fp32" else None
        self._check_pending = precision == "auto" and self.fp16 is not None
        self.nets = self.fp16 if precision == "fp16" else self.fp32
        self.precision = "fp16" if precision == "fp16" else "fp32"
        self.precision_check: Optional[Tuple[float, float]] = None  # (mean, max) fp16 vs fp32

        self.refiner = TorchGuidedRefiner(q.radius, q.eps) if q.refine == "guided" else None
        self.tracker = RoiTracker(margin=q.roi_margin, confirm=int(q.roi_confirm), max_aspect=100.0 if q.roi_tiles else 1.0) if q.roi else None
        mode = "ema" if q.temporal == "ema" else "motion"
        self.smoother = TorchMotionSmoother(q.smoothing, q.motion_noise, mode, sure=q.temporal_sure) if q.temporal != "none" else None
        self.cuts = HistogramCutDetector()
        # attached objects: the decision runs on the host on a 144x256 grid (optical flow), as on the CPU path
        self.attacher = AttachedObjects() if q.attach and q.roi else None
        self.front = GraphedCall(lambda frame: self._front(frame, True), enabled=graphs)
        self.front_solo = GraphedCall(lambda frame: self._front(frame, False), enabled=graphs)
        self.crop_net = GraphedCall(self._crop_model, enabled=graphs)
        # the pose model's person mask for a whole body (fp32: one run per frame, on a square)
        self.pose_net = load_pose_torch(self.device) if q.pose and q.roi else None
        self.pose_call = GraphedCall(self._pose_model, enabled=graphs)
        self.whole_body = WholeBodyGate()
        self.last_crop: Optional[Tuple[int, int, int, int]] = None

    # ------------------------------------------------------------------ model runs
    def _run(self, i: int, x: torch.Tensor) -> torch.Tensor:
        """Model ``i`` on one model-size input [3, h, w] of 8-bit values -> probability [h, w] float32."""
        net = self.nets[i]
        dtype = torch.float16 if net is not self.fp32[i] else torch.float32
        return net((x * (1 / 255)).to(dtype)[None].contiguous(memory_format=torch.channels_last))[0, 0].float()

    def _crop_model(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(0, x)

    def _pose_model(self, x: torch.Tensor) -> torch.Tensor:
        """[3, 256, 256] of 8-bit values -> the pose model's person probability [256, 256] float32."""
        return self.pose_net((x * (1 / 255))[None].contiguous(memory_format=torch.channels_last))[0, 0]

    def _pose_on(self, pose, box, prob_c: torch.Tensor) -> torch.Tensor:
        """``Matter._with_pose`` for one tile: ``pose`` = (square, probability [256, 256]) combined
        into the tile's probability ``prob_c`` [h, w] where the square covers its cells."""
        square, q = pose
        h, w = prob_c.shape
        m, _ = regrid_map(square, box, tuple(q.shape), (h, w))
        # target cell -> source cell (centres at integers) -> grid_sample's [-1, 1] (align_corners=False)
        u = torch.arange(w, dtype=torch.float32, device=self.device)
        v = torch.arange(h, dtype=torch.float32, device=self.device)
        su, sv = m[0, 0] * u + m[0, 2], m[1, 1] * v + m[1, 2]  # source cells, [w] and [h]
        gx = (su + 0.5) * (2.0 / q.shape[1]) - 1.0
        gy = (sv + 0.5) * (2.0 / q.shape[0]) - 1.0
        grid = torch.stack([gx[None, :].expand(h, w), gy[:, None].expand(h, w)], dim=-1)[None]  # [1, h, w, 2]
        other = F.grid_sample(q[None, None], grid, mode="bilinear", padding_mode="border", align_corners=False)[0, 0]
        mixed = torch.where(other >= POSE_SURE, torch.maximum(prob_c, other), 0.5 * (prob_c + other))
        # ``inside`` of regrid_map, on the device: a cell centre within the square <=> source cell in [-0.5, n - 0.5)
        inside = (((sv >= -0.5) & (sv < q.shape[0] - 0.5))[:, None]
                  & ((su >= -0.5) & (su < q.shape[1] - 0.5))[None, :])  # [h, w]
        return torch.where(inside, mixed, prob_c)

    def _front(self, frame: torch.Tensor, partner: bool):
        """uint8 [H, W, 3] -> (prob [h, w], hist [48], grey [H, W], guide [h, w], thumb grey, *levels);
        ``partner``: average the second model in (``Matter.partner_now``)."""
        H, W = frame.shape[:2]
        pyr = TorchPyramid(frame.permute(2, 0, 1).float())
        thumb = pyr.levels[-1]
        full = (0, 0, W, H)
        x = pyr.resize(full, self.sizes[0])  # [3, h, w]
        prob = self._run(0, x)  # [h, w]
        if partner and len(self.nets) > 1:
            other = self._run(1, pyr.resize(full, self.sizes[1]))
            prob = 0.5 * (prob + ops.resize_linear(other, tuple(prob.shape)))
        return (prob, thumb_histogram(thumb), ops.rgb_to_grey(frame), ops.rgb_to_grey(x),
                ops.rgb_to_grey(thumb), *pyr.levels)

    def _choose_precision(self, frame: torch.Tensor) -> None:
        """First frame on CUDA with precision auto: keep fp16 only where it agrees with fp32."""
        self._check_pending = False
        H, W = frame.shape[:2]
        pyr = TorchPyramid(frame.permute(2, 0, 1).float())
        worst = (0.0, 0.0)
        for i, size in enumerate(self.sizes):
            x = (pyr.resize((0, 0, W, H), size) * (1 / 255))[None]
            mean, mx = compare_precision(self.fp32[i], self.fp16[i], x)
            worst = (max(worst[0], mean), max(worst[1], mx))
        self.precision_check = worst
        if worst[0] <= FP16_TOLERANCE[0] and worst[1] <= FP16_TOLERANCE[1]:
            self.nets, self.precision = self.fp16, "fp16"
        else:
            self.nets, self.precision = self.fp32, "fp32"

    # ------------------------------------------------------------------ refinement
    def _to_alpha(self, guide_lo: torch.Tensor, prob: torch.Tensor, grey_hi: torch.Tensor) -> torch.Tensor:
        """``Matter._to_alpha``: model-grid probability -> alpha at the size of ``grey_hi`` [H, W] (new tensor)."""
        if self.refiner is None:
            out = upsample_region(prob, tuple(grey_hi.shape))
            return out.clone() if out is prob else out
        return self.refiner(guide_lo, prob, grey_hi).clamp_(0.0, 1.0)

    def _paste_tiles(self, alpha: torch.Tensor, tiles, pyr: TorchPyramid, grey: torch.Tensor,
                     pose_crop=None) -> None:
        """``Matter._paste_tiles``: segment each tile and paste its alpha into ``alpha`` [H, W], in
        place, in order; ``pose_crop``: the crop of a whole body, for the pose pass."""
        H, W = alpha.shape
        pose = None
        if pose_crop is not None and self.pose_net is not None:
            square = pose_square(pose_crop, (H, W), self.quality.pose_margin)
            pose = (square, self.pose_call(pyr.resize(square, PoseMaskNet.input_size)))
        for i, t in enumerate(tiles):
            x0, y0, x1, y1 = t
            x = pyr.resize(t, self.sizes[0])  # [3, h, w]
            prob_c = self.crop_net(x)
            if pose is not None:
                prob_c = self._pose_on(pose, t, prob_c)
            alpha_c = self._to_alpha(ops.rgb_to_grey(x), prob_c, grey[y0:y1, x0:x1])
            wt = seam_weight(t, (H, W), self.quality.roi_seam * max(x1 - x0, y1 - y0), self.device)
            if i > 0:
                px0, py0, px1, py1 = tiles[0]
                vertical = px0 == x0 and px1 == x1  # top and bottom: fade in down the overlap rows
                a, b, end = (y0, y1, py1) if vertical else (x0, x1, px1)
                ramp = ((torch.arange(a, b, dtype=torch.float32, device=self.device) + 0.5 - a) / max(end - a, 1))
                ramp = ramp.clamp_(0.0, 1.0)
                wt = wt * (ramp[:, None] if vertical else ramp[None, :])
            region = alpha[y0:y1, x0:x1]
            region.addcmul_(wt, alpha_c - region)

    # ------------------------------------------------------------------ per frame
    def matte_tensor(self, frame: torch.Tensor) -> torch.Tensor:
        """uint8 ``[H, W, 3]`` RGB on the device -> alpha float32 ``[H, W]`` in [0, 1] on the device.

        The result is kept as the next frame's past (temporal smoothing): do not write into it.
        """
        if frame.dtype != torch.uint8 or frame.dim() != 3 or frame.shape[2] != 3:
            raise ValueError(f"frame must be uint8 [H, W, 3], got {frame.dtype} {tuple(frame.shape)}")
        if self._check_pending:
            self._choose_precision(frame)
        H, W = frame.shape[:2]
        front = self.front if Matter.partner_now(self) and len(self.nets) > 1 else self.front_solo
        prob, hist, grey, guide, thumb_grey, *levels = front(frame)
        h, w = prob.shape

        # host sync of the frame: model-grid probability + thumbnail histogram (~260 kB), and the
        # thumbnail's brightness when attached objects are decided on the host (a second, small
        # download of the crop-pass alpha follows then, in ``_attach``)
        parts = [prob.reshape(-1), hist] + ([thumb_grey.reshape(-1)] if self.attacher is not None else [])
        small = torch.cat(parts).cpu().numpy()
        prob_np, hist_np = small[: h * w].reshape(h, w), small[h * w: h * w + hist.numel()]
        thumb_np = small[h * w + hist.numel():].reshape(thumb_grey.shape).astype(np.uint8) if self.attacher else None
        if self.cuts(hist_np):
            self._forget()
        found, doubtful = person_blobs(prob_np, min_core=self.quality.min_core)
        whole_body = self.whole_body.update(found, h)  # as ``Matter.front``
        if doubtful.any():  # lukewarm blobs with no confident core: not a person
            prob_np = Matter._suppress(prob_np, doubtful)
            prob = torch.from_numpy(prob_np).to(self.device)

        crop = None
        if self.tracker is not None:
            if found is not None:
                sx, sy = W / w, H / h
                found = (found[0] * sx, found[1] * sy, found[2] * sx, found[3] * sy)
            crop = self.tracker.update(found, (H, W))
            if crop is not None and (crop[2] - crop[0]) * (crop[3] - crop[1]) >= 0.9 * H * W:
                crop = None
        if crop is not None and self.quality.roi_outside == "drop":  # as ``Matter.front``
            outside = Matter._outside(prob_np, crop, (H, W))
            if outside.any():
                prob_np = np.where(outside, np.float32(0.0), prob_np)
                prob = torch.from_numpy(prob_np).to(self.device)
        if crop is None:
            alpha = self._to_alpha(guide, prob, grey)
        else:
            alpha = upsample_region(prob, (H, W))
            if alpha is prob:
                alpha = alpha.clone()
            tiles = plan_tiles(crop, (H, W)) if self.quality.roi_tiles else [crop]
            self._paste_tiles(alpha, tiles, TorchPyramid(levels=levels), grey, crop if whole_body else None)
        self.last_crop = crop

        if self.attacher is not None and crop is None:
            self.attacher.reset()
        elif self.attacher is not None:
            alpha = self._attach(alpha, prob, prob_np, thumb_np)
        if self.smoother is not None:
            alpha = self.smoother(alpha, thumb_grey)
        return shape_mask(alpha, self.mask)

    def _attach(self, alpha: torch.Tensor, prob: torch.Tensor, prob_np: np.ndarray,
                thumb_np: np.ndarray) -> torch.Tensor:
        """``AttachedObjects`` on the device's alpha [H, W]: its nearest samples on the 144x256 grid
        come down (~150 kB), the decision is made on the host with the model-grid probability and the
        thumbnail brightness already there, and the regions it adds go back up (only when any)."""
        gh, gw = GRID
        alpha_grid = F.interpolate(alpha[None, None], size=(gh, gw), mode="nearest")[0, 0].cpu().numpy()  # sample_nearest
        add = self.attacher.decide(alpha_grid, prob_np, thumb_np)
        if add is None:
            return alpha
        H, W = alpha.shape
        add_up = ops.resize_linear(torch.from_numpy(add).to(self.device), (H, W))
        return torch.maximum(alpha, add_up * ops.resize_linear(prob, (H, W)))

    def __call__(self, frame) -> "np.ndarray | torch.Tensor":
        """RGB frame (``Frame`` or uint8 ``(H, W, 3)``) -> alpha (numpy float32 or device tensor: ``output``)."""
        image = frame.image if isinstance(frame, Frame) else frame
        with torch.inference_mode():
            alpha = self.matte_tensor(self.transfer.upload(image))
        if self.output == "tensor":
            return alpha
        return self.transfer.download(alpha, copy=True)

    def _forget(self) -> None:
        if self.tracker is not None:
            self.tracker.reset()
        self.whole_body.reset()
        if self.attacher is not None:
            self.attacher.reset()
        if self.smoother is not None:
            self.smoother.reset()

    def reset(self) -> None:
        """Forget everything carried across frames (new source, seek, restart)."""
        self._forget()
        self.cuts.reset()
        self.last_crop = None
        self.transfer.forget()

    def describe(self) -> str:
        """One line: device, precision, and whether the graphs were captured."""
        fronts = (self.front, self.front_solo)
        error = next((f.error for f in fronts if f.error), None)
        graphs = "captured" if any(f.graphed for f in fronts) else (f"off ({error})" if error else "off")
        return f"torch on {self.device}, {self.precision}, CUDA graphs {graphs}"


def build_torch_matter(config: Optional[Config] = None, **options) -> TorchMatter:
    """A :class:`TorchMatter` for ``config`` (options as its constructor's)."""
    return TorchMatter(config or Config(), **options)
