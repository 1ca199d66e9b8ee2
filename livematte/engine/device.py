"""Where the torch frame path runs: ``resolve_device("auto" | "cpu" | "cuda" | "cuda:N")``."""
from __future__ import annotations

import torch

from ..types import LivematteError

DEVICES = ("auto", "cpu", "cuda")


def cuda_available() -> bool:
    """Whether a usable CUDA device is present (False on a CPU-only torch build)."""
    try:
        return bool(torch.cuda.is_available())
    except Exception:  # a broken driver install: treat as absent
        return False


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` -> CUDA when present, else CPU; ``cpu``; ``cuda`` / ``cuda:N`` (must exist).

    Raises LivematteError (one line) for an unknown name or a CUDA device that is not there.

    >>> resolve_device("cpu")
    device(type='cpu')
    """
    s = (name or "auto").strip().lower()
    if s == "auto":
        return torch.device("cuda") if cuda_available() else torch.device("cpu")
    if s == "cpu":
        return torch.device("cpu")
    if s == "cuda" or s.startswith("cuda:"):
        if not cuda_available():
            build = "this torch is a CPU-only build" if torch.version.cuda is None else "no CUDA device was found"
            raise LivematteError(f"--device {name}: CUDA is not available ({build}); use --device cpu or auto")
        dev = torch.device(s)
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise LivematteError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) present")
        return dev
    raise LivematteError(f"--device {name!r}: choose one of: {', '.join(DEVICES)}")
