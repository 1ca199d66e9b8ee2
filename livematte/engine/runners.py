"""Model runners: one callable per network, made by the engine that runs the frame path.

A runner is called with an engine image and returns the network's probability / alpha as a map on
the engine:

* model-input backends (the selfie family, the pose model): ``runner(x)`` with ``x`` the region
  already at ``runner.input_size`` (8-bit ``(h, w, 3)``, area-averaged by the pyramid) ->
  float32 ``(h, w)``;
* whole-frame backends (modnet, rvm): ``runner(image)`` with the frame -> float32 at the backend's
  output grid (``BackendSpec.output``).

``runner.settle(x)`` is called once on the first frame with a model input: on CUDA with precision
``auto`` it keeps fp16 only where it agrees with fp32 (:data:`FP16_TOLERANCE`). Runners of the torch
engine replay from CUDA graphs on CUDA and hand out copies (a replay overwrites its outputs).
"""
from __future__ import annotations

import copy
from typing import Optional, Tuple

import numpy as np

from ..types import LivematteError

PRECISIONS = ("auto", "fp32", "fp16")
#: fp16 is kept only when, on the first frame, it differs from fp32 by at most this (mean, max)
FP16_TOLERANCE = (2e-3, 0.1)


class Runner:
    """What every runner has: ``input_size`` (None for whole-frame backends), ``model_input``,
    ``precision``, ``__call__``, ``eager`` (the same call, never replayed from a graph: for use
    inside a bigger captured function), ``settle`` and ``reset``."""

    input_size: Optional[Tuple[int, int]] = None
    model_input = False
    precision = "fp32"

    def __call__(self, x):  # pragma: no cover - every runner defines it
        raise NotImplementedError

    def eager(self, x):
        return self(x)

    def settle(self, x) -> None:
        """Nothing to choose by default."""

    def reset(self) -> None:
        """Stateless by default."""


class HostRunner(Runner):
    """A backend object of :mod:`livematte.models` on the numpy engine (host arrays in and out)."""

    def __init__(self, backend, *, model_input: bool):
        self.backend, self.model_input = backend, model_input
        self.input_size = tuple(backend.input_size) if model_input else None

    def __call__(self, x) -> np.ndarray:
        if self.model_input:
            return np.asarray(self.backend.predict_model_input(np.ascontiguousarray(x)), np.float32)
        return np.asarray(self.backend.predict(np.ascontiguousarray(x)), np.float32)

    def reset(self) -> None:
        self.backend.reset()


class HostOnEngineRunner(Runner):
    """A host backend (onnxruntime: the object family) on the torch engine: the frame comes down
    once, its mask (float32 ``(H, W)``) goes up once."""

    def __init__(self, engine, backend):
        self.engine, self.backend = engine, backend

    def __call__(self, image):
        return self.engine.ops.from_host(np.asarray(self.backend.predict(self.engine.download(image)), np.float32))

    def reset(self) -> None:
        self.backend.reset()


def check_precision(precision: str, engine) -> None:
    """One-line errors for an unknown precision, or fp16 off CUDA."""
    if precision not in PRECISIONS:
        raise LivematteError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "fp16" and not engine.cuda:
        raise LivematteError("precision fp16 needs --device cuda (fp16 convolutions are slow on the CPU)")


class TorchNetRunner(Runner):
    """A ported model-input network (a selfie model or the pose model) on the torch engine.

    Args:
        engine: the torch engine.
        net: the fp32 module: ``[1, 3, h, w]`` in [0, 1] -> ``[1, 1, h, w]`` probability.
        input_size: the module's fixed ``(h, w)``.
        precision: ``auto``, ``fp32`` or ``fp16`` (see the module docstring).
        half: make the fp16 copy (None: fp32 only).
    """

    model_input = True

    def __init__(self, engine, net, input_size, *, precision: str = "auto", half=None):
        check_precision(precision, engine)
        self.engine, self.input_size = engine, tuple(input_size)
        self.fp32 = net
        self.fp16 = half(net) if half is not None and engine.cuda and precision != "fp32" else None
        self.net = self.fp16 if precision == "fp16" else self.fp32
        self.precision = "fp16" if precision == "fp16" else "fp32"
        self.pending = precision == "auto" and self.fp16 is not None
        self.precision_check: Optional[Tuple[float, float]] = None
        self.call = engine.capture(self.eager)

    def _input(self, x, dtype):
        import torch

        t = (x.permute(2, 0, 1).float() * (1 / 255))[None]  # [1, 3, h, w] in [0, 1]
        return t.to(dtype).contiguous(memory_format=torch.channels_last)

    def eager(self, x):
        """8-bit ``[h, w, 3]`` -> float32 ``[h, w]``, not captured (for use inside a bigger capture)."""
        import torch

        dtype = torch.float16 if self.net is self.fp16 else torch.float32
        return self.net(self._input(x, dtype))[0, 0].float()

    def __call__(self, x):
        return self.call(x).clone()

    def settle(self, x) -> None:
        if not self.pending:
            return
        import torch

        self.pending = False
        a = self.fp32(self._input(x, torch.float32)).float()
        b = self.fp16(self._input(x, torch.float16)).float()
        d = (a - b).abs()
        self.precision_check = (float(d.mean()), float(d.max()))
        ok = self.precision_check[0] <= FP16_TOLERANCE[0] and self.precision_check[1] <= FP16_TOLERANCE[1]
        self.net, self.precision = (self.fp16, "fp16") if ok else (self.fp32, "fp32")


class TorchBackendRunner(Runner):
    """A whole-frame torch backend (modnet, rvm) on the torch engine: the frame in as a tensor,
    the backend's own output grid out (``BackendSpec.output``: modnet's working size, rvm's frame)."""

    def __init__(self, engine, backend, spec, *, precision: str = "auto"):
        check_precision(precision, engine)
        self.engine, self.spec = engine, spec
        self.fp32 = backend
        self.fp16 = None
        if engine.cuda and precision != "fp32":
            self.fp16 = copy.deepcopy(backend)
            self.fp16.net.half()
        self.backend = self.fp16 if precision == "fp16" else self.fp32
        self.precision = "fp16" if precision == "fp16" else "fp32"
        self.pending = precision == "auto" and self.fp16 is not None
        self.precision_check: Optional[Tuple[float, float]] = None

    def _run(self, backend, image):
        x = (image.permute(2, 0, 1).float() * (1 / 255))[None]  # [1, 3, H, W] in [0, 1]
        if self.spec.output == "frame":
            return backend.forward_tensor(x)[0, 0].float()
        return backend.infer(x)[0, 0].float()

    def __call__(self, image):
        return self._run(self.backend, image)

    def settle(self, image) -> None:
        if not self.pending:
            return
        self.pending = False
        a, b = self._run(self.fp32, image), self._run(self.fp16, image)
        self.fp32.reset()
        self.fp16.reset()
        d = (a - b).abs()
        self.precision_check = (float(d.mean()), float(d.max()))
        ok = self.precision_check[0] <= FP16_TOLERANCE[0] and self.precision_check[1] <= FP16_TOLERANCE[1]
        self.backend, self.precision = (self.fp16, "fp16") if ok else (self.fp32, "fp32")

    def reset(self) -> None:
        self.backend.reset()


def segmenter_runner(engine, name: str, *, runtime: str = "auto", threads: int = 0, weights=None,
                     precision: str = "auto", backend=None, device: str = "auto"):
    """The runner of backend ``name`` on ``engine`` (``backend``: one already built, e.g. with
    random weights). LivematteError when the engine cannot run it. ``device``: where an
    onnxruntime backend (the object family) runs on the numpy engine; other host backends run on
    the CPU there."""
    from ..models import create
    from ..models.registry import spec as backend_spec

    s = backend_spec(name)
    if engine.name not in s.engines:
        raise LivematteError(f"the {engine.name} engine cannot run {name!r} (it runs on: {', '.join(s.engines)})")
    if engine.name == "numpy":
        if backend is None:
            host = device if "onnxruntime" in s.runtimes else "cpu"
            backend = create(name, runtime=runtime, device=host, weights=weights, threads=threads)
        return HostRunner(backend, model_input=s.model_input)
    if "onnxruntime" in s.runtimes:  # a host model: its own execution provider, not torch
        if backend is None:
            backend = create(name, runtime=runtime, device=device, weights=weights, threads=threads)
        return HostOnEngineRunner(engine, backend)
    if s.model_input:
        if backend is not None:
            raise LivematteError(f"a prebuilt backend is for the whole-frame models, not {name!r}")
        from ..models.torch_port import load_selfie_torch
        from .graphs import half_with_fp32_head

        net = load_selfie_torch(name, device=engine.device)
        return TorchNetRunner(engine, net, net.input_size, precision=precision, half=half_with_fp32_head)
    if backend is None:
        backend = create(name, runtime=runtime, device=str(engine.device), weights=weights, threads=threads)
    elif backend.device.type != engine.device.type:
        raise LivematteError(f"the prebuilt {name} backend is on {backend.device}, the engine on {engine.device}")
    return TorchBackendRunner(engine, backend, s, precision=precision)


def pose_runner(engine, *, threads: int = 1, runtime: str = "auto"):
    """The bundled pose model's person mask on ``engine`` (input 256x256); on the numpy engine
    ``runtime`` torch runs the torch engine's port on the CPU instead of LiteRT."""
    if engine.name == "numpy":
        from ..models.pose import PoseMask

        return HostRunner(PoseMask(threads=threads, runtime=runtime), model_input=True)
    from ..models.torch_port import PoseMaskNet, load_pose_torch

    return TorchNetRunner(engine, load_pose_torch(engine.device), PoseMaskNet.input_size, precision="fp32")
