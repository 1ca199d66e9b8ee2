"""The virtual camera sink: pictures go to v4l2loopback (Linux) or OBS Virtual Camera (Windows, macOS).

Through pyvirtualcam. The pixel format follows the device: with ``fmt="auto"`` the sink asks the
device (on Linux a loopback device that already carries a format, such as one fixed with
``v4l2loopback-ctl set-caps``, says so in sysfs) and otherwise tries RGB (the backend converts to
its native format), then the YUV layouts, until the device accepts one. Conversions from RGB to
the YUV layouts are done here (BT.601 limited range, what webcams send).

Virtual cameras carry no alpha: an RGBA picture (``transparent``) is shown over a checkerboard.

Every failure to open is a :class:`~livematte.types.LivematteError` whose one line says the fix.
"""
from __future__ import annotations

import os
import sys
from typing import Callable, Dict, List, Optional

import cv2
import numpy as np

from ..types import Frame, LivematteError, StreamInfo
from .base import LiveSink

#: Our names for the formats, in the order ``auto`` tries them.
FORMATS = ("rgb", "i420", "nv12", "yuyv", "uyvy", "bgr")

MODPROBE = "sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label=livematte"


def fix_for_missing_device() -> str:
    """The one-line fix for 'no virtual camera device' on this operating system."""
    if sys.platform.startswith("linux"):
        return (f"load the loopback driver: `{MODPROBE}` (Debian/Ubuntu: `sudo apt install v4l2loopback-dkms` "
                "first); `livematte doctor` checks it")
    return "install OBS Studio (26+) and start its Virtual Camera once, then stop it; `livematte doctor` checks it"


def checkerboard(height: int, width: int, cell: int = 16) -> np.ndarray:
    """A light grey checkerboard, RGB uint8 ``(height, width, 3)``, the usual picture of transparency."""
    y = (np.arange(height) // cell)[:, None]
    x = (np.arange(width) // cell)[None, :]
    grey = np.where((x + y) % 2 == 0, 204, 153).astype(np.uint8)  # (H, W)
    return np.repeat(grey[:, :, None], 3, axis=2)


_BOARDS: Dict[tuple, np.ndarray] = {}


def flatten_on_checkerboard(rgba: np.ndarray) -> np.ndarray:
    """RGBA uint8 ``(H, W, 4)`` over a checkerboard -> RGB uint8 ``(H, W, 3)``."""
    h, w = rgba.shape[:2]
    board = _BOARDS.get((h, w))
    if board is None:
        board = _BOARDS[(h, w)] = checkerboard(h, w)
    a = rgba[:, :, 3].astype(np.float32) * (1.0 / 255.0)  # (H, W)
    return cv2.blendLinear(np.ascontiguousarray(rgba[:, :, :3]), board, a, 1.0 - a)


def as_rgb(picture: np.ndarray) -> np.ndarray:
    """Any effect output (RGB, RGBA or grey uint8) as RGB ``(H, W, 3)``."""
    if picture.ndim == 2:
        return cv2.cvtColor(picture, cv2.COLOR_GRAY2RGB)
    if picture.shape[2] == 4:
        return flatten_on_checkerboard(picture)
    return picture


def _i420_to_nv12(i420: np.ndarray, w: int, h: int) -> np.ndarray:
    n = w * h
    flat = i420.reshape(-1)
    out = np.empty(n * 3 // 2, np.uint8)
    out[:n] = flat[:n]
    uv = out[n:].reshape(-1, 2)  # (w/2 * h/2, 2) interleaved U, V
    uv[:, 0] = flat[n : n + n // 4]
    uv[:, 1] = flat[n + n // 4 :]
    return out


#: our format name -> (pyvirtualcam PixelFormat name, RGB (H, W, 3) -> what send() takes)
CONVERTERS: Dict[str, tuple] = {
    "rgb": ("RGB", lambda rgb: rgb),
    "bgr": ("BGR", lambda rgb: cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)),
    "i420": ("I420", lambda rgb: cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)),
    "nv12": ("NV12", lambda rgb: _i420_to_nv12(cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420), rgb.shape[1], rgb.shape[0])),
    "yuyv": ("YUYV", lambda rgb: cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_YUY2)),
    "uyvy": ("UYVY", lambda rgb: cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_UYVY)),
}

# v4l2loopback's sysfs "format" file starts with the V4L2 FourCC of the format it carries.
_SYSFS_FOURCC = {"YU12": "i420", "NV12": "nv12", "YUYV": "yuyv", "UYVY": "uyvy", "RGB3": "rgb", "BGR3": "bgr"}


def device_format(device: Optional[str]) -> Optional[str]:
    """The format a Linux loopback device already carries (from sysfs), or None when not fixed/known."""
    if not device or not sys.platform.startswith("linux"):
        return None
    path = f"/sys/class/video4linux/{os.path.basename(device)}/format"
    try:
        with open(path) as fh:
            text = fh.read().strip()
    except OSError:
        return None
    return _SYSFS_FOURCC.get(text.split(":")[0].strip()) if text else None


def _is_format_error(message: str) -> bool:
    m = message.lower()
    return "format" in m or "could not be configured" in m or "fourcc" in m


class VirtualCameraSink(LiveSink):
    """Sends pictures to a virtual camera that video-call apps can select.

    Args:
        device: the device (``/dev/video10``; on Windows/macOS the camera name), None for the first free one.
        backend: a pyvirtualcam backend name (None: all that exist on this OS; tests register their own).
        fmt: ``auto`` or one of :data:`FORMATS`.

    After :meth:`open`: ``device``, ``fmt`` (ours), ``native_fmt`` (what the backend sends to the device).
    """

    keepalive = True  # the runner keeps feeding it (last good frame) while the camera is lost

    def __init__(self, device: Optional[str] = None, *, backend: Optional[str] = None, fmt: str = "auto"):
        if fmt != "auto" and fmt not in CONVERTERS:
            raise LivematteError(f"--vcam-format {fmt!r}: choose auto or one of {', '.join(FORMATS)}")
        self.requested_device, self.backend, self.requested_fmt = device, backend, fmt
        self.device: Optional[str] = None
        self.fmt: Optional[str] = None
        self.native_fmt: Optional[str] = None
        self.size = (0, 0)
        self.sent = 0
        self._cam = None
        self._convert: Optional[Callable[[np.ndarray], np.ndarray]] = None

    def _candidates(self) -> List[str]:
        if self.requested_fmt != "auto":
            return [self.requested_fmt]
        known = device_format(self.requested_device)
        return ([known] if known else []) + [f for f in FORMATS if f != known]

    def _error(self, message: str) -> LivematteError:
        where = self.requested_device or "virtual camera"
        m = message.lower()
        if "no v4l2 loopback device" in m or "not installed" in m or "no virtual camera" in m:
            return LivematteError(f"no virtual camera device found: {fix_for_missing_device()}")
        if "does not exist" in m:
            return LivematteError(f"--vcam-device {where}: does not exist; {fix_for_missing_device()} "
                                  "(`ls /sys/devices/virtual/video4linux` lists loopback devices)")
        if "permission" in m:
            return LivematteError(f"{where}: permission denied; run `sudo usermod -aG video $USER` and log in again")
        if "not a video output" in m or "not a v4l2" in m:
            return LivematteError(f"--vcam-device {where}: not a v4l2loopback device (it is a real camera?); "
                                  "pick the loopback one (`livematte doctor` lists them)")
        if "in use" in m or "busy" in m:
            return LivematteError(f"{where}: in use by another program; close it or pick another with --vcam-device")
        if _is_format_error(message) or "size" in m or "resolution" in m:
            return LivematteError(f"{where}: does not accept {self.size[0]}x{self.size[1]} ({message}); pick another "
                                  "--size, or reload v4l2loopback so the device carries no fixed format")
        return LivematteError(f"{where}: cannot open the virtual camera: {message}")

    def open(self, info: StreamInfo, alpha: bool = False) -> None:
        """Open the device at the stream's size and rate (``alpha`` is ignored: shown on a checkerboard)."""
        try:
            import pyvirtualcam
        except ImportError:
            raise LivematteError("pyvirtualcam is not installed: pip install pyvirtualcam") from None
        w, h = int(info.width), int(info.height)
        self.size = (w, h)
        if w % 2 or h % 2:
            raise LivematteError(f"virtual camera: {w}x{h} has an odd side; YUV cameras need even sizes (use --size)")
        errors: List[str] = []
        for fmt in self._candidates():
            pixfmt = getattr(pyvirtualcam.PixelFormat, CONVERTERS[fmt][0])
            try:
                cam = pyvirtualcam.Camera(width=w, height=h, fps=float(info.fps), fmt=pixfmt,
                                          device=self.requested_device, backend=self.backend)
            except KeyError:
                raise LivematteError(f"virtual camera backend {self.backend!r} does not exist on this system") from None
            except Exception as err:  # pyvirtualcam wraps every backend failure in RuntimeError
                message = str(err).split("\n")[0].split("backend: ", 1)[-1]
                errors.append(message)
                if self.requested_fmt == "auto" and _is_format_error(message):
                    continue
                raise self._error(message) from None
            self._cam, self.fmt = cam, fmt
            self._convert = CONVERTERS[fmt][1]
            self.device = cam.device
            native = cam.native_fmt
            self.native_fmt = native.name.lower() if native is not None else fmt
            return
        raise self._error(errors[-1] if errors else "no pixel format accepted")

    def write(self, picture: np.ndarray, frame: Optional[Frame] = None) -> None:
        """Convert one picture (RGB, RGBA or grey uint8 at the opened size) and send it."""
        if self._cam is None:
            raise RuntimeError("VirtualCameraSink.write before open")
        rgb = as_rgb(picture)
        if (rgb.shape[1], rgb.shape[0]) != self.size:
            rgb = cv2.resize(rgb, self.size, interpolation=cv2.INTER_AREA)
        self._cam.send(np.ascontiguousarray(self._convert(rgb)))
        self.sent += 1

    def close(self) -> None:
        """Release the device; safe to call twice."""
        if self._cam is not None:
            self._cam.close()
            self._cam = None

    def describe(self) -> str:
        return f"virtual camera {self.device} ({self.size[0]}x{self.size[1]} {self.native_fmt})"
