"""Salient-object backends: model files in rembg's ONNX format, run with onnxruntime.

A rembg user's downloaded files work as they are: a file is looked up, in order, as ``--weights``
(a file), in the weights folder (``weights/`` of the checkout or ``./weights``), in
``$LIVEMATTE_WEIGHTS``, then in rembg's own folders (``$U2NET_HOME``, else ``~/.u2net``; and
``models/NAME/`` under rembg's newer home, ``$REMBG_HOME``, else ``~/.rembg``), under rembg's
local name (``u2net.onnx``) or the release asset's name (``BiRefNet-general-epoch_244.onnx``).

The mask is rembg's own (``rembg.remove(..., only_mask=True)``, post-processing off), step for
step (see :class:`~livematte.models.spec.OnnxFormat`): the same Pillow Lanczos resizes, the same
float64 arithmetic and the same 8-bit truncation; ``scripts/rembg_parity.py`` measures it.
onnxruntime's CUDA execution provider is used when onnxruntime-gpu and a CUDA device are present.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional

import numpy as np

from ..types import LivematteError
from .base import BackendInfo
from .checkpoints import ENV_VAR, reject_options
from .registry import spec as backend_spec
from .spec import REMBG_RELEASES, BackendSpec

INSTALL = "pip install 'livematte[objects]' (onnxruntime; onnxruntime-gpu for CUDA)"


def search_folders(name: str) -> List[Path]:
    """The folders searched for backend ``name``'s file, in order (after ``--weights``)."""
    checkout = Path(__file__).resolve().parents[2]
    local = checkout / "weights" if (checkout / "pyproject.toml").is_file() else Path.cwd() / "weights"
    folders = [local]
    env = os.environ.get(ENV_VAR)
    if env:
        folders.append(Path(env).expanduser())
    u2net_home = os.environ.get("U2NET_HOME")
    folders.append(Path(u2net_home or "~/.u2net").expanduser())  # rembg's flat folder
    rembg_home = Path(u2net_home or os.environ.get("REMBG_HOME") or "~/.rembg").expanduser()
    folders.append(rembg_home / "models" / name)  # rembg's per-model folder
    unique: List[Path] = []
    for folder in folders:
        if folder not in unique:
            unique.append(folder)
    return unique


def _candidates(s: BackendSpec) -> List[str]:
    names = [s.onnx.filename]
    if s.onnx.release not in names:
        names.append(s.onnx.release)
    return names


def find_file(name: str) -> Optional[Path]:
    """Backend ``name``'s file in the search folders, or None."""
    s = backend_spec(name)
    for folder in search_folders(name):
        for filename in _candidates(s):
            if (folder / filename).is_file():
                return folder / filename
    return None


def missing_message(name: str) -> str:
    """One line: the file, the folders searched, where rembg publishes it."""
    s = backend_spec(name)
    folders = ", ".join(str(f) for f in search_folders(name))
    return (f"{name}: model file {s.onnx.filename} not found (searched {folders}); download "
            f"{s.onnx.release} from {REMBG_RELEASES} (tag v0.0.0) into one of them, or pass --weights FILE")


def resolve(name: str, weights=None) -> Path:
    """The file to load for ``name``: ``weights`` when given, else the first found; LivematteError otherwise."""
    if weights is not None:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise LivematteError(f"{path}: model file not found (--weights FILE)")
        return path
    path = find_file(name)
    if path is None:
        raise LivematteError(missing_message(name))
    return path


def providers(device: Optional[str]) -> List[str]:
    """onnxruntime execution providers for ``device`` (auto: CUDA when onnxruntime has it)."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    if device == "cuda" and "CUDAExecutionProvider" not in available:
        raise LivematteError("device 'cuda': onnxruntime has no CUDA provider here; pip install onnxruntime-gpu")
    if device in (None, "auto", "cuda") and "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def lanczos(image: np.ndarray, size) -> np.ndarray:
    """Pillow's Lanczos resize of uint8 ``(H, W, 3)`` or ``(H, W)`` to ``size`` ``(h, w)`` (rembg's resize)."""
    from PIL import Image

    h, w = size
    return np.asarray(Image.fromarray(image).resize((w, h), Image.Resampling.LANCZOS))


class ObjectModel:
    """One rembg-format ONNX file: ``predict(image)`` -> its mask float32 ``(H, W)`` in [0, 1]
    (multiples of 1/255: rembg's 8-bit mask), ``mask(image)`` -> the same as uint8."""

    def __init__(self, name: str, path: Path, *, device: Optional[str] = "auto", threads: int = 0):
        import onnxruntime as ort

        self.name, self.path, self.spec = name, Path(path), backend_spec(name)
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = int(threads)
        try:
            self.session = ort.InferenceSession(str(self.path), sess_options=options, providers=providers(device))
        except Exception as err:  # onnxruntime raises its own exception types for a bad file
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise LivematteError(f"{self.path}: not a usable ONNX model ({first[:160]})") from None
        inputs = self.session.get_inputs()
        shape = tuple(inputs[0].shape) if inputs else ()
        want = (1, 3, *self.spec.input_size)
        if len(shape) != 4 or any(isinstance(d, int) and d != w for d, w in zip(shape, want)):
            raise LivematteError(f"{self.path}: input {list(shape)}, expected {list(want)}: not a {name} file?")
        self.input_name = inputs[0].name
        self.device = "cuda" if self.session.get_providers()[0].startswith("CUDA") else "cpu"

    def model_input(self, image: np.ndarray) -> np.ndarray:
        """RGB uint8 ``(H, W, 3)`` -> float32 ``[1, 3, h, w]`` as rembg feeds it."""
        x = lanczos(image, self.spec.input_size)  # (h, w, 3) uint8
        x = x / max(np.max(x), 1e-6)  # float64, divided by the resized picture's maximum
        mean = np.asarray(self.spec.mean, np.float64).reshape(-1)
        std = np.asarray(self.spec.std, np.float64).reshape(-1)
        x = (x - mean) / std  # (h, w, 3) float64
        return x.transpose(2, 0, 1)[None].astype(np.float32)

    def raw_output(self, image: np.ndarray) -> np.ndarray:
        """The network's output 0, channel 0, float32 ``(h, w)`` before any post-processing."""
        return self.session.run(None, {self.input_name: self.model_input(image)})[0][0, 0]

    def mask(self, image: np.ndarray) -> np.ndarray:
        """RGB uint8 ``(H, W, 3)`` -> the model's 8-bit mask ``(H, W)`` (rembg's ``only_mask``)."""
        pred = self.raw_output(image).astype(np.float32)
        if self.spec.onnx.activation == "sigmoid":
            pred = 1 / (1 + np.exp(-pred))
        lo, hi = np.min(pred), np.max(pred)
        pred = (pred - lo) / (hi - lo) if hi > lo else np.zeros_like(pred)  # rembg divides by 0 here: NaN
        small = (np.clip(pred, 0, 1) * 255).astype(np.uint8)  # truncated, as rembg does
        return lanczos(small, image.shape[:2])

    def predict(self, image: np.ndarray) -> np.ndarray:
        """RGB uint8 ``(H, W, 3)`` -> float32 ``(H, W)`` in [0, 1]."""
        return self.mask(image).astype(np.float32) * np.float32(1 / 255)

    def reset(self) -> None:
        """Stateless."""


def backend_info(name: str) -> BackendInfo:
    """Usable when onnxruntime imports and the file is found."""
    s = backend_spec(name)
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return BackendInfo(name, s.description, False, f"onnxruntime is not installed: {INSTALL}")
    path = find_file(name)
    if path is None:
        return BackendInfo(name, s.description, False,
                           f"no {s.onnx.filename} in {', '.join(str(f) for f in search_folders(name))} "
                           f"(rembg's releases: {REMBG_RELEASES}) or pass --weights FILE")
    return BackendInfo(name, s.description, True)


def create(name: str, *, runtime: Optional[str] = None, device: Optional[str] = "auto", weights=None,
           threads: int = 0, **options) -> ObjectModel:
    """The backend ``name`` from its file (see the module docstring); LivematteError when unusable."""
    reject_options(name, options)
    if runtime not in (None, "auto", "onnxruntime"):
        raise LivematteError(f"{name}: runs on onnxruntime; runtime {runtime!r} is for the selfie models")
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        raise LivematteError(f"{name}: onnxruntime is not installed: {INSTALL}") from None
    return ObjectModel(name, resolve(name, weights), device=device, threads=threads or 0)
