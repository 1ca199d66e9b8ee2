"""Segmentation and matting backends (see :mod:`livematte.models.registry`)."""
from .base import BackendInfo, Segmenter
from .registry import create, list_backends, names

__all__ = ["BackendInfo", "Segmenter", "create", "list_backends", "names"]
