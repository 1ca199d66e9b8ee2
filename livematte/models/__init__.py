"""Segmentation and matting backends (see :mod:`livematte.models.registry`)."""
from .base import BackendInfo, Segmenter
from .registry import create, list_backends, names, spec
from .spec import BackendSpec

__all__ = ["BackendInfo", "BackendSpec", "Segmenter", "create", "list_backends", "names", "spec"]
