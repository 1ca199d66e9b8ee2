"""CUDA-graph capture of fixed-shape work, and the fp16 model with an fp32 final sigmoid.

:class:`GraphedCall` wraps a function of tensors whose shapes do not change from call to call
(a model forward at its fixed input size; the per-frame front stage at a fixed frame size). On
CUDA it captures the function once into a ``torch.cuda.CUDAGraph`` and later replays it after
copying the inputs into its static buffers: one launch instead of hundreds of kernels. On any
other device, or when ``enabled`` is False, it simply calls the function. A capture that fails
(an op that syncs with the host, say) is reported in ``self.error`` and the call falls back to
eager mode: it never freezes and never fails silently (``graphed`` says which one ran).

The outputs of a replay live in the graph's static buffers and are overwritten by the next
replay: use or clone them before calling again.
"""
from __future__ import annotations

import copy
from typing import Callable, Optional, Sequence, Tuple

import torch
from torch import fx, nn


class GraphedCall:
    """``fn(*tensors) -> tensor or tuple of tensors``, replayed from a CUDA graph where possible.

    Args:
        fn: the function; it must not sync with the host or change shapes between calls.
        enabled: capture at all (only ever on CUDA).
        warmup: eager calls on a side stream before capture (cuDNN picks its kernels there).
    """

    def __init__(self, fn: Callable, *, enabled: bool = True, warmup: int = 3):
        self.fn, self.enabled, self.warmup = fn, enabled, warmup
        self.graph: Optional["torch.cuda.CUDAGraph"] = None
        self.key: Optional[Tuple] = None
        self.inputs: Sequence[torch.Tensor] = ()
        self.outputs = None
        self.error: Optional[str] = None

    @property
    def graphed(self) -> bool:
        return self.graph is not None

    def _capture(self, args: Sequence[torch.Tensor]) -> None:
        self.inputs = [a.clone() for a in args]
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(self.warmup):
                self.fn(*self.inputs)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self.outputs = self.fn(*self.inputs)
        self.graph = graph

    def __call__(self, *args: torch.Tensor):
        if not (self.enabled and args and args[0].is_cuda) or self.error is not None:
            return self.fn(*args)
        key = tuple((tuple(a.shape), a.dtype, a.device) for a in args)
        if key != self.key:
            self.graph, self.key = None, key
            try:
                self._capture(args)
            except Exception as err:  # fall back to eager, and say why
                self.graph, self.error = None, f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
                return self.fn(*args)
        for static, a in zip(self.inputs, args):
            static.copy_(a, non_blocking=True)
        self.graph.replay()
        return self.outputs


def half_with_fp32_head(module: nn.Module) -> nn.Module:
    """A float16 copy of a ported selfie net whose final sigmoid runs in float32.

    The last layer's logits are cast to float32 before the sigmoid: probabilities near 0 and 1
    (where fp16 has few steps) and the 0.5 / 0.9 thresholds the ROI uses keep fp32 precision.
    Input: ``[B, 3, H, W]`` float16; output ``[B, 1, H, W]`` float32.
    """
    net = copy.deepcopy(module).half()
    gm: fx.GraphModule = net.graph
    out = next(n for n in gm.graph.nodes if n.op == "output")
    last = out.args[0]
    if isinstance(last, fx.Node) and last.op == "call_function" and last.target is torch.sigmoid:
        with gm.graph.inserting_before(last):
            logits = gm.graph.call_function(torch.Tensor.float, (last.args[0],))
        last.args = (logits,)
    else:  # no final sigmoid found: cast the output so callers still get float32
        with gm.graph.inserting_before(out):
            cast = gm.graph.call_function(torch.Tensor.float, (last,))
        out.args = (cast,)
    gm.graph.lint()
    gm.recompile()
    return net


def compare_precision(ref: nn.Module, test: nn.Module, inputs: torch.Tensor) -> Tuple[float, float]:
    """(mean, max) absolute difference of two nets' outputs on ``inputs`` [B, 3, H, W] float in [0, 1]."""
    with torch.inference_mode():
        a = ref(inputs.float()).float()
        b = test(inputs.half() if _dtype(test) == torch.float16 else inputs).float()
    d = (a - b).abs()
    return float(d.mean()), float(d.max())


def _dtype(module: nn.Module) -> torch.dtype:
    for t in module.buffers():
        if t.is_floating_point():
            return t.dtype
    return torch.float32
