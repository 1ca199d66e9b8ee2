"""A minimal reader for TensorFlow Lite model files (``.tflite`` flatbuffers).

It reads just what is needed to rebuild a float network elsewhere (the torch port in
:mod:`livematte.models.torch_port`): the first subgraph's tensors (name, shape, type,
constant data), its operators in execution order (operator name, input / output tensor
indices, builtin options as a dict, raw custom options) and the graph's inputs / outputs.

It uses only the ``flatbuffers`` package's low-level ``Table`` accessors; field positions
follow the public TFLite schema (``tensorflow/lite/schema/schema.fbs``), where field ``n``
of a table lives at vtable slot ``4 + 2 * n`` and a union takes two fields (type, value).

Every problem with the file (missing, unreadable, not a TFLite flatbuffer, truncated,
inconsistent indices) raises :class:`livematte.types.LivematteError` naming the file.

Example:
    >>> model = read_tflite(path)                       # doctest: +SKIP
    >>> [op.name for op in model.operators][:2]         # doctest: +SKIP
    ['DEQUANTIZE', 'CONV_2D']
"""
from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np
from flatbuffers import number_types as N
from flatbuffers.table import Table

from ..types import LivematteError

# TensorType enum -> numpy dtype (little endian, as stored).
TENSOR_DTYPES: Dict[int, np.dtype] = {
    0: np.dtype("<f4"),  # FLOAT32
    1: np.dtype("<f2"),  # FLOAT16
    2: np.dtype("<i4"),  # INT32
    3: np.dtype("u1"),  # UINT8
    4: np.dtype("<i8"),  # INT64
    6: np.dtype("?"),  # BOOL
    7: np.dtype("<i2"),  # INT16
    9: np.dtype("i1"),  # INT8
    10: np.dtype("<f8"),  # FLOAT64
}

# BuiltinOperator enum values this project meets (others keep a numeric name).
BUILTIN_NAMES: Dict[int, str] = {
    0: "ADD", 1: "AVERAGE_POOL_2D", 2: "CONCATENATION", 3: "CONV_2D",
    4: "DEPTHWISE_CONV_2D", 6: "DEQUANTIZE", 9: "FULLY_CONNECTED", 14: "LOGISTIC",
    17: "MAX_POOL_2D", 18: "MUL", 19: "RELU", 21: "RELU6", 22: "RESHAPE",
    23: "RESIZE_BILINEAR", 25: "SOFTMAX", 28: "TANH", 32: "CUSTOM", 34: "PAD",
    40: "MEAN", 41: "SUB", 42: "DIV", 67: "TRANSPOSE_CONV", 117: "HARD_SWISH",
}
CUSTOM = 32

# BuiltinOptions union tag -> list of (field name, field index, struct format, default).
# Struct formats: "b" byte / enum, "i" int32, "?" bool.
_OPTIONS: Dict[int, Tuple[str, List[Tuple[str, int, str, object]]]] = {
    1: ("Conv2DOptions", [("padding", 0, "b", 0), ("stride_w", 1, "i", 0),
                          ("stride_h", 2, "i", 0), ("fused_activation_function", 3, "b", 0),
                          ("dilation_w_factor", 4, "i", 1), ("dilation_h_factor", 5, "i", 1)]),
    2: ("DepthwiseConv2DOptions", [("padding", 0, "b", 0), ("stride_w", 1, "i", 0),
                                   ("stride_h", 2, "i", 0), ("depth_multiplier", 3, "i", 0),
                                   ("fused_activation_function", 4, "b", 0),
                                   ("dilation_w_factor", 5, "i", 1),
                                   ("dilation_h_factor", 6, "i", 1)]),
    5: ("Pool2DOptions", [("padding", 0, "b", 0), ("stride_w", 1, "i", 0),
                          ("stride_h", 2, "i", 0), ("filter_width", 3, "i", 0),
                          ("filter_height", 4, "i", 0), ("fused_activation_function", 5, "b", 0)]),
    11: ("AddOptions", [("fused_activation_function", 0, "b", 0)]),
    15: ("ResizeBilinearOptions", [("align_corners", 2, "?", False),
                                   ("half_pixel_centers", 3, "?", False)]),
    21: ("MulOptions", [("fused_activation_function", 0, "b", 0)]),
    27: ("ReducerOptions", [("keep_dims", 0, "?", False)]),
    28: ("SubOptions", [("fused_activation_function", 0, "b", 0)]),
    29: ("DivOptions", [("fused_activation_function", 0, "b", 0)]),
}
_FLAGS = {"b": N.Int8Flags, "i": N.Int32Flags, "?": N.BoolFlags}


@dataclass(frozen=True)
class TensorInfo:
    """One tensor of the graph.

    Attributes:
        index: position in the subgraph's tensor list.
        name: the tensor's name in the file.
        shape: dimensions (NHWC for activations, as TFLite stores them).
        dtype: numpy dtype of the elements.
        data: the constant's contents shaped ``shape`` (read-only view), or None for activations.
    """

    index: int
    name: str
    shape: Tuple[int, ...]
    dtype: np.dtype
    data: Optional[np.ndarray] = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class OperatorInfo:
    """One operator, in execution order.

    Attributes:
        name: builtin operator name (``"CONV_2D"``) or, for custom ops, the custom code
            (``"Convolution2DTransposeBias"``).
        inputs, outputs: tensor indices (-1 marks an omitted optional input).
        options: builtin options decoded into a dict (empty when the op has none or its
            options table is not one this reader knows).
        options_type: the BuiltinOptions union tag (0 = none).
        custom_options: raw custom option bytes (custom ops), else ``b""``.
    """

    name: str
    inputs: Tuple[int, ...]
    outputs: Tuple[int, ...]
    options: Dict[str, object]
    options_type: int = 0
    custom_options: bytes = b""
    builtin: bool = True


@dataclass(frozen=True)
class TFLiteModel:
    """The first subgraph of a ``.tflite`` file."""

    path: str
    tensors: List[TensorInfo]
    operators: List[OperatorInfo]
    inputs: Tuple[int, ...]
    outputs: Tuple[int, ...]

    def op_counts(self) -> Dict[str, int]:
        """How many operators of each name the graph holds."""
        counts: Dict[str, int] = {}
        for op in self.operators:
            counts[op.name] = counts.get(op.name, 0) + 1
        return counts


class _Reader:
    """Field access on top of ``flatbuffers.table.Table`` with schema field indices."""

    def __init__(self, buf: bytes):
        self.buf = buf

    def root(self) -> Table:
        return Table(self.buf, struct.unpack_from("<I", self.buf, 0)[0])

    @staticmethod
    def _slot(index: int) -> int:
        return 4 + 2 * index

    def scalar(self, tab: Table, index: int, fmt: str, default):
        return tab.GetSlot(self._slot(index), default, _FLAGS[fmt])

    def uint32(self, tab: Table, index: int, default: int = 0) -> int:
        return tab.GetSlot(self._slot(index), default, N.Uint32Flags)

    def uint8(self, tab: Table, index: int, default: int = 0) -> int:
        return tab.GetSlot(self._slot(index), default, N.Uint8Flags)

    def uint64(self, tab: Table, index: int, default: int = 0) -> int:
        return tab.GetSlot(self._slot(index), default, N.Uint64Flags)

    def string(self, tab: Table, index: int) -> str:
        off = tab.Offset(self._slot(index))
        return tab.String(tab.Pos + off).decode("utf-8") if off else ""

    def vector(self, tab: Table, index: int, dtype: str) -> np.ndarray:
        off = tab.Offset(self._slot(index))
        if not off:
            return np.zeros(0, dtype)
        start, length = tab.Vector(off), tab.VectorLen(off)
        return np.frombuffer(self.buf, dtype, count=length, offset=start)

    def tables(self, tab: Table, index: int) -> List[Table]:
        off = tab.Offset(self._slot(index))
        if not off:
            return []
        start, length = tab.Vector(off), tab.VectorLen(off)
        if start + 4 * length > len(self.buf):
            raise ValueError("table vector runs past the end of the file")
        return [Table(self.buf, tab.Indirect(start + 4 * i)) for i in range(length)]

    def table(self, tab: Table, index: int) -> Optional[Table]:
        off = tab.Offset(self._slot(index))
        return Table(self.buf, tab.Indirect(tab.Pos + off)) if off else None


def _operator_names(rd: _Reader, codes: List[Table]) -> List[Tuple[str, bool]]:
    """OperatorCode table -> (name, is_builtin); custom ops are named by their custom code."""
    names = []
    for code in codes:
        # deprecated_builtin_code (field 0, int8) predates builtin_code (field 3, int32);
        # the effective code is the larger of the two (schema 3a rule).
        deprecated = rd.scalar(code, 0, "b", 0)
        builtin = rd.scalar(code, 3, "i", 0)
        value = max(deprecated, builtin)
        if value == CUSTOM:
            names.append((rd.string(code, 1) or "CUSTOM", False))
        else:
            names.append((BUILTIN_NAMES.get(value, f"BUILTIN_{value}"), True))
    return names


def _options(rd: _Reader, op: Table) -> Tuple[int, Dict[str, object]]:
    kind = rd.uint8(op, 3)
    spec = _OPTIONS.get(kind)
    sub = rd.table(op, 4) if kind else None
    if spec is None or sub is None:
        return kind, {}
    return kind, {name: rd.scalar(sub, idx, fmt, dflt) for name, idx, fmt, dflt in spec[1]}


def _buffer_data(rd: _Reader, buf: Table) -> Optional[memoryview]:
    data = rd.vector(buf, 0, "u1")
    if data.size:
        return memoryview(data)
    offset, size = rd.uint64(buf, 1), rd.uint64(buf, 2)
    if offset > 1 and size:  # large models keep data after the flatbuffer
        if offset + size > len(rd.buf):
            raise ValueError("buffer data past the end of the file")
        return memoryview(rd.buf)[offset:offset + size]
    return None


def _parse(path: str, raw: bytes) -> TFLiteModel:
    rd = _Reader(raw)
    model = rd.root()
    names = _operator_names(rd, rd.tables(model, 1))
    buffers = [_buffer_data(rd, b) for b in rd.tables(model, 4)]
    subgraphs = rd.tables(model, 2)
    if not subgraphs:
        raise ValueError("the model has no subgraph")
    graph = subgraphs[0]

    tensors = []
    for i, t in enumerate(rd.tables(graph, 0)):
        shape = tuple(int(d) for d in rd.vector(t, 0, "<i4"))
        type_code = rd.scalar(t, 1, "b", 0)
        dtype = TENSOR_DTYPES.get(type_code)
        buffer_index = rd.uint32(t, 2)
        if buffer_index >= len(buffers):
            raise ValueError(f"tensor {i} names buffer {buffer_index} of {len(buffers)}")
        data = None
        blob = buffers[buffer_index]
        if blob is not None:
            if dtype is None:
                raise ValueError(f"constant tensor {i} has unsupported type {type_code}")
            count = int(np.prod(shape)) if shape else 1
            if count * dtype.itemsize != len(blob):
                raise ValueError(f"tensor {i}: {len(blob)} bytes for shape {shape}")
            data = np.frombuffer(blob, dtype).reshape(shape)
        tensors.append(TensorInfo(i, rd.string(t, 3), shape, dtype or np.dtype("V1"), data))

    def indices(vec: np.ndarray, what: str) -> Tuple[int, ...]:
        out = tuple(int(v) for v in vec)
        if any(v < -1 or v >= len(tensors) for v in out):
            raise ValueError(f"{what} names a tensor out of range")
        return out

    operators = []
    for k, op in enumerate(rd.tables(graph, 3)):
        code = rd.uint32(op, 0)
        if code >= len(names):
            raise ValueError(f"operator {k} has opcode index {code} of {len(names)}")
        name, builtin = names[code]
        kind, opts = _options(rd, op)
        custom = bytes(rd.vector(op, 5, "u1"))
        operators.append(OperatorInfo(name, indices(rd.vector(op, 1, "<i4"), f"operator {k}"),
                                      indices(rd.vector(op, 2, "<i4"), f"operator {k}"),
                                      opts, kind, custom, builtin))
    return TFLiteModel(path, tensors, operators,
                       indices(rd.vector(graph, 1, "<i4"), "graph inputs"),
                       indices(rd.vector(graph, 2, "<i4"), "graph outputs"))


def read_tflite(path) -> TFLiteModel:
    """Read the first subgraph of the ``.tflite`` file at ``path``.

    Raises:
        LivematteError: the file is missing, unreadable, or not a valid TFLite model.
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as err:
        raise LivematteError(f"{path}: cannot read model file ({err.strerror or err})") from None
    if len(raw) < 8 or raw[4:8] != b"TFL3":
        raise LivematteError(f"{path}: not a TensorFlow Lite model (no TFL3 identifier)")
    try:
        return _parse(path, raw)
    except LivematteError:
        raise
    except struct.error:
        raise LivematteError(f"{path}: corrupt TensorFlow Lite model (truncated or damaged: "
                             f"an offset points outside the file)") from None
    except (IndexError, ValueError, UnicodeDecodeError, OverflowError) as err:
        raise LivematteError(f"{path}: corrupt TensorFlow Lite model ({err})") from None
