"""Core data types that flow through the pipeline.

One frame flows source -> segmenter -> refine -> temporal -> effect -> sinks.

* ``Frame``: one RGB uint8 picture ``(H, W, 3)`` with its index and timestamp.
* alpha ("matte"): float32 ``(H, W)`` in [0, 1] at frame resolution.
* ``StreamInfo``: what a source knows about the stream (size, rate, audio).
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Iterator, Optional, Protocol

import numpy as np


class LivematteError(Exception):
    """A user-facing error: the CLI prints ``str(err)`` on one line and exits with code 2."""


@dataclass
class Frame:
    """One picture from a source.

    Attributes:
        image: RGB uint8 array ``(H, W, 3)``, C-contiguous.
        index: 0-based position in the source.
        pts: presentation timestamp in ``time_base`` units, or None (stills, cameras).
        time_base: unit of ``pts`` (for example ``Fraction(1, 30000)``), or None.
        name: file stem for outputs named after inputs (``00000`` for video frames).
        timestamp: capture time in ``time.perf_counter()`` seconds (live sources), else None.
    """

    image: np.ndarray
    index: int = 0
    pts: Optional[int] = None
    time_base: Optional[Fraction] = None
    name: str = ""
    timestamp: Optional[float] = None

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def seconds(self) -> Optional[float]:
        """The presentation time in seconds, or None when unknown."""
        if self.pts is None or self.time_base is None:
            return None
        return float(self.pts * self.time_base)


@dataclass
class StreamInfo:
    """What a source knows about its stream.

    Attributes:
        width, height: frame size in pixels.
        fps: nominal frame rate (average rate for files), as a Fraction.
        frames: frame count when known (may be an estimate for files), else None.
        time_base: unit of frame ``pts``, or None.
        path: the source file (used to copy its audio), or None.
        has_audio: whether the source file has an audio stream.
        name: a human-readable name of the source for messages.
    """

    width: int
    height: int
    fps: Fraction = Fraction(30, 1)
    frames: Optional[int] = None
    time_base: Optional[Fraction] = None
    path: Optional[str] = None
    has_audio: bool = False
    name: str = ""


class Source(Protocol):
    """Yields frames; a context manager. ``info`` is valid after ``__enter__``; ``warning`` (None,
    or why the frames stopped early) once iteration has ended. The file sources inherit
    :class:`livematte.sources.base.Source`, which gives the defaults."""

    info: StreamInfo
    warning: Optional[str]

    def __enter__(self) -> "Source": ...
    def __exit__(self, *exc) -> None: ...
    def __iter__(self) -> Iterator[Frame]: ...


class Sink(Protocol):
    """Consumes output pictures (RGB ``(H, W, 3)`` or RGBA ``(H, W, 4)`` uint8): what the file
    runner (:func:`livematte.pipeline.run`) calls.

    ``open`` is given the stream info and whether pictures carry alpha; ``close``
    finishes the output (flushes encoders, renames the temporary file) and is safe
    to call twice. ``abort`` removes a partial output instead. Every sink in
    :mod:`livematte.sinks` inherits :class:`livematte.sinks.base.Sink` (the defaults, and
    ``describe``); the live runner needs a :class:`livematte.sinks.base.LiveSink`.
    """

    def open(self, info: StreamInfo, alpha: bool) -> None: ...
    def write(self, picture: np.ndarray, frame: Frame) -> None: ...
    def close(self) -> None: ...
    def abort(self) -> None: ...
