"""``-o clip.gif``: an animated GIF with transparency (FFmpeg's GIF encoder through PyAV).

Frames keep their timestamps (GIF delays are in 1/100 s), so an input whose frames last unequally
(an animated GIF or WebP, a variable-rate video) keeps its timing; frames without one are spaced
at the stream's rate.

Each picture gets its own palette: palette index 0 is transparent (where alpha < 128; GIF has
no partial transparency), the other 255 entries are the picture's colours, reduced by Pillow's
fast octree quantiser without dithering. Frames are disposed to the background, so a pixel that
becomes transparent does not show the frame before. Written under a temporary name and renamed
when complete (an interrupted run keeps a playable GIF of what was done).
"""
from __future__ import annotations

from fractions import Fraction
from typing import Optional

import av
import numpy as np
from PIL import Image

from ..atomic import AtomicPath
from ..types import Frame, LivematteError, StreamInfo
from .base import Sink, close_quietly

ALPHA_CUT = 128  # alpha below this is transparent in the GIF
GIF_TIME_BASE = Fraction(1, 100)  # GIF frame delays are in centiseconds


def gif_frame(picture: np.ndarray) -> tuple:
    """``(indices (H, W) uint8, palette (256, 4) uint8 ARGB)`` of an RGB(A) uint8 picture; index 0 is transparent."""
    rgb = np.ascontiguousarray(picture[:, :, :3])
    quantised = Image.fromarray(rgb).quantize(255, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    indices = np.asarray(quantised, np.uint8) + 1  # (H, W) in 1..255
    colours = np.asarray(quantised.getpalette()[:255 * 3], np.uint8).reshape(-1, 3)  # (<=255, 3) RGB
    palette = np.zeros((256, 4), np.uint8)  # (A, R, G, B) per entry; entry 0 stays transparent
    palette[1:1 + len(colours), 0] = 255
    palette[1:1 + len(colours), 1:] = colours
    if picture.shape[2] == 4:
        indices[picture[:, :, 3] < ALPHA_CUT] = 0
    return indices, palette


class GifSink(Sink):
    """Writes pictures as an animated GIF at the stream's rate (loops forever)."""

    def __init__(self, path: str):
        self.path = path
        self._atomic: Optional[AtomicPath] = None
        self._container = self._stream = None
        self.frames = 0

    def open(self, info: StreamInfo, alpha: bool = False) -> None:
        self._atomic = AtomicPath(self.path)
        fps = Fraction(info.fps or 30).limit_denominator(1001)
        try:
            self._container = av.open(str(self._atomic.temp), "w", format="gif")
        except (av.FFmpegError, OSError) as err:
            self._atomic.discard()
            raise LivematteError(f"{self.path}: cannot write ({err})") from None
        self._stream = self._container.add_stream("gif", rate=fps)
        self._stream.width, self._stream.height, self._stream.pix_fmt = info.width, info.height, "pal8"
        self._stream.codec_context.time_base = self._stream.time_base = GIF_TIME_BASE
        self._period = 1 / (fps * GIF_TIME_BASE)  # ticks per frame at the nominal rate
        self._last: Optional[int] = None

    def write(self, picture: np.ndarray, frame: Optional[Frame]) -> None:
        """``picture``: RGB ``(H, W, 3)`` or RGBA ``(H, W, 4)`` uint8 of the stream's size."""
        if self._stream is None:
            raise RuntimeError("GifSink.write before open (or after close)")
        out = av.VideoFrame.from_ndarray(gif_frame(picture), format="pal8")
        seconds = frame.seconds if frame is not None else None
        pts = round(seconds * 100) if seconds is not None else round(self.frames * self._period)
        if self._last is not None and pts <= self._last:
            pts = self._last + 1  # the encoder refuses repeated timestamps; 10 ms is GIF's finest step
        out.pts, out.time_base, self._last = pts, GIF_TIME_BASE, pts
        self._container.mux(self._stream.encode(out))
        self.frames += 1

    def close(self) -> None:
        """Flush the encoder and publish the file. Safe to call twice."""
        if self._stream is None:
            return
        try:
            self._container.mux(self._stream.encode())
            self._container.close()
        except (av.FFmpegError, OSError) as err:
            self.abort()
            raise LivematteError(f"{self.path}: cannot finish the GIF ({err})") from None
        self._stream = self._container = None
        self._atomic.commit()

    def abort(self) -> None:
        """Drop the unfinished GIF; ``path`` is left as it was."""
        close_quietly(self._container)
        self._stream = self._container = None
        if self._atomic is not None:
            self._atomic.discard()

    def describe(self) -> str:
        return self.path
