"""Still images as frames: decoding one file robustly, and two sources built on it.

``load_image`` turns any PNG / JPEG / WebP / GIF / BMP / TIFF the way a user meets it into RGB uint8
``(H, W, 3)``: grayscale and palette images are expanded, alpha is dropped (``load_image_rgba``
keeps it), CMYK JPEGs are converted, 16-bit and float samples are scaled to 8 bit, and the EXIF
orientation of JPEG and PNG files is applied, so the array is upright as a viewer shows it.
Images with a side over :data:`MAX_SIDE` pixels or more than :data:`MAX_PIXELS` in all are refused
(from the header, before decoding, for PNG, JPEG, GIF, WebP, TIFF and BMP). An animated GIF or WebP gives its first frame (GIF through Pillow).

Example:
    >>> import os, tempfile, cv2, numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "grey.png")
    >>> _ = cv2.imwrite(path, np.full((4, 6), 200, np.uint8))
    >>> image = load_image(path)
    >>> image.shape, image.dtype, image[0, 0].tolist()
    ((4, 6, 3), dtype('uint8'), [200, 200, 200])
"""
from __future__ import annotations

import os
import re
import struct
from fractions import Fraction
from typing import Iterator, Optional, Sequence, Tuple

import cv2
import numpy as np

from ..types import Frame, LivematteError, StreamInfo
from .base import Source
from .fit import SizeFitter
from .image_headers import bmp_size, tiff_size

MAX_SIDE = 8192
"""The largest width or height accepted, in pixels."""

MAX_PIXELS = 50_000_000
"""The largest picture accepted, in pixels (width x height): 50 megapixels. A 50 MP camera's
8160x6120 (49.9 MP) passes; 8192x8192 (67 MP, each side within :data:`MAX_SIDE`) does not. The RGB
picture alone is then 150 MB, and matting holds several float maps of it."""

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
"""File name endings a frame directory is scanned for (case-insensitive)."""


def _read_bytes(path: str) -> np.ndarray:
    """The file's bytes as uint8 ``(N,)``; LivematteError for a missing, unreadable or empty file."""
    if os.path.isdir(path):
        raise LivematteError(f"{path}: is a folder, not an image file")
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except FileNotFoundError:
        raise LivematteError(f"{path}: no such file") from None
    except OSError as err:
        raise LivematteError(f"{path}: cannot read ({err.strerror or err})") from None
    if data.size == 0:
        raise LivematteError(f"{path}: empty file, not an image")
    return data


def _tiff_orientation(tiff: bytes) -> int:
    """The Orientation tag (0x0112) of IFD0 in a TIFF/EXIF block, or 1 when absent or unreadable."""
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return 1
    endian = "<" if tiff[:2] == b"II" else ">"
    (ifd,) = struct.unpack(endian + "I", tiff[4:8])
    if ifd + 2 > len(tiff):
        return 1
    (count,) = struct.unpack(endian + "H", tiff[ifd:ifd + 2])
    for k in range(count):
        entry = ifd + 2 + 12 * k
        if entry + 12 > len(tiff):
            break
        tag, kind = struct.unpack(endian + "HH", tiff[entry:entry + 4])
        if tag == 0x0112 and kind == 3:  # SHORT
            (value,) = struct.unpack(endian + "H", tiff[entry + 8:entry + 10])
            return value if 1 <= value <= 8 else 1
    return 1


def _jpeg_header(data: bytes) -> Tuple[Optional[Tuple[int, int]], int]:
    """Walk a JPEG's marker segments up to the scan: ((width, height) or None, EXIF orientation)."""
    size, orientation, pos = None, 1, 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            break
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length field
            pos += 2
            continue
        if marker == 0xDA:  # start of scan: the header is over
            break
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        payload = data[pos + 4:pos + 2 + length]
        if marker == 0xE1 and payload[:6] == b"Exif\x00\x00" and orientation == 1:
            orientation = _tiff_orientation(payload[6:])
        elif marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            if len(payload) >= 5:
                height, width = struct.unpack(">HH", payload[1:5])
                size = (width, height)
        pos += 2 + length
    return size, orientation


def _png_header(data: bytes) -> Tuple[Optional[Tuple[int, int]], int]:
    """Read a PNG's IHDR size and its eXIf orientation: ((width, height) or None, orientation)."""
    size, orientation, pos = None, 1, 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR" and len(body) >= 8:
            size = struct.unpack(">II", body[:8])
        elif kind == b"eXIf":
            orientation = _tiff_orientation(body)
        elif kind in (b"IDAT", b"IEND"):
            break
        pos += 12 + length
    return size, orientation


def _webp_size(head: bytes) -> Optional[Tuple[int, int]]:
    """The canvas size of a RIFF WebP file (VP8X, VP8L or VP8 first chunk), or None."""
    if len(head) < 30 or head[:4] != b"RIFF" or head[8:12] != b"WEBP":
        return None
    chunk, body = head[12:16], head[20:]
    if chunk == b"VP8X":
        return 1 + int.from_bytes(body[4:7], "little"), 1 + int.from_bytes(body[7:10], "little")
    if chunk == b"VP8L" and body[:1] == b"\x2f":
        bits = int.from_bytes(body[1:5], "little")
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    if chunk == b"VP8 " and body[3:6] == b"\x9d\x01\x2a":
        w, h = struct.unpack("<HH", body[6:10])
        return w & 0x3FFF, h & 0x3FFF
    return None


def _header(data: np.ndarray) -> Tuple[Optional[Tuple[int, int]], int]:
    """Size (when cheaply known) and EXIF orientation, read without decoding the pixels."""
    head = data[: 1 << 20].tobytes()  # EXIF and size live in the first few KiB
    if head[:3] == b"\xff\xd8\xff":
        return _jpeg_header(head)
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return _png_header(head)
    if head[:6] in (b"GIF87a", b"GIF89a") and len(head) >= 10:
        return struct.unpack("<HH", head[6:10]), 1  # the logical screen
    if head[:4] == b"RIFF":
        return _webp_size(head), 1
    if head[:2] in (b"II", b"MM"):  # the IFD may sit anywhere, often at the end; orientation: the decoder's
        return tiff_size(data.tobytes()), 1
    if head[:2] == b"BM":
        return bmp_size(head), 1
    return None, 1  # others: size checked after decoding


def header_size(data: bytes) -> Optional[Tuple[int, int]]:
    """(width, height) from a PNG, JPEG, GIF or WebP file's header, without decoding; None when
    the format is another or the header is unreadable (a bomb check before any decoding)."""
    return _header(np.frombuffer(data[: 1 << 20], np.uint8))[0]


def _orient(image: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1..8) to a decoded ``(H, W[, C])`` array: stored -> as displayed."""
    if orientation == 2:
        image = image[:, ::-1]
    elif orientation == 3:
        image = image[::-1, ::-1]
    elif orientation == 4:
        image = image[::-1]
    elif orientation == 5:
        image = image.swapaxes(0, 1)
    elif orientation == 6:
        image = image.swapaxes(0, 1)[:, ::-1]
    elif orientation == 7:
        image = image.swapaxes(0, 1)[::-1, ::-1]
    elif orientation == 8:
        image = image.swapaxes(0, 1)[::-1]
    return np.ascontiguousarray(image)


def check_size(path: str, width: int, height: int) -> None:
    """Raise LivematteError (one line naming ``path``) for a picture over :data:`MAX_SIDE` a side or
    :data:`MAX_PIXELS` in all."""
    if width > MAX_SIDE or height > MAX_SIDE:
        raise LivematteError(f"{path}: {width}x{height} is larger than the {MAX_SIDE}-pixel limit")
    if width * height > MAX_PIXELS:
        raise LivematteError(f"{path}: {width}x{height} is {width * height / 1e6:.1f} megapixels, over the "
                             f"{MAX_PIXELS / 1e6:g}-megapixel limit")


def _to_uint8(path: str, image: np.ndarray) -> np.ndarray:
    """Scale any decoded sample type to uint8 (16-bit: round(v / 257); float: [0, 1] -> [0, 255])."""
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if image.dtype in (np.float32, np.float64):
        return (np.clip(np.nan_to_num(image), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    raise LivematteError(f"{path}: unsupported sample type {image.dtype} (use 8- or 16-bit images)")


def _decode_gif(data: np.ndarray) -> Optional[np.ndarray]:
    """The first frame of a GIF (OpenCV reads none) as BGR / BGRA uint8, through Pillow; None if unreadable."""
    import io

    from PIL import Image

    try:
        with Image.open(io.BytesIO(data.tobytes())) as im:
            im.seek(0)
            rgba = im.convert("RGBA")
    except Exception:  # noqa: BLE001 - Pillow raises many kinds for a damaged file
        return None
    frame = np.asarray(rgba)  # (H, W, 4) RGBA
    if frame[:, :, 3].min() == 255:
        return cv2.cvtColor(frame, cv2.COLOR_RGBA2BGR)
    return cv2.cvtColor(frame, cv2.COLOR_RGBA2BGRA)


def read_checked(path: str) -> np.ndarray:
    """A file's bytes, uint8 ``(N,)``, once its header's declared size passed :func:`check_size` (when
    the format tells it cheaply); LivematteError for a missing, empty or too large picture."""
    data = _read_bytes(path)
    size, _ = _header(data)
    if size is not None:
        check_size(path, *size)
    return data


def _decode(path: str) -> np.ndarray:
    """Decode a file as stored, upright, in 8 bit: uint8 ``(H, W)``, ``(H, W, 3)`` BGR or ``(H, W, 4)`` BGRA."""
    return _decode_data(path, _read_bytes(path))


def _decode_data(path: str, data: np.ndarray) -> np.ndarray:
    """:func:`_decode` of a file's bytes uint8 ``(N,)``; ``path`` names it in errors. An animated
    GIF or WebP gives its first frame."""
    size, orientation = _header(data)
    if size is not None:
        check_size(path, *size)
    if data[:6].tobytes() in (b"GIF87a", b"GIF89a"):
        image = _decode_gif(data)
    else:
        image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise LivematteError(f"{path}: not an image, or corrupt, or a format OpenCV cannot read")
    check_size(path, image.shape[1], image.shape[0])
    image = _to_uint8(path, image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 3 and image.shape[2] == 2:  # grey + alpha (rarely delivered as such)
        image = np.dstack([image[:, :, 0]] * 3 + [image[:, :, 1]])
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise LivematteError(f"{path}: unsupported image layout {image.shape}")
    return _orient(image, orientation)


def load_image(path: str) -> np.ndarray:
    """Read an image file as RGB uint8 ``(H, W, 3)``, upright, C-contiguous.

    Grayscale and palette images become grey/colour RGB, alpha is dropped (the colours stored
    under transparent pixels show), CMYK JPEG is converted, 16-bit and float images are scaled.

    Raises:
        LivematteError: the file is missing, empty, not a decodable image, or has a side over
            :data:`MAX_SIDE` pixels or more than :data:`MAX_PIXELS` pixels (the message names the file).
    """
    return _convert(_decode(path), (cv2.COLOR_GRAY2RGB, cv2.COLOR_BGR2RGB, cv2.COLOR_BGRA2RGB))  # (H, W, 3)


def load_image_bytes(data: bytes, name: str = "-") -> np.ndarray:
    """:func:`load_image` of a file's contents (stdin, an HTTP body); ``name`` names it in errors."""
    if not data:
        raise LivematteError(f"{name}: empty input, not an image")
    array = np.frombuffer(data, np.uint8)  # (N,)
    return _convert(_decode_data(name, array), (cv2.COLOR_GRAY2RGB, cv2.COLOR_BGR2RGB, cv2.COLOR_BGRA2RGB))


def load_image_rgba(path: str) -> np.ndarray:
    """Read an image file as RGBA uint8 ``(H, W, 4)``; alpha is 255 where the file has none.

    Same conversions and errors as :func:`load_image`.
    """
    return _convert(_decode(path), (cv2.COLOR_GRAY2RGBA, cv2.COLOR_BGR2RGBA, cv2.COLOR_BGRA2RGBA))  # (H, W, 4)


def _convert(image: np.ndarray, codes: Tuple[int, int, int]) -> np.ndarray:
    """A decoded 8-bit grey / BGR / BGRA image through the matching one of ``codes``."""
    code = codes[0] if image.ndim == 2 else codes[2] if image.shape[2] == 4 else codes[1]
    return np.ascontiguousarray(cv2.cvtColor(image, code))


def _natural_key(name: str) -> Tuple[Tuple[Tuple[int, int, str], ...], str]:
    """Sort key putting ``frame2`` before ``frame10``; ties broken by the plain name."""
    parts = re.split(r"(\d+)", name.lower())
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts), name


class ImageFilesSource(Source):
    """Frames read from the given image files, in the order given.

    Each frame has ``name`` = the file's stem and ``index`` = its position; ``pts`` counts frames
    at ``fps``. Images may differ in size: ``info`` holds the first image's size, and every
    frame carries its own. The files are independent stills (``stills`` is True), so anything
    with memory across frames should be reset between them.

    Raises (from ``__enter__``):
        LivematteError: no files given, a file missing, or the first image unreadable;
        later files that cannot be read raise when reached.
    """

    stills = True

    def __init__(self, paths: Sequence[str], *, fps: Fraction = Fraction(30, 1)):
        self.paths = [os.fspath(p) for p in paths]
        self.fps = Fraction(fps)
        self.info: Optional[StreamInfo] = None
        self._first: Optional[np.ndarray] = None

    def _describe(self) -> str:
        return self.paths[0] if len(self.paths) == 1 else f"{len(self.paths)} images"

    def __enter__(self) -> "ImageFilesSource":
        if not self.paths:
            raise LivematteError("no input images given")
        for path in self.paths:
            if not os.path.isfile(path):
                raise LivematteError(f"{path}: no such file" if not os.path.exists(path) else f"{path}: not a file")
        self._first = load_image(self.paths[0])  # (H, W, 3)
        self.info = StreamInfo(
            width=int(self._first.shape[1]),
            height=int(self._first.shape[0]),
            fps=self.fps,
            frames=len(self.paths),
            time_base=1 / self.fps,
            path=None,
            has_audio=False,
            name=self._describe(),
        )
        return self

    def __exit__(self, *exc) -> None:
        self._first = None

    def __iter__(self) -> Iterator[Frame]:
        if self.info is None:
            raise RuntimeError("use the source inside a 'with' block")
        for index, path in enumerate(self.paths):
            if index == 0 and self._first is not None:
                image, self._first = self._first, None
            else:
                image = load_image(path)
            yield Frame(
                image=image,
                index=index,
                pts=index,
                time_base=self.info.time_base,
                name=os.path.splitext(os.path.basename(path))[0],
            )


class FrameDirectorySource(ImageFilesSource):
    """Frames read from the image files of one folder, as an image sequence.

    Files ending in one of :data:`IMAGE_EXTENSIONS` (any case) are taken in natural name order
    (``f2.png`` before ``f10.png``); hidden files, other files and sub-folders are ignored. Unlike
    :class:`ImageFilesSource` the frames are one sequence (``stills`` is False). ``info`` holds
    the first frame's size, and every frame has it: one of another size is scaled and padded to
    it (:func:`~livematte.sources.fit.letterbox`), and ``warning`` then says so once.

    Raises:
        LivematteError: the folder is missing, not a folder, or holds no image files.
    """

    stills = False

    def __init__(self, directory: str, *, fps: Fraction = Fraction(30, 1)):
        self.directory = os.fspath(directory)
        super().__init__([], fps=fps)

    def __enter__(self) -> "FrameDirectorySource":
        if not os.path.exists(self.directory):
            raise LivematteError(f"{self.directory}: no such folder")
        if not os.path.isdir(self.directory):
            raise LivematteError(f"{self.directory}: not a folder")
        names = [  # hidden files (``.x.png``, macOS ``._x.png``) are not frames
            n for n in os.listdir(self.directory) if not n.startswith(".")
            and n.lower().endswith(IMAGE_EXTENSIONS) and os.path.isfile(os.path.join(self.directory, n))
        ]
        if not names:
            raise LivematteError(
                f"{self.directory}: no image files ({', '.join(IMAGE_EXTENSIONS)}) in this folder")
        self.paths = [os.path.join(self.directory, n) for n in sorted(names, key=_natural_key)]
        super().__enter__()
        self.info.name = self.directory
        return self

    def __iter__(self) -> Iterator[Frame]:
        """The frames, every one at the first frame's size (others letterboxed; ``warning`` says so)."""
        fit = SizeFitter((self.info.width, self.info.height), self.directory)
        for frame in super().__iter__():
            yield fit(frame)
        self.warning = fit.note
