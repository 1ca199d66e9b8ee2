"""Backend registry: ``create(name)`` builds a segmenter, ``list_backends()`` says what is usable.

Backends are listed explicitly in ``_BACKENDS`` (no import side effects): each entry names the
module that holds it, imported only when that backend is used or inspected.
"""
from __future__ import annotations

import importlib
from typing import Dict, List

from ..types import LivematteError
from .base import BackendInfo, Segmenter

# name -> module path (relative to livematte.models). Each module defines
#   backend_info(name) -> BackendInfo        (cheap: no model is loaded)
#   create(name, **options) -> Segmenter     (raises LivematteError when unusable)
_BACKENDS: Dict[str, str] = {
    "selfie": ".selfie",
    "selfie-landscape": ".selfie",
    "modnet": ".modnet",
    "rvm": ".rvm",
}

#: the matting networks (user-supplied checkpoints, whole-frame alpha) among the backends
MATTING_MODELS = ("modnet", "rvm")


def names() -> List[str]:
    """All registered backend names, in display order."""
    return list(_BACKENDS)


def _module(name: str):
    if name not in _BACKENDS:
        raise LivematteError(f"unknown model {name!r}; choose one of: {', '.join(_BACKENDS)}")
    return importlib.import_module(_BACKENDS[name], __package__)


def create(name: str, **options) -> Segmenter:
    """Build the backend ``name``; unknown or unusable names raise LivematteError."""
    return _module(name).create(name, **options)


def info(name: str) -> BackendInfo:
    """What ``livematte models`` shows for one backend."""
    try:
        return _module(name).backend_info(name)
    except ImportError as err:  # an optional dependency is missing
        return BackendInfo(name, "", False, f"cannot import {err.name}: pip install it")


def list_backends() -> List[BackendInfo]:
    """Every backend with whether it is usable here and why not."""
    return [info(n) for n in _BACKENDS]
