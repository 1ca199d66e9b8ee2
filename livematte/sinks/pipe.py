"""``-o -`` / ``--to -``: raw RGBA frames on stdout, for piping into ffmpeg.

Each picture is written as ``height * width * 4`` bytes (R, G, B, A; rows top to bottom; no
header, no padding). RGB pictures get alpha 255. The size and rate are not in the stream: the CLI
prints them to stderr (:meth:`PipeSink.describe_format`), and ffmpeg is told them::

    livematte video in.mp4 -o - --background transparent \\
      | ffmpeg -f rawvideo -pix_fmt rgba -video_size 1280x720 -framerate 30 -i - -c:v prores_ks out.mov

Taking over stdout: when writing to the process's stdout, the sink moves the real stdout to a
private descriptor and points descriptor 1 at stderr for as long as the process lives, so stray
prints (from Python or from C libraries) can never corrupt the frame stream.
"""
from __future__ import annotations

import os
import sys
from typing import Callable, Optional

import cv2
import numpy as np

from ..types import Frame, LivematteError, StreamInfo
from .base import Sink


class PipeSink(Sink):
    """Write RGBA frames to a file descriptor (stdout by default), blocking.

    For files this is the whole sink (the reader sets the pace). The live path wraps it in a
    :class:`~livematte.sinks.recorder.Recorder` so a slow reader costs frames, not latency.

    Args:
        fd: a writable descriptor, or None for the process's stdout (taken over; see the module).
        on_event: called at ``open`` with :meth:`describe_format` (the CLI prints it to stderr).

    Raises (from ``write``):
        LivematteError: the reader went away (broken pipe).
    """

    def __init__(self, fd: Optional[int] = None, *, on_event: Optional[Callable[[str], None]] = None):
        self._given = fd
        self.on_event = on_event
        self.fd: Optional[int] = None
        self.frames_written = 0
        self.width = self.height = 0
        self.fps = None

    def open(self, info: StreamInfo, alpha: bool = False) -> None:
        self.width, self.height, self.fps = int(info.width), int(info.height), info.fps
        if self.on_event is not None:
            self.on_event(self.describe_format())
        if self._given is not None:
            self.fd = self._given
            return
        try:
            sys.stdout.flush()
        except (OSError, ValueError):
            pass
        self.fd = os.dup(1)  # the real stdout (a pipe, usually)
        os.dup2(2, 1)  # anything else printed from now on goes to stderr

    def describe_format(self) -> str:
        """One line for stderr: what ffmpeg must be told about the stream."""
        fps = float(self.fps) if self.fps else 30.0
        return (f"raw RGBA on stdout: {self.width}x{self.height} at {fps:g} fps, {self.width * self.height * 4} "
                f"bytes a frame (ffmpeg -f rawvideo -pix_fmt rgba -video_size {self.width}x{self.height} "
                f"-framerate {fps:g} -i -)")

    def write(self, picture: np.ndarray, frame: Optional[Frame]) -> None:
        """Write one RGB ``(H, W, 3)`` or RGBA ``(H, W, 4)`` uint8 picture as RGBA bytes."""
        if self.fd is None:
            raise RuntimeError("stdout: write() needs an open sink")
        if picture.shape[:2] != (self.height, self.width) or picture.ndim != 3 or picture.shape[2] not in (3, 4):
            raise ValueError(f"picture: got shape {picture.shape}, expected ({self.height}, {self.width}, 3 or 4)")
        rgba = picture if picture.shape[2] == 4 else cv2.cvtColor(picture, cv2.COLOR_RGB2RGBA)
        view = memoryview(np.ascontiguousarray(rgba)).cast("B")
        try:
            while view:
                view = view[os.write(self.fd, view):]
        except BrokenPipeError:
            raise LivematteError(f"stdout: the reader closed the pipe after {self.frames_written} frames") from None
        except OSError as err:
            raise LivematteError(f"stdout: cannot write ({err.strerror or err})") from None
        self.frames_written += 1

    def close(self) -> None:
        """Close our end (the reader sees the end of the stream). Safe to call twice."""
        if self.fd is not None and self._given is None:
            try:
                os.close(self.fd)
            except OSError:
                pass
        self.fd = None

    def describe(self) -> str:
        return "stdout"
