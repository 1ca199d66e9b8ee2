"""``TorchMattingMatter``: the ``modnet`` / ``rvm`` frame path in torch, on CUDA (or the CPU, for tests).

Same contract as :class:`livematte.gpu.matter.TorchMatter` (``__call__(frame) -> alpha``,
``matte_tensor``, ``reset``, ``describe``), for the matting backends. It runs the backend objects of
:mod:`livematte.models.modnet` / :mod:`livematte.models.rvm` (their network, their settings) and
mirrors what :class:`livematte.matter.Matter` does for a matting backend (no crop, no guided refine,
no lukewarm-blob removal: ``Matter.front`` takes a matting network's output as it is):

=========================================  ==========================================================
``Matter`` (numpy / cv2)                   here, one pure function of (frame, state) per frame
=========================================  ==========================================================
``SceneCutDetector`` on the thumbnail;     ``thumb_histogram`` and the Bhattacharyya distance on the
on a cut ``segmenter.reset()`` and the     device give ``keep`` (0 on a cut, on the first frame and
smoother's reset                           after ``reset``), multiplied into RVM's state and the
                                           smoother's weight: no host sync
``segmenter.predict(frame)`` (RVM: its     the same network; RVM's four states and its 18x32
state and its own thumbnail cut test)      thumbnail come in and go out as tensors (a zero state is
                                           RVM's ``None`` start); the same thumbnail test
bilinear upsampling, ``MotionSmoother``,   ``upsample_region``, ``TorchMotionSmoother`` (its past in
``shape_mask``                             and out as tensors), ``shape_mask`` (after the graph)
=========================================  ==========================================================

On CUDA that function is captured once per frame size as one CUDA graph (:class:`GraphedCall`):
its state lives in the graph's static input buffers, each replay's outputs are copied back into
them by the next call, and ``reset`` zeroes them. ``precision="auto"`` keeps an fp16 copy of the
network only when it agrees with fp32 on the first frame (``FP16_TOLERANCE``); RVM's state is kept
in the network's dtype, the alpha in fp32.
"""
from __future__ import annotations

import copy
from typing import List, Optional, Sequence, Tuple

import torch
from torch.nn import functional as F

from ..config import Config
from ..models.registry import MATTING_MODELS
from ..types import LivematteError
from . import ops
from .graphs import GraphedCall
from .matter import FP16_TOLERANCE, TorchMatter, check_options
from .stages import (HistogramCutDetector, TorchMotionSmoother, TorchPyramid, shape_mask, thumb_histogram,
                     upsample_region)
from .transfer import Transfer

_CL = torch.channels_last


def cut_keep(hist_prev: torch.Tensor, hist: torch.Tensor, threshold: float) -> torch.Tensor:
    """``HistogramCutDetector`` on the device: float 0-d, 1.0 when ``hist`` (float [48] counts)
    continues the scene of ``hist_prev``, 0.0 when their Bhattacharyya distance exceeds ``threshold``."""
    p = hist_prev / hist_prev.sum().clamp(min=1.0)
    h = hist / hist.sum().clamp(min=1.0)
    s = p.sum() * h.sum()
    bc = torch.sqrt(p * h).sum() / torch.where(s > 1e-7, s.sqrt(), torch.ones_like(s))
    return ((1.0 - bc).clamp(min=0.0).sqrt() <= threshold).float()


class _StepSmoother(TorchMotionSmoother):
    """``TorchMotionSmoother`` as a pure step: the past comes in and goes out as tensors, and the
    weight of the past is scaled by ``keep`` (0 reproduces a ``reset()`` just before this frame)."""

    def step(self, alpha, grey, alpha_past, grey_past, keep) -> Tuple[torch.Tensor, torch.Tensor]:
        """alpha [H, W], grey [h, w], their pasts, keep [] -> (smoothed alpha [H, W], grey as the next past)."""
        self._alpha, self._grey, self._keep = alpha_past, grey_past, keep
        out = self(alpha, grey)
        grey_next = self._grey
        self._alpha = self._grey = None
        return out, grey_next

    def weight(self, grey_small):
        w = super().weight(grey_small)
        return None if w is None else w * self._keep


class TorchMattingMatter:
    """Computes the alpha of each frame, in order, with ``modnet`` or ``rvm`` in torch.

    Args:
        config: model (``name`` modnet or rvm, ``weights``), quality (temporal smoothing) and mask options.
        device: ``auto``, ``cpu``, ``cuda`` or a ``torch.device``; None takes ``config.model.device``.
        precision: ``auto`` (fp16 on CUDA when it agrees with fp32 on the first frame), ``fp32`` or
            ``fp16`` (CUDA only).
        graphs: capture each frame's work as a CUDA graph (CUDA only; eager elsewhere).
        output: ``numpy`` (float32 ``(H, W)``) or ``tensor`` (``[H, W]`` on the device, read-only).
        transfer: the host<->device copier to share with a torch effect.
        segmenter: a backend already built (``models.random_weights.random_backend``, say) on
            ``device``; default: built from ``config.model`` and its checkpoint.
    """

    def __init__(self, config: Optional[Config] = None, *, device=None, precision: str = "auto",
                 graphs: bool = True, output: str = "numpy", transfer: Optional[Transfer] = None,
                 segmenter=None):
        self.config = config or Config()
        m = self.config.model
        if m.name not in MATTING_MODELS:
            raise LivematteError(f"the torch matting path runs {' and '.join(MATTING_MODELS)}, not {m.name!r}")
        self.device = check_options(precision, output, device or m.device)
        cuda = self.device.type == "cuda"
        self.mask = self.config.mask.validate()
        q = self.quality = self.config.quality.validate()
        self.name, self.rvm = m.name, m.name == "rvm"
        self.output, self.graphs = output, graphs
        self.transfer = transfer or Transfer(self.device)
        if segmenter is None:
            from ..models import create

            segmenter = create(m.name, runtime=m.runtime, device=str(self.device), weights=m.weights, threads=m.threads)
        elif segmenter.name != m.name or segmenter.device.type != self.device.type:
            raise ValueError(f"segmenter is {segmenter.name} on {segmenter.device}, expected {m.name} on {self.device}")
        self.fp32 = segmenter
        self.fp16 = None
        if cuda and precision != "fp32":
            self.fp16 = copy.deepcopy(segmenter)
            self.fp16.net.half()
        self._check_pending = precision == "auto" and self.fp16 is not None
        self.seg = self.fp16 if precision == "fp16" else self.fp32
        self.precision = "fp16" if precision == "fp16" else "fp32"
        self.precision_check: Optional[Tuple[float, float]] = None  # (mean, max) |alpha fp16 - fp32|, frame 1
        mode = "ema" if q.temporal == "ema" else "motion"
        self.smoother = None
        if q.temporal != "none":
            self.smoother = _StepSmoother(q.smoothing, q.motion_noise, mode, sure=q.temporal_sure)
        self.cut_threshold = HistogramCutDetector().threshold
        self.last_crop: Optional[Tuple[int, int, int, int]] = None  # never a crop for matting networks
        self.ratio = 1.0  # RVM's downsample ratio for the current frame size
        self._size: Optional[Tuple[int, int]] = None  # (H, W) the state and graphs were made for
        self._state: List[torch.Tensor] = []  # hist [48], (alpha past [H, W], grey past [h, w]), (rvm: thumb, r1..r4)
        self._fresh = True
        self._flags = (torch.zeros((), device=self.device), torch.ones((), device=self.device))
        self.step_call: Optional[GraphedCall] = None  # this frame size's ``_step``, graphed on CUDA

    # ------------------------------------------------------------------ the per-frame function
    @property
    def dtype(self) -> torch.dtype:
        return next(self.seg.net.parameters()).dtype

    def _net(self, seg, x: torch.Tensor, rec: Sequence) -> Tuple[torch.Tensor, list]:
        """x [1, 3, H, W] in [0, 1] -> (alpha float32 [h, w] at the network's output grid, RVM's new state)."""
        if not self.rvm:
            return seg.infer(x)[0, 0].float(), []
        dtype = next(seg.net.parameters()).dtype
        pha, _, rec = seg.net(x.to(dtype).contiguous(memory_format=_CL), list(rec), self.ratio, False)
        return pha[0, 0].float(), rec

    def _model(self, frame, fresh, hist_prev, *rvm_state):
        """uint8 [H, W, 3], fresh [], hist [48], (rvm: thumb [1, 3, 18, 32], r1..r4)
        -> (prob [h, w], thumb grey [th, tw], keep [], hist [48], *rvm_state)."""
        image = frame.permute(2, 0, 1).float()  # [3, H, W] 8-bit values
        thumb = TorchPyramid(image).levels[-1]
        hist = thumb_histogram(thumb)
        keep = cut_keep(hist_prev, hist, self.cut_threshold) * (1.0 - fresh)
        x = image[None].div(255.0)  # [1, 3, H, W], as models.base.image_to_tensor (channels-last strides)
        if not self.rvm:
            return (self._net(self.seg, x, ())[0], ops.rgb_to_grey(thumb), keep, hist)
        small_prev, *rec = rvm_state
        x = x.to(self.dtype).contiguous(memory_format=_CL)
        small = F.adaptive_avg_pool2d(x, (18, 32))  # RvmSegmenter._drop_state_on_cut, without a host sync
        k = keep.to(x.dtype)
        if self.seg.scene_cut is not None:
            same = (small - small_prev).abs().mean(dim=(1, 2, 3)).reshape(()) <= self.seg.scene_cut
            k = k * same.to(x.dtype)
        prob, rec = self._net(self.seg, x, [r * k for r in rec])
        return (prob, ops.rgb_to_grey(thumb), keep, hist, small, *rec)

    def _finish(self, prob, grey, keep, *smooth_state):
        """prob [h, w], thumb grey, keep, (alpha past, grey past) -> (alpha [H, W], *smooth_state)."""
        alpha = upsample_region(prob, self._size)
        if self.smoother is None:
            return (alpha,)
        out, grey_next = self.smoother.step(alpha, grey, *smooth_state, keep)
        return (out, out, grey_next)

    def _split(self, state: Sequence[torch.Tensor]):
        n = 2 if self.smoother is not None else 0
        return state[0], list(state[1:1 + n]), list(state[1 + n:])

    def _step(self, frame, fresh, *state):
        """The function captured per frame size: (frame, fresh, *state) -> (alpha [H, W], *state)."""
        hist, smooth, rvm_state = self._split(state)
        prob, grey, keep, hist, *rvm_state = self._model(frame, fresh, hist, *rvm_state)
        alpha, *smooth = self._finish(prob, grey, keep, *smooth)
        return (alpha, hist, *smooth, *rvm_state)

    # ------------------------------------------------------------------ set-up per frame size
    def _choose_precision(self, x: torch.Tensor) -> None:
        """First frame on CUDA with precision auto: keep fp16 only where it agrees with fp32."""
        self._check_pending = False
        a = self._net(self.fp32, x, [None] * 4)[0]
        b = self._net(self.fp16, x, [None] * 4)[0]
        d = (a - b).abs()
        self.precision_check = (float(d.mean()), float(d.max()))
        ok = self.precision_check[0] <= FP16_TOLERANCE[0] and self.precision_check[1] <= FP16_TOLERANCE[1]
        self.seg, self.precision = (self.fp16, "fp16") if ok else (self.fp32, "fp32")

    def _start(self, frame: torch.Tensor) -> None:
        """A new frame size: zero state of the right shapes, new graphs (captured on first use)."""
        H, W = frame.shape[:2]
        self._size = (H, W)
        rec_shapes = []
        if self.rvm:
            self.ratio = self.fp32.ratio_for(H, W)
            self.fp32.reset()  # a probe run: checks the size (one-line error) and gives the state's shapes
            self.fp32.step(torch.zeros((1, 3, H, W), device=self.device))
            rec_shapes = [r.shape for r in self.fp32.rec]
            self.fp32.reset()
        if self._check_pending:
            self._choose_precision(frame.permute(2, 0, 1)[None].float().div(255.0))
        zeros = lambda *shape, dtype=torch.float32: torch.zeros(shape, dtype=dtype, device=self.device)  # noqa: E731
        state = [thumb_histogram(torch.zeros((3, 1, 1), device=self.device)).zero_()]
        if self.smoother is not None:
            th, tw = TorchPyramid(torch.empty((3, H, W), device="meta")).levels[-1].shape[-2:]
            state += [zeros(H, W), zeros(th, tw)]
        if self.rvm:
            state += [zeros(1, 3, 18, 32, dtype=self.dtype)]
            state += [zeros(*s, dtype=self.dtype).contiguous(memory_format=_CL) for s in rec_shapes]  # as the net's
        self._state, self._fresh = state, True
        self.step_call = GraphedCall(self._step, enabled=self.graphs)

    # ------------------------------------------------------------------ per frame
    def matte_tensor(self, frame: torch.Tensor) -> torch.Tensor:
        """uint8 ``[H, W, 3]`` RGB on the device -> alpha float32 ``[H, W]`` in [0, 1] on the device (read-only)."""
        if frame.dtype != torch.uint8 or frame.dim() != 3 or frame.shape[2] != 3:
            raise ValueError(f"frame must be uint8 [H, W, 3], got {frame.dtype} {tuple(frame.shape)}")
        with torch.inference_mode():
            if tuple(frame.shape[:2]) != self._size:
                self._start(frame)
            fresh, self._fresh = self._flags[int(self._fresh)], False
            alpha, *self._state = self.step_call(frame, fresh, *self._state)
            out = shape_mask(alpha, self.mask)  # eager: its kernels are made on the host
            # the alpha is also the smoother's past in the state: a replay (graphs) or a reset (eager)
            # would overwrite the caller's copy
            return out.clone() if out is alpha else out

    #: RGB frame (``Frame`` or uint8 ``(H, W, 3)``) -> alpha (numpy float32 or device tensor: ``output``)
    __call__ = TorchMatter.__call__

    @property
    def rvm_state(self) -> List[torch.Tensor]:
        """RVM's four recurrent states (zero after a reset or a scene cut); empty for modnet."""
        return list(self._state[-4:]) if self.rvm and self._state else []

    @property
    def graphed(self) -> bool:
        """Whether this frame size's work replays from CUDA graphs."""
        return self.step_call is not None and self.step_call.graphed

    def reset(self) -> None:
        """Forget everything carried across frames (new source, seek, restart): zero the state."""
        with torch.inference_mode():
            for t in self._state:
                t.zero_()
        self._fresh = True
        self.last_crop = None
        self.transfer.forget()

    def describe(self) -> str:
        """One line: backend, device, precision (and its check), whether the graphs were captured."""
        error = self.step_call.error if self.step_call is not None else None
        graphs = "captured" if self.graphed else (f"off ({error})" if error else "off")
        check = ""
        if self.precision_check is not None:
            check = f" (fp16 vs fp32 on frame 1: mean {self.precision_check[0]:.1e}, max {self.precision_check[1]:.1e})"
        return f"torch {self.name} on {self.device}, {self.precision}{check}, CUDA graphs {graphs}"

