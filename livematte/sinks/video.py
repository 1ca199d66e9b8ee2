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
* Tracks (``audio_from``): the file's audio and subtitle tracks are carried where the container
  can hold them (:mod:`livematte.sinks.tracks`: copied, or converted) and end where the last
  written video frame ends, so an interrupted output keeps matching audio. ``notes`` holds one
  line about the tracks the container cannot hold.
* ``fragmented=True`` (live recordings): .mp4/.m4v/.mov are written as fragments of about a
  second (.mkv/.webm already are, as clusters), write errors are watched as they happen, and
  :meth:`VideoFileSink.salvage` keeps what was completed before a failure (a full disk) as a
  playable file.
"""
from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from typing import List, Optional

import av
import cv2
import numpy as np

from livematte.atomic import AtomicPath, check_writable_dir
from livematte.sinks.base import Sink, close_quietly
from livematte.salvage import CheckedFile, count_video_packets, cut_to_complete_boxes
from livematte.sinks.tracks import SourceTracks
from livematte.types import Frame, LivematteError, StreamInfo

VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mkv", ".webm", ".mov")
FRAGMENT_EXTENSIONS = (".mp4", ".m4v", ".mov")
#: A fragment about every second (cut at any frame): what a failure can cost a recording.
FRAGMENT_OPTIONS = {"movflags": "+frag_keyframe+empty_moov+default_base_moof", "frag_duration": "1000000"}
#: Matroska clusters of about a second too (by default they are held in memory up to 5 s).
CLUSTER_OPTIONS = {"cluster_time_limit": "1000"}
ALPHA_EXTENSIONS = (".webm", ".mov")

#: ProRes encoder for alpha .mov: prores_aw measured ~2x faster than prores_ks at 720p
#: (both write ProRes 4444 'ap4h' with an alpha plane that FFmpeg reads back exactly).
PRORES_ENCODER = "prores_aw"

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


def _codec_plan(ext: str, alpha: bool, crf: int, preset: str, tune: Optional[str] = None):
    """(codec name, pixel format, encoder options) for an extension (``tune``: libx264's, or None)."""
    if ext == ".webm":
        options = {"deadline": "realtime", "cpu-used": "8", "row-mt": "1",
                   "lag-in-frames": "0", "crf": str(min(63, crf + 12)), "b": "0"}
        return "libvpx-vp9", ("yuva420p" if alpha else "yuv420p"), options
    if ext == ".mov" and alpha:
        return PRORES_ENCODER, "yuva444p10le", {"profile": "4" if PRORES_ENCODER == "prores_aw" else "4444"}
    options = {"crf": str(crf), "preset": preset}
    if tune:
        options["tune"] = tune
    return "libx264", "yuv420p", options


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
        audio_from: a file whose audio and subtitle tracks go into the output, or None.
        crf: H.264 constant-rate factor (lower is better); VP9 uses ``crf + 12``.
        preset: libx264 preset.
        tune: libx264 tune (``zerolatency`` for live recordings: no look-ahead, no B-frames, no
            frame threads), or None.
        threads: encoder threads (0: FFmpeg chooses).
        fragmented: a recording that must survive a failure (.mp4/.m4v/.mov written as fragments).

    Attributes:
        frames_written: pictures encoded so far.
        has_audio: whether the output has an audio track (after ``open``).
        notes: one line per thing worth saying about the output (tracks it cannot hold).
    """

    def __init__(self, path: "str | os.PathLike[str]", *, audio_from: Optional[str] = None,
                 crf: int = 20, preset: str = "veryfast", tune: Optional[str] = None, threads: int = 0,
                 fragmented: bool = False) -> None:
        self.path = Path(path)
        self.ext = self.path.suffix.lower()
        if self.ext not in VIDEO_EXTENSIONS:
            check_output(self.path, False)  # raises the message listing the extensions
        if not 0 <= crf <= 51:
            raise LivematteError(f"{self.path}: crf must be within 0..51, got {crf}")
        if preset not in X264_PRESETS:
            raise LivematteError(f"{self.path}: preset must be one of {', '.join(X264_PRESETS)}, got {preset!r}")
        self.audio_from = os.fspath(audio_from) if audio_from is not None else None
        self.crf, self.preset, self.tune, self.threads = crf, preset, tune, threads
        self.fragmented = fragmented
        self.frames_written = 0
        self.has_audio = False
        self.notes: List[str] = []
        self._atomic: Optional[AtomicPath] = None
        self._container = None
        self._video = None
        self._audio: Optional[SourceTracks] = None
        self._file: Optional[CheckedFile] = None
        self._state = "new"

    # -- lifecycle ----------------------------------------------------------------------
    def open(self, info: StreamInfo, alpha: bool) -> None:
        """Create the (temporary) file and the encoder for ``info``'s size and rate."""
        if self._state != "new":
            raise RuntimeError(f"{self.path}: sink already opened")
        check_output(self.path, alpha)
        self.alpha = alpha
        self.width, self.height = int(info.width), int(info.height)
        codec, pix_fmt, options = _codec_plan(self.ext, alpha, self.crf, self.preset, self.tune)
        self._convert = (_yuva444p10_frame if pix_fmt == "yuva444p10le"
                         else _yuva420_frame if pix_fmt == "yuva420p" else _yuv420_frame)
        self.fps = Fraction(info.fps) if info.fps else Fraction(30, 1)
        self.time_base = Fraction(info.time_base) if info.time_base else 1 / self.fps
        self._frame_ticks = max(1, round(1 / (self.fps * self.time_base)))
        self._last_pts: Optional[int] = None
        self._atomic = AtomicPath(self.path)
        container_options = {"movflags": "+faststart"} if self.ext in (".mp4", ".m4v") else {}
        if self.fragmented:
            container_options = dict(FRAGMENT_OPTIONS if self.ext in FRAGMENT_EXTENSIONS else CLUSTER_OPTIONS)
        try:
            target = str(self._atomic.temp)
            if self.fragmented:  # FFmpeg does not report a failed write while muxing: watch it ourselves
                self._file = target = CheckedFile(self._atomic.temp)
            self._container = av.open(target, mode="w", options=container_options)
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
                self._audio = SourceTracks.create(self.audio_from, self._container, self.ext)
            self._container.start_encoding()  # the header: output time bases are final from here
            if self._audio is not None:
                self._audio.start()
                self.has_audio = self._audio.has_audio
                note = self._audio.note(str(self.path))
                if note:
                    self.notes.append(note)
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
            self._check_file()
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
            self._check_file()
            if self._audio is not None:
                self.notes.extend(self._audio.problems(str(self.path)))
        except (av.FFmpegError, OSError) as err:
            kept = self.salvage() if self.fragmented else self.abort()
            more = f"; kept the first {kept} frames, playable" if kept else ""
            raise LivematteError(f"{self.path}: cannot finish video ({_reason(err)}){more}") from err
        self._close_audio()
        self._close_file()
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
        close_quietly(self._container)
        self._container = None
        self._close_audio()
        self._close_file()
        if self._atomic is not None:
            self._atomic.discard()

    def salvage(self) -> int:
        """After a failed write or finish (a full disk): keep what plays, instead of :meth:`abort`.

        The file is closed as it is; a fragmented MP4/MOV is cut back to its last complete fragment.
        It is published under the requested name when at least one frame reads back from it, else
        deleted. Returns the frames kept (0: nothing was published).
        """
        if self._state in ("closed", "aborted") or self._atomic is None:
            return 0
        self._state = "aborted"
        close_quietly(self._container)
        self._container = None
        self._close_audio()
        self._close_file()
        kept = 0
        try:
            if self.fragmented and self.ext in FRAGMENT_EXTENSIONS:
                cut_to_complete_boxes(self._atomic.temp)
            kept = count_video_packets(self._atomic.temp)
        except (OSError, av.FFmpegError, LivematteError):
            kept = 0
        if kept:
            try:
                self._atomic.commit()
            except LivematteError:
                kept = 0
        self._atomic.discard()
        return kept

    def _check_file(self) -> None:
        if self._file is not None and self._file.error is not None:
            raise self._file.error

    def _close_file(self) -> None:
        if self._file is not None:
            self._file.close()

    def _close_audio(self) -> None:
        if self._audio is not None:
            self._audio.close()
            self._audio = None

    def describe(self) -> str:
        return str(self.path)


def _reason(err: BaseException) -> str:
    return getattr(err, "strerror", None) or str(err)
