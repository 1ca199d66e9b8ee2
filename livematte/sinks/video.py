"""Encode output pictures into a video file (PyAV / FFmpeg), with the source's audio.

The codec follows the extension:

==============  ======================================  ===================
extension       without alpha                           with alpha
==============  ======================================  ===================
.mp4 .m4v .mkv  H.264 (libx264) yuv420p                 refused (no alpha)
.webm           VP9 (libvpx) yuv420p                    VP9 yuva420p
.mov            H.264 (libx264) yuv420p                 ProRes 4444 yuva444p10le
==============  ======================================  ===================

Contracts:

* Atomic: the file is written under a hidden temporary name beside the target and renamed
  onto it by ``close()``; ``abort()`` deletes it. The target name never holds a broken file.
* Timing: frames keep their source ``pts`` and time base (variable frame rate included);
  frames without one get ``pts = index`` in time base ``1/fps``. The nominal rate is ``fps``.
* Odd sizes: 4:2:0 formats (and the ProRes encoder) need even width and height, so the
  last column/row is replicated to pad them (the output is then one pixel wider/taller).
* Colour: RGB is converted with the BT.601 limited-range matrix and the stream is tagged so.
* Audio (``audio_from``): the file's first audio track is stream-copied when the container
  accepts its codec, else transcoded (Opus for .webm, AAC otherwise), and ends where the
  last written video frame ends, so an interrupted output keeps matching audio.
"""
from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from typing import Iterator, Optional

import av
import cv2
import numpy as np

from livematte.atomic import AtomicPath, check_writable_dir
from livematte.sinks.base import Sink
from livematte.sources.video import open_container
from livematte.types import Frame, LivematteError, StreamInfo

VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mkv", ".webm", ".mov")
ALPHA_EXTENSIONS = (".webm", ".mov")

#: ProRes encoder for alpha .mov: prores_aw measured ~2x faster than prores_ks at 720p
#: (both write ProRes 4444 'ap4h' with an alpha plane that FFmpeg reads back exactly).
PRORES_ENCODER = "prores_aw"

# Audio codecs copied as-is into each container (others are transcoded).
_COPY_AUDIO = {
    ".mp4": {"aac", "mp3", "ac3", "eac3", "alac"},
    ".m4v": {"aac", "ac3", "alac"},
    ".mov": {"aac", "mp3", "ac3", "eac3", "alac", "pcm_s16le", "pcm_s16be", "pcm_s24le"},
    ".webm": {"opus", "vorbis"},
    ".mkv": None,  # anything the Matroska muxer supports
}
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower",
                "veryslow", "placebo")
_BT601 = 6  # AVCOL_SPC_SMPTE170M, the matrix cv2 and swscale use by default
_LIMITED = 1  # AVCOL_RANGE_MPEG


def check_output(path: "str | os.PathLike[str]", alpha: bool) -> None:
    """Raise ``LivematteError`` unless ``path`` can be written as a video (with alpha if asked).

    Call it before any processing starts: it checks the extension, transparency support
    and that the directory exists and is writable; it creates nothing.
    """
    p = Path(path)
    ext = p.suffix.lower()
    if ext not in VIDEO_EXTENSIONS:
        raise LivematteError(
            f"{p}: unsupported video extension {ext or '(none)'!r}; use one of "
            + ", ".join(VIDEO_EXTENSIONS))
    if alpha and ext not in ALPHA_EXTENSIONS:
        raise LivematteError(
            f"{p}: {ext} cannot hold transparency; use .webm (VP9 alpha), .mov (ProRes 4444), .gif, "
            f"or an image sequence: -o {p.with_suffix('')}/ or -o {p.with_suffix('')}_%05d.png (.webp too)")
    check_writable_dir(p)


def _codec_plan(ext: str, alpha: bool, crf: int, preset: str):
    """(codec name, pixel format, encoder options) for an extension."""
    if ext == ".webm":
        options = {"deadline": "realtime", "cpu-used": "8", "row-mt": "1",
                   "lag-in-frames": "0", "crf": str(min(63, crf + 12)), "b": "0"}
        return "libvpx-vp9", ("yuva420p" if alpha else "yuv420p"), options
    if ext == ".mov" and alpha:
        return PRORES_ENCODER, "yuva444p10le", {"profile": "4" if PRORES_ENCODER == "prores_aw" else "4444"}
    return "libx264", "yuv420p", {"crf": str(crf), "preset": preset}


def _pad_even(image: np.ndarray) -> np.ndarray:
    """Replicate the last row/column so that height and width are even."""
    h, w = image.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return image
    return cv2.copyMakeBorder(image, 0, h % 2, 0, w % 2, cv2.BORDER_REPLICATE)


def _yuv420_frame(image: np.ndarray) -> "av.VideoFrame":
    """RGB/RGBA uint8 ``(H, W, 3|4)`` with even H, W -> yuv420p frame (alpha dropped)."""
    code = cv2.COLOR_RGBA2YUV_I420 if image.shape[2] == 4 else cv2.COLOR_RGB2YUV_I420
    i420 = cv2.cvtColor(image, code)  # (H*3/2, W): Y, then U and V planes
    return av.VideoFrame.from_ndarray(i420, format="yuv420p")


def _yuva420_frame(image: np.ndarray) -> "av.VideoFrame":
    """RGB/RGBA uint8 ``(H, W, 3|4)`` with even H, W -> yuva420p frame (RGB: opaque)."""
    h, w = image.shape[:2]
    code = cv2.COLOR_RGBA2YUV_I420 if image.shape[2] == 4 else cv2.COLOR_RGB2YUV_I420
    i420 = cv2.cvtColor(image, code)
    q = (h // 2) * (w // 2)
    chroma = i420[h:].reshape(-1)
    planes = (i420[:h], chroma[:q].reshape(h // 2, w // 2), chroma[q:].reshape(h // 2, w // 2),
              image[:, :, 3] if image.shape[2] == 4 else np.full((h, w), 255, np.uint8))
    frame = av.VideoFrame(w, h, "yuva420p")
    for plane, data in zip(frame.planes, planes):
        rows = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
        rows[: data.shape[0], : data.shape[1]] = data
    return frame


def _yuva444p10_frame(image: np.ndarray) -> "av.VideoFrame":
    """RGB/RGBA uint8 ``(H, W, 3|4)`` -> yuva444p10le frame for ProRes 4444."""
    fmt = "rgba" if image.shape[2] == 4 else "rgb24"
    return av.VideoFrame.from_ndarray(image, format=fmt).reformat(format="yuva444p10le", threads=1)


class VideoFileSink(Sink):
    """Write pictures to a video file; see the module docstring for codecs and contracts.

    Use ``open(info, alpha)``, ``write(picture, frame)`` per frame, then ``close()`` (or
    ``abort()``). As a context manager, a normal exit or ``KeyboardInterrupt`` closes (the
    file keeps what was written and plays), any other exception aborts (no file).
    ``write`` may be called from another thread than ``open``, one thread at a time.

    Args:
        path: output file; its extension picks the codec.
        audio_from: a file whose first audio track is copied into the output, or None.
        crf: H.264 constant-rate factor (lower is better); VP9 uses ``crf + 12``.
        preset: libx264 preset.
        threads: encoder threads (0: FFmpeg chooses).

    Attributes:
        frames_written: pictures encoded so far.
        has_audio: whether the output has an audio track (after ``open``).
    """

    def __init__(self, path: "str | os.PathLike[str]", *, audio_from: Optional[str] = None,
                 crf: int = 20, preset: str = "veryfast", threads: int = 0) -> None:
        self.path = Path(path)
        self.ext = self.path.suffix.lower()
        if self.ext not in VIDEO_EXTENSIONS:
            check_output(self.path, False)  # raises the message listing the extensions
        if not 0 <= crf <= 51:
            raise LivematteError(f"{self.path}: crf must be within 0..51, got {crf}")
        if preset not in X264_PRESETS:
            raise LivematteError(f"{self.path}: preset must be one of {', '.join(X264_PRESETS)}, got {preset!r}")
        self.audio_from = os.fspath(audio_from) if audio_from is not None else None
        self.crf, self.preset, self.threads = crf, preset, threads
        self.frames_written = 0
        self.has_audio = False
        self._atomic: Optional[AtomicPath] = None
        self._container = None
        self._video = None
        self._audio: Optional[AudioCopier] = None
        self._state = "new"

    # -- lifecycle ----------------------------------------------------------------------
    def open(self, info: StreamInfo, alpha: bool) -> None:
        """Create the (temporary) file and the encoder for ``info``'s size and rate."""
        if self._state != "new":
            raise RuntimeError(f"{self.path}: sink already opened")
        check_output(self.path, alpha)
        self.alpha = alpha
        self.width, self.height = int(info.width), int(info.height)
        codec, pix_fmt, options = _codec_plan(self.ext, alpha, self.crf, self.preset)
        self._convert = (_yuva444p10_frame if pix_fmt == "yuva444p10le"
                         else _yuva420_frame if pix_fmt == "yuva420p" else _yuv420_frame)
        self.fps = Fraction(info.fps) if info.fps else Fraction(30, 1)
        self.time_base = Fraction(info.time_base) if info.time_base else 1 / self.fps
        self._frame_ticks = max(1, round(1 / (self.fps * self.time_base)))
        self._last_pts: Optional[int] = None
        self._atomic = AtomicPath(self.path)
        container_options = {"movflags": "+faststart"} if self.ext in (".mp4", ".m4v") else {}
        try:
            self._container = av.open(str(self._atomic.temp), mode="w", options=container_options)
            stream = self._container.add_stream(codec, rate=self.fps, options=options)
            stream.width = self.width + self.width % 2
            stream.height = self.height + self.height % 2
            stream.pix_fmt = pix_fmt
            ctx = stream.codec_context
            ctx.time_base = self.time_base
            stream.time_base = self.time_base
            ctx.thread_count = self.threads
            ctx.colorspace, ctx.color_range = _BT601, _LIMITED
            self._video = stream
            if self.audio_from is not None:
                self._audio = AudioCopier.create(self.audio_from, self._container, self.ext)
                self.has_audio = self._audio is not None
        except LivematteError:
            self.abort()
            raise
        except (av.FFmpegError, OSError) as err:
            self.abort()
            raise LivematteError(f"{self.path}: cannot create video ({_reason(err)})") from err
        self._state = "open"

    def write(self, picture: np.ndarray, frame: Frame) -> None:
        """Encode one RGB ``(H, W, 3)`` or RGBA ``(H, W, 4)`` uint8 picture of ``frame``."""
        if self._state != "open":
            raise RuntimeError(f"{self.path}: write() needs an open sink (state {self._state})")
        if not isinstance(picture, np.ndarray) or picture.dtype != np.uint8:
            raise TypeError(f"picture: got {getattr(picture, 'dtype', type(picture))}, expected uint8")
        if picture.ndim != 3 or picture.shape[2] not in (3, 4) or \
                picture.shape[:2] != (self.height, self.width):
            raise ValueError(f"picture: got shape {picture.shape}, expected "
                             f"({self.height}, {self.width}, 3 or 4)")
        video_frame = self._convert(_pad_even(np.ascontiguousarray(picture)))
        pts = self._pts_for(frame)
        video_frame.pts = pts
        video_frame.time_base = self.time_base
        video_frame.duration = self._frame_ticks
        try:
            for packet in self._video.encode(video_frame):
                self._container.mux(packet)
            if self._audio is not None:
                self._audio.pump(self._video_end())
        except (av.FFmpegError, OSError) as err:
            raise LivematteError(f"{self.path}: cannot write video ({_reason(err)})") from err
        self.frames_written += 1

    def _pts_for(self, frame: Frame) -> int:
        if frame.pts is not None and frame.time_base is not None:
            pts = frame.pts if Fraction(frame.time_base) == self.time_base else \
                round(frame.pts * Fraction(frame.time_base) / self.time_base)
        else:
            pts = round(frame.index / (self.fps * self.time_base))
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1  # encoders refuse repeated or backward timestamps
        self._last_pts = pts
        return pts

    def _video_end(self) -> float:
        """End time in seconds of the last frame written (its pts plus one frame)."""
        return float((self._last_pts + self._frame_ticks) * self.time_base)

    def close(self) -> None:
        """Flush the encoders and publish the file. Safe to call twice.

        With no frame written there is nothing to play: the temporary file is removed and
        no output is created.
        """
        if self._state != "open":
            return
        self._state = "closing"
        try:
            for packet in self._video.encode(None):
                self._container.mux(packet)
            if self._audio is not None and self._last_pts is not None:
                self._audio.finish(self._video_end())
            self._container.close()
        except (av.FFmpegError, OSError) as err:
            self.abort()
            raise LivematteError(f"{self.path}: cannot finish video ({_reason(err)})") from err
        self._close_audio()
        self._container = None
        if self.frames_written == 0:
            self._atomic.discard()
        else:
            self._atomic.commit()
        self._state = "closed"

    def abort(self) -> None:
        """Stop and delete the partial output; the requested path is left untouched."""
        if self._state in ("closed", "aborted"):
            return
        self._state = "aborted"
        if self._container is not None:
            try:
                self._container.close()
            except Exception:  # the file is being thrown away; its errors do not matter
                pass
            self._container = None
        self._close_audio()
        if self._atomic is not None:
            self._atomic.discard()

    def _close_audio(self) -> None:
        if self._audio is not None:
            self._audio.close()
            self._audio = None

    def describe(self) -> str:
        return str(self.path)


def _reason(err: BaseException) -> str:
    return getattr(err, "strerror", None) or str(err)


class AudioCopier:
    """Moves the audio of one file into an output container, up to a given time.

    Packets are stream-copied when the output accepts the codec, else decoded and
    re-encoded (Opus for WebM, AAC otherwise). ``pump(t)`` muxes everything that starts
    before ``t`` seconds; damaged input audio just ends the track early.
    """

    def __init__(self, source, in_stream, container, out_stream, transcode: bool) -> None:
        self._source = source
        self._container = container
        self._in = in_stream
        self._out = out_stream
        self._transcode = transcode
        self._packets = self._generate()
        self._pending = None
        self._done = False

    @classmethod
    def create(cls, path: str, container, ext: str) -> Optional["AudioCopier"]:
        """An audio copier into ``container``, or None when ``path`` has no audio."""
        source = open_container(path)
        if not source.streams.audio:
            source.close()
            return None
        in_stream = source.streams.audio[0]
        name = in_stream.codec_context.name
        allowed = _COPY_AUDIO.get(ext)
        copy = name in container.supported_codecs and (allowed is None or name in allowed)
        try:
            if copy:
                out_stream = container.add_stream_from_template(in_stream)
            else:
                out_stream = cls._add_encoder(container, in_stream, ext)
        except BaseException:
            source.close()
            raise
        return cls(source, in_stream, container, out_stream, transcode=not copy)

    @staticmethod
    def _add_encoder(container, in_stream, ext: str):
        ctx = in_stream.codec_context
        channels = ctx.layout.nb_channels if ctx.layout else 2
        layout = "mono" if channels == 1 else "stereo"
        if ext == ".webm":
            codec = "libopus" if "libopus" in av.codecs_available else "opus"
            return container.add_stream(codec, rate=48000, layout=layout)
        return container.add_stream("aac", rate=ctx.sample_rate or 48000, layout=layout)

    def _generate(self) -> Iterator:
        """Output-ready packets in order (copied, or freshly encoded)."""
        try:
            for packet in self._source.demux(self._in):
                if self._transcode:
                    for frame in packet.decode():
                        yield from self._out.encode(frame)
                elif packet.size and packet.dts is not None:
                    packet.stream = self._out
                    yield packet
        except (av.FFmpegError, OSError):
            pass  # damaged or cut-short audio: the track simply ends here

    @staticmethod
    def _start(packet) -> float:
        ts = packet.pts if packet.pts is not None else packet.dts
        return float(ts * packet.time_base) if ts is not None else 0.0

    def pump(self, until: float) -> None:
        """Mux every packet that starts before ``until`` seconds."""
        while not self._done:
            if self._pending is None:
                self._pending = next(self._packets, None)
                if self._pending is None:
                    self._done = True
                    break
            if self._start(self._pending) >= until:
                break
            self._container.mux(self._pending)
            self._pending = None

    def finish(self, until: float) -> None:
        """Mux up to ``until`` seconds, then flush a transcoder (end of the output)."""
        self.pump(until)
        self._done = True
        if self._transcode:
            for packet in self._out.encode(None):
                if self._start(packet) < until:
                    self._container.mux(packet)

    def close(self) -> None:
        self._packets.close()
        self._source.close()
