"""Finding and strictly loading user-supplied checkpoint files (MODNet, RVM).

Checkpoints are not shipped: users download the official files and put them in the
weights folder (see ``weights/README.md``) or pass ``--weights PATH``. Everything that
goes wrong here raises :class:`~livematte.types.LivematteError` with a one-line message
naming the file and what to do.

The weights folder is, in order: the environment variable ``LIVEMATTE_WEIGHTS``; the
``weights/`` folder of the source checkout this package runs from; ``./weights`` under
the current directory.

Example:
    >>> spec = CheckpointSpec("demo", "demo.pth", url="https://example.org/demo.pth", licence="MIT")
    >>> missing_reason(spec) == f"put demo.pth in {weights_dir()} (see weights/README.md) or pass --weights PATH"
    True
    >>> resolve(spec)
    Traceback (most recent call last):
    ...
    livematte.types.LivematteError: demo: checkpoint ...demo.pth not found; put demo.pth in ... or pass --weights PATH
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Mapping, Optional, Sequence, Union

import torch
from torch import nn

from ..types import LivematteError

PathLike = Union[str, "os.PathLike[str]"]

ENV_VAR = "LIVEMATTE_WEIGHTS"
_REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class CheckpointSpec:
    """One published checkpoint file a backend can load.

    Attributes:
        name: short label used in messages (``"modnet photographic"``).
        filename: the file name as published (looked up in the weights folder).
        url: where users download it.
        licence: the licence the file is published under.
        sha256: the file's sha256 when recorded, else None (not checked).
        prefix: a key prefix the published file carries and the model does not
            (MODNet's ``"module."`` from ``nn.DataParallel``), stripped on load.
    """

    name: str
    filename: str
    url: str = ""
    licence: str = ""
    sha256: Optional[str] = None
    prefix: str = ""


def weights_dir() -> Path:
    """The folder where checkpoints are looked up (not created).

    ``$LIVEMATTE_WEIGHTS`` if set, else ``<checkout>/weights`` when running from a source
    checkout (a ``pyproject.toml`` beside the package), else ``./weights``.
    """
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    if (_REPO_ROOT / "pyproject.toml").is_file() and (_REPO_ROOT / "livematte").is_dir():
        return _REPO_ROOT / "weights"
    return Path.cwd() / "weights"


def default_path(spec: CheckpointSpec) -> Path:
    """Where ``spec``'s file is expected in the weights folder."""
    return weights_dir() / spec.filename


def missing_reason(spec: CheckpointSpec) -> str:
    """The one-line fix shown when ``spec``'s file is absent."""
    return f"put {spec.filename} in {weights_dir()} (see weights/README.md) or pass --weights PATH"


def find(specs: Sequence[CheckpointSpec]) -> Optional[CheckpointSpec]:
    """The first spec whose file exists in the weights folder, else None."""
    for spec in specs:
        if default_path(spec).is_file():
            return spec
    return None


def resolve(spec: CheckpointSpec, weights: Optional[PathLike] = None) -> Path:
    """The checkpoint file to load: ``weights`` when given, else the default location.

    Raises:
        LivematteError: the file does not exist (the message says where to put it).
    """
    if weights is not None:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise LivematteError(f"{path}: checkpoint file not found (--weights PATH)")
        return path
    path = default_path(spec)
    if not path.is_file():
        raise LivematteError(f"{spec.name}: checkpoint {path} not found; {missing_reason(spec)}")
    return path


def sha256_of(path: PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_state_dict(path: PathLike) -> Dict[str, torch.Tensor]:
    """Read a plain PyTorch state dict (``torch.save(model.state_dict())``) onto the CPU.

    Only tensors are unpickled (``weights_only=True``): a checkpoint cannot run code.

    Raises:
        LivematteError: unreadable, not a PyTorch file, or not a name -> tensor mapping.
    """
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise LivematteError(f"{path}: checkpoint file not found") from None
    except Exception as err:  # pickle, zip and torch errors all mean "not a usable file"
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise LivematteError(f"{path}: not a readable PyTorch checkpoint ({first[:160]})") from None
    if isinstance(obj, Mapping) and "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise LivematteError(f"{path}: not a state dict of tensors (got {type(obj).__name__})")
    return dict(obj)


def _shape(t: Union[torch.Tensor, torch.Size, Sequence[int]]) -> str:
    dims = tuple(t.shape) if isinstance(t, torch.Tensor) else tuple(t)
    return "[" + ", ".join(str(d) for d in dims) + "]"


def load_into(module: nn.Module, state: Mapping[str, torch.Tensor], path: PathLike,
              prefix: str = "") -> None:
    """Load ``state`` into ``module`` strictly, with one-line errors naming the tensor.

    ``prefix`` (for example ``"module."``) is stripped from every key when all keys carry it.
    Values are copied into the module's own tensors (dtype converted, so float16 files load).

    Raises:
        LivematteError: a tensor is missing, unexpected, or has the wrong shape.
    """
    shown = ""  # what to put before a module key to name it as the file does
    if prefix and state and all(k.startswith(prefix) for k in state):
        state = {k[len(prefix):]: v for k, v in state.items()}
        shown = prefix
    expected = module.state_dict()
    missing = [k for k in expected if k not in state]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise LivematteError(
            f"{path}: missing tensor {shown}{missing[0]} "
            f"{_shape(expected[missing[0]])}{more}: not a {type(module).__name__} checkpoint?")
    for key, want in expected.items():
        got = state[key]
        if tuple(got.shape) != tuple(want.shape):
            raise LivematteError(f"{path}: tensor {shown}{key} has shape {_shape(got)}, "
                                 f"expected {_shape(want)}")
    unexpected = [k for k in state if k not in expected]
    if unexpected:
        more = f" (and {len(unexpected) - 1} more)" if len(unexpected) > 1 else ""
        raise LivematteError(f"{path}: unexpected tensor {shown}{unexpected[0]}{more}: "
                             f"not a {type(module).__name__} checkpoint?")
    module.load_state_dict(state, strict=True)


def load_checkpoint(module: nn.Module, spec: CheckpointSpec,
                    weights: Optional[PathLike] = None) -> Path:
    """Resolve, read and strictly load ``spec``'s file (or ``weights``) into ``module``.

    Returns the path that was loaded.
    """
    path = resolve(spec, weights)
    load_into(module, read_state_dict(path), path, prefix=spec.prefix)
    return path


def torch_device(device: Optional[str]) -> torch.device:
    """Parse a device string (``auto``: CUDA when present, else CPU).

    Raises:
        LivematteError: an unknown device, or CUDA asked for where there is none.
    """
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise LivematteError(f"unknown device {device!r}: use auto, cpu or cuda ({err})") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise LivematteError(f"device {device!r}: no CUDA device here (torch {torch.__version__}); use cpu")
    return dev


def torch_runtime(name: str, runtime: Optional[str], threads: Optional[int], device: torch.device) -> None:
    """Check a torch-only backend's ``runtime`` option and apply ``threads`` on the CPU.

    ``threads`` sets torch's (process-wide) intra-op thread count when the model runs on the CPU.
    """
    if runtime not in (None, "auto", "torch"):
        raise LivematteError(f"{name}: runs on torch only; runtime {runtime!r} is for the selfie models")
    if threads and device.type == "cpu":  # 0 or None: torch's own default
        if int(threads) < 1:
            raise LivematteError(f"{name}: threads must be at least 1, got {threads}")
        torch.set_num_threads(int(threads))


def reject_options(name: str, options: Mapping[str, object]) -> None:
    """Raise for backend options that were set but that backend ``name`` does not take."""
    unknown = sorted(k for k, v in options.items() if v is not None)
    if unknown:
        raise LivematteError(f"{name}: unknown option(s) {', '.join(unknown)}")
