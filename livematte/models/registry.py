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
from .spec import BackendSpec, OnnxFormat

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

_IMAGENET = dict(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
_OBJECT = dict(
    module=".objects", family="object", resize="lanczos",
    size_rule="fixed: the picture is Lanczos-resized to the model's input size (as rembg does)",
    output="frame", recurrent=False, soft_alpha=True, partner=None, crop_pass=False, needs_weights=True,
    engines=("numpy", "torch"), runtimes=("onnxruntime",), model_input=False)  # torch: host model, frame down once


def _object(name: str, description: str, size: int, release: str, activation: str = "none", **norm) -> BackendSpec:
    """One rembg model: its facts as rembg's session of that name states them (rembg/sessions/)."""
    return BackendSpec(name, description=f"{description} (rembg's ONNX file, user-supplied)",
                       input_size=(size, size), onnx=OnnxFormat(f"{name}.onnx", release, activation),
                       **{**_IMAGENET, **norm}, **_OBJECT)


_OBJECTS = (
    _object("u2net", "U^2-Net salient object", 320, "u2net.onnx"),
    _object("u2netp", "U^2-Net small (4.7 MB) salient object", 320, "u2netp.onnx"),
    _object("u2net_human_seg", "U^2-Net trained on people", 320, "u2net_human_seg.onnx"),
    _object("silueta", "Silueta (U^2-Net, 43 MB) salient object", 320, "silueta.onnx"),
    _object("isnet-general-use", "IS-Net DIS general use", 1024, "isnet-general-use.onnx", mean=0.5, std=1.0),
    _object("isnet-anime", "IS-Net for anime characters", 1024, "isnet-anime.onnx", std=1.0),
    _object("birefnet-general", "BiRefNet general", 1024, "BiRefNet-general-epoch_244.onnx", "sigmoid"),
    _object("birefnet-general-lite", "BiRefNet general, Swin-T backbone", 1024,
            "BiRefNet-general-bb_swin_v1_tiny-epoch_232.onnx", "sigmoid"),
    _object("birefnet-portrait", "BiRefNet portrait", 1024, "BiRefNet-portrait-epoch_150.onnx", "sigmoid"),
    _object("birefnet-dis", "BiRefNet DIS", 1024, "BiRefNet-DIS-epoch_590.onnx", "sigmoid"),
    _object("birefnet-hrsod", "BiRefNet HRSOD", 1024, "BiRefNet-HRSOD_DHU-epoch_115.onnx", "sigmoid"),
    _object("birefnet-cod", "BiRefNet camouflaged objects", 1024, "BiRefNet-COD-epoch_125.onnx", "sigmoid"),
    _object("birefnet-massive", "BiRefNet massive dataset", 1024,
            "BiRefNet-massive-TR_DIS5K_TR_TEs-epoch_420.onnx", "sigmoid"),
    _object("bria-rmbg", "BRIA RMBG 2.0 (non-commercial licence)", 1024, "bria-rmbg-2.0.onnx"),
)

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
    *_OBJECTS,
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
