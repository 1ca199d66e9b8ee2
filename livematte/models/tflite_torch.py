"""A float ``.tflite`` graph rebuilt as a ``torch.fx`` module: the porter behind :mod:`livematte.models.torch_port`.

Nothing converted is ever stored on disk: the file is read with :mod:`livematte.models.tflite_reader`,
its float16 constants become float32 tensors, and the operator list is written out as a ``torch.fx``
graph. The result is an ordinary ``nn.Module`` (a ``GraphModule``) whose ``forward`` is generated
straight-line code, one torch call per TFLite operator: no per-frame Python control flow, so it
scripts, compiles and captures into CUDA graphs. Every layout question is settled at build time:

* activations are NCHW (TFLite's are NHWC); weights are permuted once;
* TFLite ``SAME`` padding is computed from the static shapes and applied exactly (an explicit
  ``F.pad`` when it is asymmetric, the conv's own padding when symmetric);
* ``AVERAGE_POOL_2D`` with ``SAME`` padding divides by the count of real pixels, as TFLite does;
* ``RESIZE_BILINEAR`` honours ``align_corners`` / ``half_pixel_centers`` (the legacy mode with
  both off is a precomputed interpolation matrix);
* MediaPipe's custom ``Convolution2DTransposeBias`` is a transposed convolution with OHWI
  weights, bias, and TFLite's transposed-conv ``SAME`` cropping (before = total // 2).
"""
from __future__ import annotations

import struct
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import fx, nn

from ..types import LivematteError
from .tflite_reader import OperatorInfo, TFLiteModel, read_tflite


_SAME, _VALID = 0, 1  # schema Padding enum
_TFLITE_C_PADDING_SAME = 1  # TfLitePadding (C enum) used by custom op option structs


def _same_pad(size: int, kernel: int, stride: int, dilation: int = 1) -> Tuple[int, int]:
    """TFLite SAME padding along one axis: (before, after); the odd pixel goes after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def _nchw_axes(axes: Sequence[int], rank: int) -> List[int]:
    """NHWC axis numbers -> NCHW axis numbers (rank-4 tensors; others unchanged)."""
    if rank != 4:
        return [int(a) % max(rank, 1) for a in axes]
    return sorted({0: 0, 1: 2, 2: 3, 3: 1}[int(a) % 4] for a in axes)


def _legacy_resize_matrix(size_in: int, size_out: int) -> np.ndarray:
    """``[out, in]`` weights of TFLite's legacy bilinear resize (no align, no half pixel)."""
    scale = size_in / size_out
    mat = np.zeros((size_out, size_in), np.float64)
    for o in range(size_out):
        src = o * scale
        lo = min(int(np.floor(src)), size_in - 1)
        hi = min(lo + 1, size_in - 1)
        frac = src - lo
        mat[o, lo] += 1.0 - frac
        mat[o, hi] += frac
    return mat.astype(np.float32)


class _GraphBuilder:
    """Turns a TFLiteModel into an fx graph over NCHW tensors."""

    def __init__(self, model: TFLiteModel):
        self.model = model
        self.graph = fx.Graph()
        self.root = nn.Module()
        self.nodes: Dict[int, fx.Node] = {}  # tensor index -> value in the graph
        self.consts: Dict[int, np.ndarray] = {}  # tensor index -> float32 data, TFLite layout
        self.n_attr = 0
        for t in model.tensors:
            if t.data is not None:
                self.consts[t.index] = t.data

    # -- helpers -------------------------------------------------------------------------
    def fail(self, why: str) -> LivematteError:
        return LivematteError(f"{self.model.path}: cannot port to torch: {why}")

    def shape(self, index: int) -> Tuple[int, ...]:
        return self.model.tensors[index].shape

    def const(self, index: int) -> np.ndarray:
        if index not in self.consts:
            raise self.fail(f"tensor {self.model.tensors[index].name!r} must be a constant")
        return self.consts[index]

    def attr(self, array: np.ndarray, hint: str) -> fx.Node:
        """Register ``array`` as a buffer of the module and return a node reading it."""
        name = f"{hint}{self.n_attr}"
        self.n_attr += 1
        tensor = torch.from_numpy(np.ascontiguousarray(array, np.float32).copy())
        self.root.register_buffer(name, tensor)
        return self.graph.get_attr(name)

    def call(self, fn, *args, **kwargs) -> fx.Node:
        return self.graph.call_function(fn, tuple(args), kwargs)

    def value(self, index: int) -> fx.Node:
        """The node for tensor ``index``; constants become buffers in NCHW layout.

        A constant operand of rank 1-4 broadcasts against NHWC activations from the right;
        it is lifted to rank 4 and permuted, so it broadcasts the same way against NCHW.
        """
        if index in self.nodes:
            return self.nodes[index]
        if index in self.consts:
            data = self.consts[index].astype(np.float32)
            if 1 <= data.ndim <= 4 and data.size > 1:
                data = data.reshape((1,) * (4 - data.ndim) + data.shape).transpose(0, 3, 1, 2)
            node = self.attr(data, "c")
            self.nodes[index] = node
            return node
        raise self.fail(f"tensor {self.model.tensors[index].name!r} is used before it is made")

    def activation(self, node: fx.Node, code: int) -> fx.Node:
        """Apply a TFLite fused activation (ActivationFunctionType)."""
        if code == 0:
            return node
        if code == 1:
            return self.call(F.relu, node)
        if code == 2:
            return self.call(torch.clamp, node, -1.0, 1.0)
        if code == 3:
            return self.call(F.hardtanh, node, 0.0, 6.0)
        if code == 4:
            return self.call(torch.tanh, node)
        raise self.fail(f"unsupported fused activation {code}")

    def pad_for(self, node: fx.Node, hw: Tuple[int, int], kernel: Tuple[int, int],
                stride: Tuple[int, int], dilation: Tuple[int, int], padding: int):
        """Return (node, conv padding) realising TFLite padding exactly."""
        if padding == _VALID:
            return node, (0, 0)
        (t, b), (l, r) = (_same_pad(hw[0], kernel[0], stride[0], dilation[0]),
                          _same_pad(hw[1], kernel[1], stride[1], dilation[1]))
        if t == b and l == r:
            return node, (t, l)
        return self.call(F.pad, node, [l, r, t, b]), (0, 0)

    # -- operators -----------------------------------------------------------------------
    def op_DEQUANTIZE(self, op: OperatorInfo) -> fx.Node | None:
        src = self.model.tensors[op.inputs[0]]
        if src.dtype != np.float16:
            raise self.fail(f"DEQUANTIZE of {src.dtype} (only float16 constants are supported)")
        if op.inputs[0] in self.consts:
            self.consts[op.outputs[0]] = self.consts[op.inputs[0]].astype(np.float32)
            return None
        return self.call(torch.Tensor.float, self.value(op.inputs[0]))

    def _conv(self, op: OperatorInfo, depthwise: bool) -> fx.Node:
        o = op.options
        x = self.value(op.inputs[0])
        _, h, w, cin = self.shape(op.inputs[0])
        weight = self.const(op.inputs[1]).astype(np.float32)  # OHWI, or 1HW(C*M) depthwise
        kh, kw = weight.shape[1:3]
        if depthwise:
            weight, groups = weight.transpose(3, 0, 1, 2), cin  # [C*M, 1, kh, kw]
        else:
            weight, groups = weight.transpose(0, 3, 1, 2), 1  # [O, I, kh, kw]
            if weight.shape[1] != cin:
                raise self.fail(f"CONV_2D weight has {weight.shape[1]} input channels, not {cin}")
        bias = None
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            bias = self.attr(self.const(op.inputs[2]), "b")
        stride = (o["stride_h"], o["stride_w"])
        dilation = (o["dilation_h_factor"], o["dilation_w_factor"])
        x, padding = self.pad_for(x, (h, w), (kh, kw), stride, dilation, o["padding"])
        y = self.call(F.conv2d, x, self.attr(weight, "w"), bias, stride, padding, dilation, groups)
        return self.activation(y, o["fused_activation_function"])

    def op_CONV_2D(self, op):
        return self._conv(op, depthwise=False)

    def op_DEPTHWISE_CONV_2D(self, op):
        return self._conv(op, depthwise=True)

    def op_Convolution2DTransposeBias(self, op: OperatorInfo) -> fx.Node:
        if len(op.custom_options) < 12:
            raise self.fail("Convolution2DTransposeBias has no padding/stride options")
        padding, stride_w, stride_h = struct.unpack_from("<iii", op.custom_options)
        _, h, w, _ = self.shape(op.inputs[0])
        weight = self.const(op.inputs[1]).astype(np.float32)  # OHWI
        kh, kw = weight.shape[1:3]
        pad_h = pad_w = 0
        if padding == _TFLITE_C_PADDING_SAME:
            pad_h = max(0, kh - (h - 1) % stride_h - 1)
            pad_w = max(0, kw - (w - 1) % stride_w - 1)
        out_h = stride_h * (h - 1) + kh - pad_h
        out_w = stride_w * (w - 1) + kw - pad_w
        y = self.call(F.conv_transpose2d, self.value(op.inputs[0]),
                      self.attr(weight.transpose(3, 0, 1, 2), "w"),  # [I, O, kh, kw]
                      self.attr(self.const(op.inputs[2]), "b"), (stride_h, stride_w))
        if pad_h or pad_w:  # full output is (h-1)*s + k; TFLite keeps [pad // 2, pad // 2 + out)
            top, left = pad_h // 2, pad_w // 2
            y = self.call(torch.narrow, y, 2, top, out_h)
            y = self.call(torch.narrow, y, 3, left, out_w)
        return y

    def op_AVERAGE_POOL_2D(self, op: OperatorInfo) -> fx.Node:
        o = op.options
        x = self.value(op.inputs[0])
        _, h, w, _ = self.shape(op.inputs[0])
        kernel, stride = (o["filter_height"], o["filter_width"]), (o["stride_h"], o["stride_w"])
        if kernel == (h, w) and self.shape(op.outputs[0])[1:3] == (1, 1):  # global pooling
            y = self.call(torch.mean, x, (2, 3), True)
        elif o["padding"] == _VALID:
            y = self.call(F.avg_pool2d, x, kernel, stride)
        else:  # SAME: pad with zeros, sum, divide by the number of real pixels in each window
            (t, b), (l, r) = _same_pad(h, kernel[0], stride[0]), _same_pad(w, kernel[1], stride[1])
            ones = F.pad(torch.ones(1, 1, h, w), [l, r, t, b])
            count = F.avg_pool2d(ones, kernel, stride, divisor_override=1)
            x = self.call(F.pad, x, [l, r, t, b])
            total = self.call(F.avg_pool2d, x, kernel, stride, 0, False, True, 1)
            y = self.call(torch.mul, total, self.attr((1.0 / count).numpy(), "n"))
        return self.activation(y, o["fused_activation_function"])

    def op_MEAN(self, op: OperatorInfo) -> fx.Node:
        axes = [int(a) for a in np.atleast_1d(self.const(op.inputs[1]))]
        dims = _nchw_axes(axes, len(self.shape(op.inputs[0])))
        return self.call(torch.mean, self.value(op.inputs[0]), tuple(dims),
                         bool(op.options.get("keep_dims", False)))

    def op_RESIZE_BILINEAR(self, op: OperatorInfo) -> fx.Node:
        x = self.value(op.inputs[0])
        _, h, w, _ = self.shape(op.inputs[0])
        out_h, out_w = (int(v) for v in self.const(op.inputs[1]))
        align, half = bool(op.options["align_corners"]), bool(op.options["half_pixel_centers"])
        if align and half:
            raise self.fail("RESIZE_BILINEAR with both align_corners and half_pixel_centers")
        if half or align:  # torch's two modes match TFLite's exactly
            return self.call(F.interpolate, x, (out_h, out_w), None, "bilinear", align)
        rows = self.attr(_legacy_resize_matrix(h, out_h), "r")  # [out_h, h]
        cols = self.attr(_legacy_resize_matrix(w, out_w).T, "r")  # [w, out_w]
        return self.call(torch.matmul, self.call(torch.matmul, rows, x), cols)

    def _binary(self, fn, op: OperatorInfo) -> fx.Node:
        y = self.call(fn, self.value(op.inputs[0]), self.value(op.inputs[1]))
        return self.activation(y, op.options.get("fused_activation_function", 0))

    def op_ADD(self, op):
        return self._binary(torch.add, op)

    def op_MUL(self, op):
        return self._binary(torch.mul, op)

    def op_SUB(self, op):
        return self._binary(torch.sub, op)

    def op_DIV(self, op):
        return self._binary(torch.div, op)

    def op_RELU(self, op):
        return self.call(F.relu, self.value(op.inputs[0]))

    def op_RELU6(self, op):
        return self.call(F.hardtanh, self.value(op.inputs[0]), 0.0, 6.0)

    def op_HARD_SWISH(self, op):
        return self.call(F.hardswish, self.value(op.inputs[0]))

    def op_PAD(self, op: OperatorInfo) -> fx.Node:
        pads = np.asarray(self.const(op.inputs[1])).astype(int)  # [[n0, n1], [t, b], [l, r], [c0, c1]] (NHWC)
        if pads.shape != (4, 2) or pads[0].any() or pads[3].any():
            raise self.fail(f"PAD other than spatial: {pads.tolist()}")
        (t, b), (l, r) = pads[1], pads[2]
        return self.call(F.pad, self.value(op.inputs[0]), [int(l), int(r), int(t), int(b)])

    def op_MAX_POOL_2D(self, op: OperatorInfo) -> fx.Node:
        o = op.options
        x = self.value(op.inputs[0])
        _, h, w, _ = self.shape(op.inputs[0])
        kernel, stride = (o["filter_height"], o["filter_width"]), (o["stride_h"], o["stride_w"])
        if o["padding"] != _VALID:  # SAME: padded cells never win the maximum
            (t, b), (l, r) = _same_pad(h, kernel[0], stride[0]), _same_pad(w, kernel[1], stride[1])
            x = self.call(F.pad, x, [l, r, t, b], "constant", float("-inf"))
        y = self.call(F.max_pool2d, x, kernel, stride)
        return self.activation(y, o["fused_activation_function"])

    def op_LOGISTIC(self, op):
        return self.call(torch.sigmoid, self.value(op.inputs[0]))

    def op_TANH(self, op):
        return self.call(torch.tanh, self.value(op.inputs[0]))

    # -- whole graph ---------------------------------------------------------------------
    def build(self, output: Optional[str] = None) -> fx.GraphModule:
        """The module computing the graph's single output, or the output tensor named ``output``
        (only the operators it depends on are ported)."""
        if len(self.model.inputs) != 1:
            raise self.fail("expected one input")
        if output is None:
            if len(self.model.outputs) != 1:
                raise self.fail("expected one output")
            target = self.model.outputs[0]
        else:
            named = [i for i in self.model.outputs if self.model.tensors[i].name == output]
            if not named:
                raise self.fail(f"no output named {output!r}")
            target = named[0]
        needed, ops = {target}, []
        for op in reversed(self.model.operators):  # the operators ``target`` depends on
            if needed.intersection(op.outputs):
                ops.append(op)
                needed.update(op.inputs)
        self.nodes[self.model.inputs[0]] = self.graph.placeholder("image")  # [B, C, H, W]
        for op in reversed(ops):
            handler = getattr(self, f"op_{op.name}", None)
            if handler is None:
                raise self.fail(f"unsupported operator {op.name}")
            if len(op.outputs) != 1:
                raise self.fail(f"{op.name} with {len(op.outputs)} outputs")
            node = handler(op)
            if node is not None:
                self.nodes[op.outputs[0]] = node
        self.graph.output(self.value(target))  # [B, C_out, H, W]
        self.graph.lint()
        return fx.GraphModule(self.root, self.graph, class_name="TFLitePort")


def build_module(path, output: Optional[str] = None) -> fx.GraphModule:
    """Port any float ``.tflite`` graph made of the supported operators to an NCHW module
    computing its single output, or the output tensor named ``output``.

    Raises LivematteError when the file is unreadable or uses an operator not ported here.
    """
    return port_model(read_tflite(path), output)


def port_model(model: TFLiteModel, output: Optional[str] = None) -> fx.GraphModule:
    """An already-read ``model``'s graph (its single output, or the one named ``output``) as an
    NCHW ``GraphModule`` in eval mode, without gradients."""
    module = _GraphBuilder(model).build(output)
    module.eval()
    module.requires_grad_(False)
    return module
