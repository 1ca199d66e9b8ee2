"""Animated WebP files as video sources (through Pillow).

FFmpeg 8.1 (PyAV 18) cannot decode animated WebP ("Invalid data found when processing input"), so
``video anim.webp`` reads it with Pillow, which composites each frame onto the canvas as a viewer
does. Animated GIF needs none of this: FFmpeg reads it as a video, with its frame delays.

Each frame's timestamp is its start in milliseconds (``time_base`` 1/1000), from the file's own
frame durations, so frames shown longer stay longer in the output; ``fps`` is the mean rate.
The canvas size is checked against the still-image limits from the header, before decoding.
"""
from __future__ import annotations

import os
import struct
from fractions import Fraction
from typing import Iterator, List, Optional

import numpy as np

from ..types import Frame, LivematteError, StreamInfo
from .base import Source
from .images import check_size, read_checked

DEFAULT_DELAY_MS = 100  # a frame that declares no duration (browsers show such frames ~100 ms)


def is_animated_webp(path: str) -> bool:
    """True for a WebP file whose VP8X header sets the animation flag (cheap: reads 21 bytes)."""
    try:
        with open(path, "rb") as f:
            head = f.read(21)
    except OSError:
        return False
    return len(head) == 21 and head[:4] == b"RIFF" and head[8:16] == b"WEBPVP8X" and bool(head[20] & 0x02)


def webp_durations(data: bytes) -> List[int]:
    """The duration in ms of every frame (``ANMF`` chunk) of an animated WebP, read from the RIFF
    chunks without decoding; 0 where a frame declares none."""
    durations, pos = [], 12
    while pos + 8 <= len(data):
        kind, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        if kind == b"ANMF" and size >= 16:
            durations.append(int.from_bytes(data[pos + 20:pos + 23], "little"))
        pos += 8 + size + (size & 1)
    return durations


def video_file_source(path: str) -> Source:
    """The source for a video file: :class:`AnimatedWebPSource` for an animated WebP, else
    :class:`~livematte.sources.video.VideoFileSource` (not yet entered)."""
    if is_animated_webp(path):
        return AnimatedWebPSource(path)
    from .video import VideoFileSource

    return VideoFileSource(path)


class AnimatedWebPSource(Source):
    """Every frame of an animated WebP as RGB ``Frame`` s, stamped with the file's frame times.

    Raises (from ``__enter__``) LivematteError for a missing or unreadable file, a canvas over the
    image limits, or a file Pillow cannot read; a frame that fails to decode later ends the frames
    and ``warning`` says so.
    """

    def __init__(self, path: "str | os.PathLike[str]") -> None:
        self.path = os.fspath(path)
        self.info: Optional[StreamInfo] = None
        self.warning: Optional[str] = None
        self._image = None
        self._starts: list = []

    def __enter__(self) -> "AnimatedWebPSource":
        from PIL import Image

        data = read_checked(self.path)  # (N,) uint8; the canvas size checked from the header
        durations = [d or DEFAULT_DELAY_MS for d in webp_durations(data.tobytes())]
        try:
            self._image = Image.open(self.path)
            frames = self._image.n_frames
        except Exception as err:  # noqa: BLE001 - Pillow raises many kinds for a damaged file
            self.close()
            raise LivematteError(f"{self.path}: not a readable animated WebP ({err})") from None
        width, height = self._image.size
        check_size(self.path, width, height)
        durations = (durations + [DEFAULT_DELAY_MS] * frames)[:frames]
        self._starts = list(np.cumsum([0] + durations[:-1]))
        total = int(sum(durations))
        self.info = StreamInfo(width=width, height=height,
                               fps=Fraction(len(durations) * 1000, max(1, total)).limit_denominator(1001),
                               frames=len(durations), time_base=Fraction(1, 1000), path=self.path,
                               has_audio=False, name=os.path.basename(self.path))
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Release the file; safe to call twice."""
        if self._image is not None:
            self._image.close()
            self._image = None

    def __iter__(self) -> Iterator[Frame]:
        if self._image is None:
            raise RuntimeError("AnimatedWebPSource must be entered (with ...) before iterating")
        for index, start in enumerate(self._starts):
            try:
                self._image.seek(index)
                image = np.asarray(self._image.convert("RGB"))  # (H, W, 3)
            except Exception as err:  # noqa: BLE001
                self.warning = f"{self.info.name}: decoding stopped after {index} frames ({err})"
                return
            yield Frame(image=np.ascontiguousarray(image), index=index, pts=int(start),
                        time_base=self.info.time_base, name=f"{index:05d}")
