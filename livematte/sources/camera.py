"""Live sources: a webcam (OpenCV; V4L2 on Linux) and a video file played as if it were a camera.

Both meet the small contract the live runner (:mod:`livematte.live`) drives from its capture
thread:

* ``open() -> StreamInfo``: start delivering. Permanent problems (a busy camera, a size or rate it
  does not offer) raise :class:`~livematte.types.LivematteError` with the fix; a camera that is
  simply not there (yet) raises :class:`SourceLost` when re-opened after a loss.
* ``read() -> Frame | None``: block until the next frame is captured and return it (RGB uint8
  ``(H, W, 3)`` with ``timestamp`` = ``time.perf_counter()`` at capture); ``None`` at the end of a
  file; :class:`SourceLost` when the camera stopped delivering (unplugged, driver error).
* ``close()``: release the device or file; safe to call twice.

:class:`FileCameraSource` paces its reads to the file's own timestamps in wall-clock time, so
downstream code sees exactly what a camera would give it; ``disconnect=`` makes it fail like an
unplugged camera (the seam the tests use for the camera-loss path).
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterator, Optional, Tuple, Union

import cv2
import numpy as np

from ..types import Frame, LivematteError, StreamInfo

Size = Tuple[int, int]  # (width, height)


class SourceLost(Exception):
    """The source stopped delivering frames; the live runner re-opens it with back-off."""


def parse_size(text: str) -> Size:
    """``"1280x720"`` -> ``(1280, 720)``; raises LivematteError for anything else.

    >>> parse_size("640x480")
    (640, 480)
    """
    w, sep, h = text.lower().partition("x")
    try:
        size = (int(w), int(h))
    except ValueError:
        size = (0, 0)
    if not sep or size[0] <= 0 or size[1] <= 0:
        raise LivematteError(f"--size {text!r}: expected WIDTHxHEIGHT, for example 1280x720")
    return size


def camera_spec(source: Union[str, int]) -> Union[int, str]:
    """``"0"`` -> camera index 0; ``/dev/video2`` stays a device path."""
    if isinstance(source, int):
        return source
    text = str(source).strip()
    return int(text) if text.isdigit() else text


def is_camera(source: Union[str, int]) -> bool:
    """Whether ``--source`` names a camera (an index or a /dev/video device) rather than a file."""
    spec = camera_spec(source)
    return isinstance(spec, int) or str(spec).startswith("/dev/")


def device_path(spec: Union[int, str]) -> Optional[str]:
    """The V4L2 device file behind a camera spec on Linux (``0`` -> ``/dev/video0``), else None."""
    if not sys.platform.startswith("linux"):
        return None
    return f"/dev/video{spec}" if isinstance(spec, int) else str(spec)


def _mirror(image: np.ndarray, mirror: bool) -> np.ndarray:
    return cv2.flip(image, 1) if mirror else image


class CameraSource:
    """A webcam through OpenCV (the V4L2 backend on Linux).

    Args:
        source: a camera index (``0``) or a device path (``/dev/video2``).
        size: ``(width, height)`` to ask for, or None for the camera's current mode.
        fps: frame rate to ask for, or None for the camera's default.
        mirror: flip left-right (what people expect of a selfie view).
    """

    def __init__(self, source: Union[str, int] = 0, *, size: Optional[Size] = None,
                 fps: Optional[float] = None, mirror: bool = False):
        self.spec = camera_spec(source)
        self.size, self.fps, self.mirror = size, fps, mirror
        self.name = f"camera {self.spec}"
        self.info = StreamInfo(width=0, height=0, name=self.name)
        self._cap = None
        self._pending: Optional[np.ndarray] = None
        self._index = 0

    def _capture(self):
        level = cv2.getLogLevel()
        cv2.setLogLevel(0)  # OpenCV's own warnings about a missing camera; our error says it in one line
        try:
            if sys.platform.startswith("linux"):
                return cv2.VideoCapture(self.spec, cv2.CAP_V4L2)
            return cv2.VideoCapture(self.spec)
        finally:
            cv2.setLogLevel(level)

    def _not_opened(self) -> LivematteError:
        path = device_path(self.spec)
        other = "pick another camera with --source (`livematte doctor` lists them)"
        if path is not None and not os.path.exists(path):
            return LivematteError(f"{self.name}: not found ({path} does not exist); plug one in or {other}")
        if path is not None and not os.access(path, os.R_OK | os.W_OK):
            return LivematteError(f"{self.name}: permission denied on {path}; run `sudo usermod -aG video "
                                  "$USER` and log in again")
        return LivematteError(f"{self.name}: cannot be opened: it is busy (another program such as Zoom, a "
                              f"browser or OBS is using it) or it is not a capture device; close that program or {other}")

    def open(self) -> StreamInfo:
        """Open the camera, set the mode, read one frame; see the module doc for the errors."""
        self.close()
        cap = self._capture()
        if not cap.isOpened():
            cap.release()
            raise self._not_opened()
        self._cap = cap
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # no queue of stale frames in the driver
        cap.set(cv2.CAP_PROP_READ_TIMEOUT_MSEC, 2000)  # notice a stalled camera in 2 s, not OpenCV's 10
        if self.size is not None:
            # Most webcams only reach HD rates in MJPG; an uncompressed mode is often 5-10 fps.
            cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG"))
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.size[0])
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.size[1])
        if self.fps is not None:
            cap.set(cv2.CAP_PROP_FPS, float(self.fps))
        ok, bgr = cap.read()
        if not ok or bgr is None:
            self.close()
            raise self._not_opened()
        h, w = bgr.shape[:2]
        if self.size is not None and (w, h) != tuple(self.size):
            self.close()
            raise LivematteError(f"{self.name}: does not offer {self.size[0]}x{self.size[1]} (it gave {w}x{h}); "
                                 "use a size it offers (`livematte doctor` lists them) or leave out --size")
        actual = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        if self.fps is not None and actual > 0 and abs(actual - float(self.fps)) > 0.5:
            self.close()
            raise LivematteError(f"{self.name}: does not offer {self.fps:g} fps at {w}x{h} (it gave {actual:g}); "
                                 "use a rate it offers (`livematte doctor` lists them) or leave out --fps")
        rate = Fraction(actual).limit_denominator(1001) if actual > 0 else Fraction(self.fps or 30).limit_denominator(1001)
        self.info = StreamInfo(width=w, height=h, fps=rate, name=self.name)
        self._pending = bgr
        return self.info

    def _stamp(self) -> float:
        """Capture time of the frame just read, as ``time.perf_counter()``.

        On Linux the V4L2 buffer's own timestamp (CLOCK_MONOTONIC, the clock perf_counter reads) is
        used when it is plausible, so decoding inside ``read`` does not hide in the latency.
        """
        now = time.perf_counter()
        if sys.platform.startswith("linux") and self._cap is not None:
            driver = float(self._cap.get(cv2.CAP_PROP_POS_MSEC) or 0.0) / 1000.0
            if 0.0 <= now - driver < 0.5:
                return driver
        return now

    def read(self) -> Optional[Frame]:
        """The next captured frame; raises SourceLost when the camera stops delivering."""
        if self._cap is None:
            raise SourceLost(f"{self.name} is not open")
        if self._pending is not None:
            bgr, self._pending = self._pending, None
        else:
            ok, bgr = self._cap.read()
            if not ok or bgr is None:
                raise SourceLost(f"{self.name} stopped delivering frames")
        stamp = self._stamp()
        image = _mirror(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), self.mirror)
        self._index += 1
        return Frame(image=image, index=self._index - 1, timestamp=stamp)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        self._pending = None


@dataclass
class SimulatedDisconnect:
    """Make a file source behave like a camera unplugged and plugged back in.

    After ``after_frames`` frames (counted over the whole run), ``read`` raises SourceLost and
    ``open`` keeps raising it for ``seconds``; then the file plays on from where it stopped.
    """

    after_frames: int
    seconds: float = 1.0
    _lost_at: Optional[float] = None
    fired: bool = False

    @classmethod
    def parse(cls, text: str) -> "SimulatedDisconnect":
        """``"60:1.5"`` -> lose the source after 60 frames, for 1.5 s."""
        frames, _, seconds = text.partition(":")
        try:
            return cls(int(frames), float(seconds or 1.0))
        except ValueError:
            raise LivematteError(f"--simulate-disconnect {text!r}: expected FRAMES:SECONDS, for example 60:1.5") from None


class FileCameraSource:
    """A video file played in real time as if it were a camera.

    Each ``read`` sleeps until the frame is due by the file's own timestamps (``fps`` given: one
    frame every ``1/fps`` s), measured from when playback started. When the reader falls behind by
    more than a frame period the clock is re-anchored, as a camera would drop frames rather than
    burst. ``read`` returns None at the end of the file; the runner calls :meth:`restart` to loop.

    Args:
        path: the video file.
        size: ``(width, height)`` to scale frames to, or None for the file's own size.
        fps: play at this rate instead of the file's own (one file frame per tick).
        mirror: flip left-right.
        disconnect: a :class:`SimulatedDisconnect` fault to inject, or None.
    """

    def __init__(self, path: str, *, size: Optional[Size] = None, fps: Optional[float] = None,
                 mirror: bool = False, disconnect: Optional[SimulatedDisconnect] = None):
        self.path, self.size, self.fps, self.mirror = os.fspath(path), size, fps, mirror
        self.disconnect = disconnect
        self.name = os.path.basename(self.path)
        self.info = StreamInfo(width=0, height=0, name=self.name)
        self._video = None
        self._frames: Optional[Iterator[Frame]] = None
        self._delivered = 0  # over the whole run (the fault counts these)
        self._resume_at = 0  # file frame to continue from after a simulated loss
        self._played = 0  # file frames read since the last (re)start
        self._anchor: Optional[Tuple[float, float]] = None  # (perf_counter, media seconds)

    def open(self) -> StreamInfo:
        """Open the file (again after a loss, continuing where it stopped)."""
        d = self.disconnect
        if d is not None and d._lost_at is not None:
            if time.perf_counter() - d._lost_at < d.seconds:
                raise SourceLost(f"{self.name}: simulated disconnect")
            d._lost_at = None
        from .animated import video_file_source

        self.close()
        video = video_file_source(self.path)  # a video file, an animated GIF or WebP
        video.__enter__()
        self._video, self._frames = video, iter(video)
        src = video.info
        w, h = self.size or (src.width, src.height)
        rate = Fraction(self.fps).limit_denominator(1001) if self.fps else src.fps
        self.info = StreamInfo(width=w, height=h, fps=rate, frames=src.frames, name=self.name)
        skip, self._played, self._anchor = self._resume_at, 0, None
        for _ in range(skip):  # continue where the simulated loss left off
            if next(self._frames, None) is None:
                break
            self._played += 1
        return self.info

    def restart(self) -> StreamInfo:
        """Start again from the first frame (for --loop)."""
        self._resume_at = 0
        return self.open()

    def _media_seconds(self, frame: Frame) -> float:
        if self.fps or frame.seconds is None:
            return self._played / float(self.info.fps)
        return frame.seconds

    def read(self) -> Optional[Frame]:
        d = self.disconnect
        if d is not None and not d.fired and self._delivered >= d.after_frames:
            d.fired, d._lost_at = True, time.perf_counter()
            self._resume_at = self._played
            self.close()
            raise SourceLost(f"{self.name}: simulated disconnect")
        if self._frames is None:
            raise SourceLost(f"{self.name} is not open")
        frame = next(self._frames, None)
        if frame is None:
            return None
        media = self._media_seconds(frame)
        self._played += 1
        period = 1.0 / float(self.info.fps)
        now = time.perf_counter()
        if self._anchor is None:
            self._anchor = (now, media)
        due = self._anchor[0] + (media - self._anchor[1])
        if now < due:
            time.sleep(due - now)
        elif now > due + max(0.5, 4 * period):  # long stall (a pause, a loop): re-anchor, don't burst
            self._anchor = (now, media)
        # a little late: deliver at once, as a camera's queued buffer would be, so the rate holds
        stamp = time.perf_counter()
        image = frame.image
        if (image.shape[1], image.shape[0]) != (self.info.width, self.info.height):
            image = cv2.resize(image, (self.info.width, self.info.height), interpolation=cv2.INTER_AREA)
        self._delivered += 1
        return Frame(image=_mirror(image, self.mirror), index=self._played - 1, timestamp=stamp)

    def close(self) -> None:
        if self._video is not None:
            self._video.close()
            self._video, self._frames = None, None


def open_live_source(source: Union[str, int], *, size: Optional[Size] = None, fps: Optional[float] = None,
                     mirror: bool = False, disconnect: Optional[SimulatedDisconnect] = None):
    """A :class:`CameraSource` for ``0`` / ``/dev/videoN``, else a :class:`FileCameraSource` (not yet opened)."""
    if is_camera(source):
        if disconnect is not None:
            raise LivematteError("--simulate-disconnect works with a file --source only")
        return CameraSource(source, size=size, fps=fps, mirror=mirror)
    path = str(source)
    if os.path.isdir(path):
        raise LivematteError(f"{path}: is a folder; --source takes a camera number, /dev/videoN or a video file")
    if not os.path.isfile(path):
        raise LivematteError(f"{path}: no such file (for a camera, give its number or /dev/videoN)")
    return FileCameraSource(path, size=size, fps=fps, mirror=mirror, disconnect=disconnect)
