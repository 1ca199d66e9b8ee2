"""``--to udp://HOST:PORT`` / ``tcp://`` / ``rtmp://`` / ``srt://``: a live H.264 stream for OBS's Media Source.

============  =========  =====================================================================
scheme        container  notes
============  =========  =====================================================================
udp://        MPEG-TS    188-byte packets, 7 to a datagram (``pkt_size=1316``)
tcp://        MPEG-TS    livematte connects; the reader must listen (``?listen=1`` on its side)
srt://        MPEG-TS    only when FFmpeg was built with libsrt (checked at start)
rtmp://       FLV        to an RTMP server (or a reader listening with ``listen=1``)
============  =========  =====================================================================

Neither container carries alpha, so an RGBA picture (``--background transparent``) is flattened
first: over a key colour (``chroma``, green by default, for OBS's Chroma Key filter), over a blur
of the frame itself (``blur``), or over any colour. H.264 with ``tune=zerolatency``, a key frame
every second (a Media Source that joins late shows a picture within a second).

The live path wraps the sink in a :class:`~livematte.sinks.recorder.Recorder`: encoding and
sending run on their own thread and frames are dropped there when they cannot keep up.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Optional
from urllib.parse import urlsplit

import av
import numpy as np

from ..effects import CHROMA_GREEN, EffectStage, Replace, make_effect
from ..colors import parse_color
from ..types import Frame, LivematteError, StreamInfo
from .base import Sink, close_quietly

SCHEMES = {"udp": "mpegts", "tcp": "mpegts", "srt": "mpegts", "rtmp": "flv"}


def is_stream_url(spec: str) -> bool:
    return urlsplit(spec).scheme in SCHEMES and "://" in spec


class StreamSink(Sink):
    """Encode pictures as H.264 into MPEG-TS/FLV and send them to a URL.

    Args:
        url: ``udp://127.0.0.1:5000`` and the like (see the module table).
        fill: what replaces transparency: ``chroma``, ``chroma:COLOR``, ``blur`` or a colour.
        crf, preset: libx264 quality and speed.
        bitrate: cap in bit/s (VBV), so a UDP stream does not burst past the network.
    """

    def __init__(self, url: str, *, fill: str = "chroma", crf: int = 23, preset: str = "veryfast",
                 bitrate: int = 6_000_000):
        parts = urlsplit(url)
        if parts.scheme not in SCHEMES or not parts.hostname:
            raise LivematteError(f"--to {url}: expected udp://HOST:PORT, tcp://HOST:PORT, srt://HOST:PORT or "
                                 "rtmp://HOST[:PORT]/app/key")
        if parts.scheme != "rtmp" and parts.port is None:
            raise LivematteError(f"--to {url}: give a port, for example {parts.scheme}://127.0.0.1:5000")
        self.url, self.path, self.format = url, url, SCHEMES[parts.scheme]
        if parts.scheme == "udp" and "pkt_size" not in parts.query:
            self.url += ("&" if parts.query else "?") + "pkt_size=1316"
        self.fill = self._make_fill(fill)
        self.crf, self.preset, self.bitrate = crf, preset, bitrate
        self.frames_written = 0
        self._container = None
        self._video = None
        self._last_pts: Optional[int] = None

    @staticmethod
    def _make_fill(spec: str):
        kind, _, arg = spec.partition(":")
        if kind == "blur":
            try:
                strength = float(arg) if arg else 24.0
            except ValueError:
                raise LivematteError(f"--stream-fill {spec}: blur strength must be a number") from None
            return make_effect("blur", blur_strength=strength).apply
        color = (parse_color(arg) if arg else CHROMA_GREEN) if kind == "chroma" else parse_color(spec)
        return EffectStage(Replace(color=color)).apply  # (rgb (H, W, 3), alpha (H, W)) -> (H, W, 3)

    def open(self, info: StreamInfo, alpha: bool = False) -> None:
        fps = Fraction(info.fps) if info.fps else Fraction(30, 1)
        self.time_base = Fraction(info.time_base) if info.time_base else 1 / fps
        self.width, self.height = int(info.width), int(info.height)
        options = {"preset": self.preset, "tune": "zerolatency", "crf": str(self.crf),
                   "maxrate": str(self.bitrate), "bufsize": str(self.bitrate // 2),
                   "g": str(max(1, round(fps))), "bf": "0"}
        try:
            self._container = av.open(self.url, mode="w", format=self.format, timeout=5.0)
            stream = self._container.add_stream("libx264", rate=fps, options=options)
            stream.width, stream.height = self.width + self.width % 2, self.height + self.height % 2
            stream.pix_fmt = "yuv420p"
            stream.codec_context.time_base = self.time_base
            stream.time_base = self.time_base if self.format == "mpegts" else Fraction(1, 1000)
            self._video = stream
            self._container.start_encoding()  # connect now: a wrong URL fails before the live loop starts
        except av.error.ProtocolNotFoundError:
            self.abort()
            raise LivematteError(f"--to {self.path}: this PyAV/FFmpeg build has no {urlsplit(self.url).scheme}:// "
                                 "support; use udp:// (MPEG-TS) or rtmp://") from None
        except (av.FFmpegError, OSError) as err:
            self.abort()
            raise LivematteError(f"--to {self.path}: cannot open the stream ({getattr(err, 'strerror', None) or err})") from None

    def flatten(self, picture: np.ndarray) -> np.ndarray:
        """RGBA -> RGB over the fill; RGB passes through."""
        if picture.shape[2] == 3:
            return picture
        alpha = picture[:, :, 3].astype(np.float32) * (1.0 / 255.0)
        return self.fill(np.ascontiguousarray(picture[:, :, :3]), alpha)

    def write(self, picture: np.ndarray, frame: Optional[Frame]) -> None:
        rgb = self.flatten(picture)
        if rgb.shape[:2] != (self._video.height, self._video.width):
            import cv2

            rgb = cv2.copyMakeBorder(rgb, 0, self.height % 2, 0, self.width % 2, cv2.BORDER_REPLICATE)
        out = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        if frame is not None and frame.pts is not None and frame.time_base is not None:
            pts = round(frame.pts * Fraction(frame.time_base) / self.time_base)
        else:
            pts = self.frames_written
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1
        self._last_pts = out.pts = pts
        out.time_base = self.time_base
        try:
            for packet in self._video.encode(out):
                self._container.mux(packet)
        except (av.FFmpegError, OSError) as err:
            raise LivematteError(f"--to {self.path}: the stream failed ({getattr(err, 'strerror', None) or err})") from None
        self.frames_written += 1

    def close(self) -> None:
        """Flush the encoder and close the connection. Safe to call twice."""
        if self._container is None:
            return
        try:
            for packet in self._video.encode(None):
                self._container.mux(packet)
        except (av.FFmpegError, OSError):
            pass  # the reader is gone: nothing left to deliver to
        finally:
            self.abort()

    def abort(self) -> None:
        """Close the connection without flushing the encoder (nothing is kept: it is a stream)."""
        close_quietly(self._container)
        self._container = None

    def describe(self) -> str:
        return self.path
