"""Backend registry: ``spec(name)`` says what a backend is, ``create(name)`` builds it,
``list_backends()`` says what is usable.

Every fact about a backend lives in the one table ``_BACKENDS`` below (a
:class:`~livematte.models.spec.BackendSpec` per name); the rest of livematte reads the spec
instead of testing names. No import side effects: each spec names the module that holds the
backend, imported only when that backend is built or inspected.
"""
from __future__ import annotations

import dataclasses
import importlib
from typing import Dict, List, Optional, Tuple

from ..types import LivematteError
from .base import BackendInfo, Segmenter
from .spec import BackendSpec

# Facts shared by the members of each family (read from the model files and the backends' modules).
_SELFIE = dict(
    module=".selfie", family="selfie", mean=0.0, std=1.0,  # RGB / 255 in [0, 1], NHWC float32
    resize="area", size_rule="fixed: the frame is area-averaged to the model's input size",
    output="model", recurrent=False, soft_alpha=False, crop_pass=True, needs_weights=False,
    engines=("numpy", "torch"),  # torch: the port built from the .tflite file (models/torch_port.py)
    runtimes=("mediapipe", "litert", "torch"), model_input=True)
_MATTING = dict(
    family="matting", input_size=None, soft_alpha=True, partner=None, crop_pass=False, needs_weights=True,
    engines=("numpy", "torch"), runtimes=("torch",), model_input=False)

_BACKENDS: Dict[str, BackendSpec] = {s.name: s for s in (
    BackendSpec("selfie", description="MediaPipe selfie segmenter, general (MobileNetV3, 256x256), "
                "bundled with mediapipe", input_size=(256, 256), partner="selfie-landscape", **_SELFIE),
    BackendSpec("selfie-landscape", description="MediaPipe selfie segmenter, landscape (MobileNetV3, 144x256), "
                "bundled with mediapipe", input_size=(144, 256), partner="selfie", **_SELFIE),
    BackendSpec("modnet", module=".modnet",
                description="MODNet portrait matting, MobileNetV2 (user-supplied checkpoint, Apache-2.0)",
                mean=0.5, std=0.5, resize="area",  # RGB in [-1, 1]
                size_rule="short side to ref_size (512) unless the frame straddles it, each side floored "
                          "to a multiple of 32",
                output="working", recurrent=False, **_MATTING),
    BackendSpec("rvm", module=".rvm",
                description="Robust Video Matting, MobileNetV3, recurrent (user-supplied checkpoint, GPL-3.0)",
                mean=0.0, std=1.0, resize="bilinear",  # RGB in [0, 1]
                size_rule="downsample_ratio keeps the long side at 480 px (768 full body; 1 up to 512 px), "
                          "a deep guided filter returns the matte at full size",
                output="frame", recurrent=True, **_MATTING),
)}


def names(family: Optional[str] = None) -> List[str]:
    """All registered backend names in display order, or those of one ``family``."""
    return [n for n, s in _BACKENDS.items() if family is None or s.family == family]


#: the matting networks (user-supplied checkpoints, soft alpha at any size); prefer ``spec(name).family``
MATTING_MODELS: Tuple[str, ...] = tuple(names("matting"))


def spec(name: str) -> BackendSpec:
    """The :class:`BackendSpec` of ``name``; an unknown name raises LivematteError listing the valid ones."""
    try:
        return _BACKENDS[name]
    except (KeyError, TypeError):
        raise LivematteError(f"unknown model {name!r}; choose one of: {', '.join(_BACKENDS)}") from None


def specs() -> List[BackendSpec]:
    """Every backend's spec, in display order."""
    return list(_BACKENDS.values())


def backend_module(name: str):
    """The module holding backend ``name`` (imported now); LivematteError for an unknown name."""
    return importlib.import_module(spec(name).module, __package__)


def create(name: str, **options) -> Segmenter:
    """Build the backend ``name``; unknown or unusable names raise LivematteError."""
    return backend_module(name).create(name, **options)


def info(name: str) -> BackendInfo:
    """What ``livematte models`` shows for one backend (its spec attached)."""
    s = spec(name)
    try:
        row = backend_module(name).backend_info(name)
    except ImportError as err:  # an optional dependency is missing
        row = BackendInfo(name, s.description, False, f"cannot import {err.name}: pip install it")
    return dataclasses.replace(row, resolution=s.input_size, spec=s)


def list_backends() -> List[BackendInfo]:
    """Every backend with whether it is usable here and why not."""
    return [info(n) for n in _BACKENDS]
