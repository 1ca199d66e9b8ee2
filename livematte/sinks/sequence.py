"""A video written as numbered images: ``-o frames/`` (``frames/00000.png``, ...) or
``-o frames/%05d.png`` / ``-o shot_%04d.webp`` (a printf pattern of one integer, counted from 0).

PNG is lossless and keeps the alpha; WebP is written lossless (colour and alpha exact). Each image
is complete when it appears (:func:`~.images.save_image` writes under a temporary name), so an
interrupted run keeps every image finished before it.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import List, Optional

import numpy as np

from ..types import Frame, LivematteError, StreamInfo
from .base import Sink
from .images import save_image

SEQUENCE_EXTENSIONS = (".png", ".webp")
_PATTERN = re.compile(r"%(0?\d*)d")


@dataclass(frozen=True)
class SequenceTarget:
    """Where the images go: ``directory`` and a file ``pattern`` with one ``%0Nd``."""

    directory: str
    pattern: str

    def name(self, index: int) -> str:
        return os.path.join(self.directory, self.pattern % index)


def sequence_target(path: str) -> Optional[SequenceTarget]:
    """The target ``path`` names, or None when it is a single file (a video).

    ``DIR/`` (or an existing folder): ``DIR/%05d.png``. A file name with one ``%d`` / ``%0Nd``:
    that pattern; its extension must be .png or .webp.

    Raises:
        LivematteError: a pattern with another extension, or with more than one ``%``.
    """
    if path.endswith(("/", os.sep)) or os.path.isdir(path):
        return SequenceTarget(path.rstrip("/" + os.sep) or path, "%05d.png")
    directory, base = os.path.split(path)
    if "%" not in base:
        return None
    ext = os.path.splitext(base)[1].lower()
    if len(_PATTERN.findall(base)) != 1 or base.count("%") != 1:
        raise LivematteError(f"{path}: an image sequence needs exactly one %d or %05d in the file name")
    if ext not in SEQUENCE_EXTENSIONS:
        raise LivematteError(f"{path}: an image sequence is written as {' or '.join(SEQUENCE_EXTENSIONS)}, "
                             f"not {ext or 'no extension'}")
    return SequenceTarget(directory or ".", base)


def check_sequence_output(target: SequenceTarget) -> None:
    """LivematteError now when the folder cannot be made or written (nothing is created)."""
    probe = target.directory
    while not os.path.isdir(probe):
        parent = os.path.dirname(os.path.abspath(probe))
        if parent == os.path.abspath(probe):
            break
        probe = parent
    if not os.access(probe, os.W_OK | os.X_OK):
        raise LivematteError(f"{target.directory}: cannot write there ({probe} is not writable)")


class ImageSequenceSink(Sink):
    """Writes picture number k (from 0, in write order) to ``target.name(k)``; RGBA keeps its alpha."""

    def __init__(self, target: SequenceTarget):
        self.target = target
        self.written: List[str] = []
        self._open = False

    def open(self, info: Optional[StreamInfo], alpha: bool) -> None:
        try:
            os.makedirs(self.target.directory, exist_ok=True)
        except OSError as err:
            raise LivematteError(f"{self.target.directory}: cannot create the folder ({err.strerror or err})") from None
        self._open = True

    def write(self, picture: np.ndarray, frame: Optional[Frame]) -> None:
        """``picture``: RGB ``(H, W, 3)`` or RGBA ``(H, W, 4)`` uint8."""
        if not self._open:
            raise RuntimeError("ImageSequenceSink.write before open (or after close)")
        path = self.target.name(len(self.written))
        save_image(path, picture, quality=101)  # WebP 101: lossless
        self.written.append(path)

    def close(self) -> None:
        """Every image is complete when written: nothing to finish."""
        self._open = False

    def describe(self) -> str:
        return os.path.join(self.target.directory, self.target.pattern)
