"""Video files as frame sources (PyAV / FFmpeg).

* ``VideoFileSource``: a context manager that decodes a video file into RGB ``Frame``s.
* ``probe(path)``: the ``StreamInfo`` of a file (decodes its first frame only).
* ``read_alpha_frames(path)``: every frame as RGBA, keeping transparency (VP9 alpha in WebM,
  ProRes 4444, PNG/QTRLE in MOV, ...); for tests and tools, it holds all frames in memory.
* ``LoopingVideo``: a background video read frame by frame, starting over at its end.

Colour: frames are converted with the colour matrix and range the file declares (BT.601
limited range when it declares none, as FFmpeg does). Rotation metadata (phones) is
applied, so frames come out the way players show them.
"""
from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from typing import Iterator, List, Optional

import av
import numpy as np

from livematte.sources.base import Source
from livematte.sources.fit import SizeFitter
from livematte.types import Frame, LivematteError, StreamInfo

#: Frame rate assumed when a file declares none.
DEFAULT_FPS = Fraction(30, 1)


def open_container(path: str) -> "av.container.InputContainer":
    """Open ``path`` for reading or raise a one-line ``LivematteError`` naming it."""
    if not os.path.exists(path):
        raise LivematteError(f"{path}: no such file")
    if os.path.isdir(path):
        raise LivematteError(f"{path}: is a directory, expected a video file")
    if os.path.getsize(path) == 0:
        raise LivematteError(f"{path}: is empty")
    try:
        return av.open(path, mode="r")
    except av.error.EOFError as err:
        raise LivematteError(f"{path}: ends before any video data (empty or truncated)") from err
    except av.FFmpegError as err:
        reason = getattr(err, "strerror", None) or str(err)
        hint = ""
        with open(path, "rb") as f:
            if f.read(8)[4:8] == b"ftyp":  # an MP4/MOV whose index (moov) was never written
                hint = " (an unfinished MP4/MOV recording lacks its index)"
        raise LivematteError(f"{path}: not a readable video file: {reason}{hint}") from err
    except OSError as err:
        raise LivematteError(f"{path}: cannot open ({err.strerror or err})") from err
    except UnicodeDecodeError as err:  # PyAV decodes the tags as UTF-8 while opening
        raise LivematteError(f"{path}: not a readable video file: its metadata is damaged (not UTF-8)") from err


def video_stream(container, path: str):
    """The first real video stream (cover art in audio files does not count)."""
    for stream in container.streams.video:
        if not (stream.disposition & av.stream.Disposition.attached_pic):
            if stream.codec_context is None:  # codec parameters damaged or cut off (found by fuzzing)
                raise LivematteError(f"{path}: its video stream cannot be decoded (unknown or damaged codec)")
            return stream
    raise LivematteError(f"{path}: has no video stream")


def stream_fps(stream) -> Fraction:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            return Fraction(rate)
    return DEFAULT_FPS


def stream_duration(container, stream) -> Optional[float]:
    """Duration of the video stream in seconds, or None when the file does not say."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    try:
        tag = stream.metadata.get("DURATION") or stream.metadata.get("duration")
    except UnicodeDecodeError:  # damaged tags
        tag = None
    if tag:  # Matroska writes "HH:MM:SS.nnnnnnnnn" per stream
        try:
            h, m, s = tag.split(":")
            return int(h) * 3600 + int(m) * 60 + float(s)
        except ValueError:
            pass
    if container.duration and len(container.streams) == 1:
        return container.duration / 1_000_000
    return None


def _to_rgb(frame: "av.VideoFrame") -> np.ndarray:
    """A decoded frame as RGB uint8 ``(H, W, 3)``, C-contiguous, rotated for display."""
    # threads=1: on 2 cores the scaler's own threads only fight the decoder's (measured).
    image = frame.to_ndarray(format="rgb24", src_color_range=frame.color_range, threads=1)
    k = round(frame.rotation / 90) % 4 if frame.rotation else 0
    if k:
        image = np.rot90(image, k)  # rotation is counterclockwise, like np.rot90
    return np.ascontiguousarray(image)


class VideoFileSource(Source):
    """Decode a video file into RGB frames.

    ``info`` and ``warning`` are valid after ``__enter__``; opening decodes the first frame, so
    a file with no decodable frame fails there, before any output is created. Iterate once.

    Errors (``LivematteError``, one line naming the file): missing file, not a video, no
    video stream, no decodable frame. A file damaged or cut short part way is not an error:
    packets the decoder refuses are skipped (``damaged`` counts them; the frames lost are
    counted in ``warning``), iteration stops at a demuxing error or at the early end, and
    ``warning`` becomes a one-line explanation. A frame whose size differs from the first one's
    (a stream that changes size, or damage that makes the decoder think so) is scaled and padded
    to it, and ``warning`` says how many.

    Example:
        >>> with VideoFileSource("clip.mp4") as src:  # doctest: +SKIP
        ...     for frame in src:
        ...         frame.image.shape          # (H, W, 3) uint8 RGB
    """

    def __init__(self, path: "str | os.PathLike[str]", *, threads: int = 0) -> None:
        self.path = os.fspath(path)
        self.threads = threads
        self.info: StreamInfo = StreamInfo(width=0, height=0)
        self.warning: Optional[str] = None
        self.frames_read = 0
        self.damaged = 0  # packets skipped because the decoder refused them
        self._damage: Optional[str] = None
        self._container = None
        self._stream = None
        self._decoded: Optional[Iterator["av.VideoFrame"]] = None
        self._first: Optional["av.VideoFrame"] = None
        self._error: Optional[str] = None

    # -- context manager ---------------------------------------------------------------
    def __enter__(self) -> "VideoFileSource":
        self._container = open_container(self.path)
        try:
            self._setup()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Release the file; safe to call twice."""
        if self._decoded is not None:
            self._decoded.close()
            self._decoded = None
        if self._container is not None:
            self._container.close()
            self._container = None

    def _setup(self) -> None:
        container = self._container
        stream = video_stream(container, self.path)
        # SLICE threading: cheap on 2 cores; FRAME/AUTO added latency and lost speed here.
        stream.codec_context.thread_type = "SLICE"
        stream.codec_context.thread_count = self.threads
        self._stream = stream
        self._decoded = self._decode()
        self._first = next(self._decoded, None)
        if self._first is None:
            why = f": {self._error}" if self._error else ""
            raise LivematteError(f"{self.path}: no video frame could be decoded{why}")
        fps = stream_fps(stream)
        first_rgb_shape = _display_size(self._first)
        frames = stream.frames or None
        self._duration = stream_duration(container, stream)
        if frames is None and self._duration:
            frames = max(1, round(self._duration * fps))
        self.info = StreamInfo(
            width=first_rgb_shape[0],
            height=first_rgb_shape[1],
            fps=fps,
            frames=frames,
            time_base=Fraction(stream.time_base) if stream.time_base else None,
            path=self.path,
            has_audio=len(container.streams.audio) > 0,
            name=Path(self.path).name,
        )

    # -- decoding ----------------------------------------------------------------------
    def _decode(self) -> Iterator["av.VideoFrame"]:
        """Decoded frames in order. A packet the decoder refuses is skipped (counted in
        ``damaged``), as ffmpeg does; a demuxing error ends the frames (kept in _error)."""
        stream = self._stream
        try:
            for packet in self._container.demux(stream):
                # The last packet of demux() is empty: decoding it flushes the decoder.
                try:
                    frames = packet.decode()
                except av.InvalidDataError as err:
                    self.damaged += 1
                    self._damage = getattr(err, "strerror", None) or str(err)
                    continue
                yield from frames
        except (av.FFmpegError, OSError) as err:
            self._error = getattr(err, "strerror", None) or str(err)
            try:  # frames still queued inside the decoder (threads, reordering) are good
                yield from stream.codec_context.decode(None)
            except (av.FFmpegError, OSError):
                pass

    def __iter__(self) -> Iterator[Frame]:
        if self._container is None:
            raise RuntimeError("VideoFileSource must be entered (with ...) before iterating")
        fps = self.info.fps
        time_base = self.info.time_base or Fraction(1, 1) / fps
        last_pts = None
        frames = [self._first] if self._first is not None else []
        self._first = None
        chained = _chain(frames, self._decoded)
        fit = SizeFitter((self.info.width, self.info.height), self.info.name)  # a stream that changes size
        for frame in chained:
            index = self.frames_read
            pts = frame.pts
            if pts is None:  # raw streams: synthesize from the index and the nominal rate
                pts = round(index / (fps * time_base))
            last_pts = pts
            self.frames_read += 1
            yield fit(Frame(image=_to_rgb(frame), index=index, pts=pts, time_base=time_base,
                            name=f"{index:05d}"))
        self._finish(last_pts, time_base)
        if fit.note:
            self.warning = f"{self.warning}; {fit.note}" if self.warning else fit.note

    def _finish(self, last_pts: Optional[int], time_base: Fraction) -> None:
        """Set ``warning`` when decoding stopped early."""
        n, name = self.frames_read, self.info.name
        if self.damaged:
            expected = self._stream.frames
            lost = f"{expected - n} of {expected} frames lost" if expected and n < expected else "frames lost"
            self.warning = (f"{name}: {self.damaged} damaged packets skipped ({self._damage}), {lost}; "
                            f"{n} frames decoded" + (f", then decoding stopped ({self._error})" if self._error else ""))
            return
        if self._error is not None:
            self.warning = (f"{name}: decoding stopped after {n} frames ({self._error}); "
                            "the file is damaged or truncated")
            return
        expected = self._stream.frames
        if expected and n < expected:
            self.warning = (f"{name}: only {n} of {expected} frames could be decoded; "
                            "the file is damaged or truncated")
            return
        if not expected and self._duration and last_pts is not None:
            start = self._stream.start_time or 0
            end = float((last_pts - start) * time_base) + 1 / float(self.info.fps)
            if self._duration - end > max(3 / float(self.info.fps), 0.02 * self._duration):
                self.warning = (f"{name}: video ends at {end:.2f} s of {self._duration:.2f} s; "
                                "the file is damaged or truncated")


def _chain(first: list, rest: Optional[Iterator]) -> Iterator:
    yield from first
    if rest is not None:
        yield from rest


def _display_size(frame: "av.VideoFrame") -> tuple:
    """(width, height) of a frame after its rotation metadata is applied."""
    if frame.rotation and round(frame.rotation / 90) % 2:
        return frame.height, frame.width
    return frame.width, frame.height


def probe(path: "str | os.PathLike[str]") -> StreamInfo:
    """The ``StreamInfo`` of a video file; decodes only its first frame.

    Raises ``LivematteError`` for the same reasons as ``VideoFileSource``.
    """
    with VideoFileSource(path) as source:
        return source.info


def _to_rgba(frame: "av.VideoFrame") -> np.ndarray:
    """A decoded frame as RGBA uint8 ``(H, W, 4)`` (not rotated)."""
    fmt = frame.format
    if not fmt.name.startswith("yuva"):
        rgba = frame.to_ndarray(format="rgba", src_color_range=frame.color_range, threads=1)
        return np.ascontiguousarray(rgba)
    # swscale's yuva->rgba loses alpha at the right edge of some widths (seen at 162 px),
    # so colour goes through swscale and alpha is read from its own plane.
    rgb = frame.to_ndarray(format="rgb24", src_color_range=frame.color_range, threads=1)
    plane = frame.planes[-1]
    bits = fmt.components[-1].bits
    dtype = np.dtype(np.uint8) if bits <= 8 else np.dtype("<u2" if fmt.name.endswith("le") else ">u2")
    alpha = np.frombuffer(plane, dtype).reshape(-1, plane.line_size // dtype.itemsize)
    alpha = alpha[: frame.height, : frame.width]
    if bits > 8:
        top = (1 << bits) - 1
        alpha = ((alpha.astype(np.uint32) * 255 + top // 2) // top).astype(np.uint8)
    return np.ascontiguousarray(np.dstack([rgb, alpha]))


def read_alpha_frames(path: "str | os.PathLike[str]") -> List[np.ndarray]:
    """Every frame of a video as RGBA uint8 ``(H, W, 4)``, keeping its transparency.

    VP8/VP9 keep alpha in a side channel that FFmpeg's native decoders ignore, so those are
    decoded with libvpx; everything else (ProRes 4444, QTRLE, PNG-in-MOV, FFV1...) goes
    through the default decoder. Frames without alpha come back with alpha 255.
    """
    path = os.fspath(path)
    container = open_container(path)
    try:
        stream = video_stream(container, path)
        decoder = None
        name = stream.codec_context.name
        if name in ("vp9", "vp8"):
            decoder = av.CodecContext.create("libvpx-vp9" if name == "vp9" else "libvpx", "r")
            decoder.extradata = stream.codec_context.extradata
        frames: List[np.ndarray] = []
        for packet in container.demux(stream):
            if decoder is not None:
                decoded = decoder.decode(packet if packet.size else None)
            else:
                decoded = packet.decode()
            frames.extend(_to_rgba(frame) for frame in decoded)
    except av.FFmpegError as err:
        raise LivematteError(f"{path}: cannot decode ({getattr(err, 'strerror', None) or err})") from err
    finally:
        container.close()
    if not frames:
        raise LivematteError(f"{path}: no video frame could be decoded")
    return frames


class LoopingVideo:
    """A video read one RGB frame at a time, starting over at the end, forever.

    Used as a moving background: ``next_frame()`` returns RGB uint8 ``(H, W, 3)`` at the
    file's own size (scaling is the caller's job). The file is checked when constructed
    (``LivematteError`` if it cannot be read). ``loops`` counts completed passes.

    Example:
        >>> with LoopingVideo("beach.mp4") as bg:  # doctest: +SKIP
        ...     image = bg.next_frame()
    """

    def __init__(self, path: "str | os.PathLike[str]") -> None:
        self.path = os.fspath(path)
        self.loops = 0
        self._source: Optional[VideoFileSource] = None
        self._frames: Optional[Iterator[Frame]] = None
        self._open()
        self.info: StreamInfo = self._source.info

    def _open(self) -> None:
        self._source = VideoFileSource(self.path).__enter__()
        self._frames = iter(self._source)

    def next_frame(self) -> np.ndarray:
        """The next frame, RGB uint8 ``(H, W, 3)``; after the last one, the first again."""
        if self._source is None:
            raise RuntimeError(f"{self.path}: LoopingVideo is closed")
        frame = next(self._frames, None)
        if frame is None:
            self.loops += 1
            self._source.close()
            self._open()  # reopening is cheap and, unlike seeking, works for every format
            frame = next(self._frames, None)
            if frame is None:  # the file changed under us
                raise LivematteError(f"{self.path}: no video frame could be decoded")
        return frame.image

    def __iter__(self) -> Iterator[np.ndarray]:
        while True:
            yield self.next_frame()

    def close(self) -> None:
        """Release the file; safe to call twice."""
        if self._source is not None:
            self._source.close()
            self._source = None
            self._frames = None

    def __enter__(self) -> "LoopingVideo":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
