"""A PNG encoder for large pictures: the rows filtered with numpy, the deflate stream compressed in
pieces on several threads and joined, as pigz joins its pieces.

OpenCV's PNG writer (libpng with its adaptive filter choice, one thread) took 205 ms of a 0.31 s
1080p cut-out and 743 ms of a 4000x3000 one on 2 cores (BENCHMARKS.md). Here:

* every row gets the PNG filter type 2 ("Up": each byte minus the byte above it, modulo 256), one
  numpy subtraction over the whole picture; on photos and cut-outs it gives files the size of
  libpng's adaptive choice at zlib level 1 (docs/stills.md);
* the filtered bytes are cut into pieces; each piece is raw-deflated on its own thread (zlib and
  ISA-L release the GIL), primed with the 32 KiB before it as its dictionary (so matches across the cut
  are kept), and ended with a sync flush (byte-aligned, not final); the last piece ends the stream.
  One zlib header, the pieces in order, and the Adler-32 of the whole (combined from the pieces'
  own) form one valid zlib stream, written as one IDAT chunk per piece.

Levels 1 to 3 deflate with ISA-L (the ``isal`` package: its levels 1-3, about 4x less CPU than
zlib's level 1 for files a little smaller) when it imports, else with zlib; level 0 stores, levels
4 to 9 are zlib's. The file is an ordinary 8-bit PNG (grey, RGB or RGBA, no interlacing) any decoder reads.

>>> import numpy as np, cv2
>>> rgba = np.arange(5 * 7 * 4, dtype=np.uint8).reshape(5, 7, 4)
>>> back = cv2.imdecode(np.frombuffer(encode_png(rgba), np.uint8), cv2.IMREAD_UNCHANGED)
>>> bool((cv2.cvtColor(back, cv2.COLOR_BGRA2RGBA) == rgba).all())
True
"""
from __future__ import annotations

import os
import struct
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import List, Optional

import numpy as np

try:
    from isal import isal_zlib
except ImportError:  # pragma: no cover - isal is a dependency; zlib is the fallback
    isal_zlib = None

SIGNATURE = b"\x89PNG\r\n\x1a\n"
COLOUR_TYPES = {1: 0, 3: 2, 4: 6}  # channels -> PNG colour type (grey, RGB, RGBA)
FILTER_UP = 2
#: the largest IDAT chunk written (OpenCV 4.11's reader warns about chunks over ~12 MB)
IDAT_MAX = 1 << 20
WINDOW = 32768  # deflate's window: the dictionary each piece is primed with
#: pictures with fewer filtered bytes than this are deflated in one piece on the calling thread
MIN_PIECE = 1 << 19
ADLER_BASE = 65521

_pool: Optional[ThreadPoolExecutor] = None
_pool_lock = threading.Lock()


def usable_cores() -> int:
    """The cores this process may use (its CPU affinity): the threads deflating pieces, and the
    thread counts of the other still-image stages (fine edges, the server's workers)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=usable_cores(), thread_name_prefix="livematte-png")
        return _pool


def adler32_combine(adler1: int, adler2: int, len2: int) -> int:
    """The Adler-32 of ``A + B`` from ``adler1`` of A, ``adler2`` of B and ``len2 = len(B)``.

    With ``s1 = 1 + sum(bytes)`` and ``s2 = sum of s1 over every prefix`` (both mod 65521):
    ``s1 = s1_A + s1_B - 1`` and ``s2 = s2_A + len2 * s1_A + s2_B - len2``.

    >>> a, b = b"livematte ", b"stills"
    >>> adler32_combine(zlib.adler32(a), zlib.adler32(b), len(b)) == zlib.adler32(a + b)
    True
    """
    s1a, s2a = adler1 & 0xFFFF, adler1 >> 16
    s1b, s2b = adler2 & 0xFFFF, adler2 >> 16
    s1 = (s1a + s1b - 1) % ADLER_BASE
    s2 = (s2a + len2 * s1a + s2b - len2) % ADLER_BASE
    return (s2 << 16) | s1


def zlib_header(level: int) -> bytes:
    """CMF (deflate, 32 KiB window) and FLG (the level class, no dictionary, check bits)."""
    flevel = 0 if level < 2 else 1 if level < 6 else 2 if level == 6 else 3
    cmf, flg = 0x78, flevel << 6
    flg += 31 - ((cmf * 256 + flg) % 31)
    return bytes((cmf, flg))


def _chunk(kind: bytes, data) -> List[bytes]:
    """A PNG chunk as parts to join: length, type, data, CRC-32 of type and data."""
    return [struct.pack(">I", len(data)), kind, data, struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))]


def filter_up(picture: np.ndarray) -> np.ndarray:
    """The PNG scanlines of uint8 ``picture`` ``(H, W[, C])``: ``(H, 1 + W * C)``, each row filter
    type 2 (Up) followed by its bytes minus the row above's (the first row as it is)."""
    h = picture.shape[0]
    rows = picture.reshape(h, -1)
    out = np.empty((h, rows.shape[1] + 1), np.uint8)
    out[:, 0] = FILTER_UP
    out[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=out[1:, 1:])  # uint8: modulo 256, as PNG defines it
    return out


def deflater(level: int):
    """The module whose ``compressobj`` deflates at ``level`` (:mod:`isal.isal_zlib` for 1-3 when
    installed, else :mod:`zlib`)."""
    return isal_zlib if isal_zlib is not None and 1 <= level <= 3 else zlib


def _deflate(data: memoryview, lo: int, hi: int, level: int, last: bool):
    """Piece ``data[lo:hi]`` raw-deflated, primed with the window before ``lo`` (the first piece
    after the zlib header), as IDAT chunks of at most :data:`IDAT_MAX` bytes: ``(parts, Adler-32 of the piece)``."""
    z, piece = deflater(level), data[lo:hi]
    if lo:
        co = z.compressobj(level, z.DEFLATED, -15, zdict=data[max(0, lo - WINDOW):lo])
        out = co.compress(piece)
    else:
        co = z.compressobj(level, z.DEFLATED, -15)
        out = zlib_header(level) + co.compress(piece)
    out = memoryview(out + co.flush(z.Z_FINISH if last else z.Z_SYNC_FLUSH))
    parts: List[bytes] = []
    for at in range(0, len(out), IDAT_MAX):
        parts += _chunk(b"IDAT", out[at:at + IDAT_MAX])
    return parts, zlib.adler32(piece)


def _pieces(n: int, workers: int) -> List[tuple]:
    """``[(lo, hi)]`` cutting ``n`` bytes into about ``2 * workers`` pieces of at least :data:`MIN_PIECE`."""
    count = max(1, min(2 * workers, n // MIN_PIECE))
    step = -(-n // count)
    return [(lo, min(n, lo + step)) for lo in range(0, n, step)]


def encode_png(picture: np.ndarray, level: int = 1, *, workers: Optional[int] = None) -> bytes:
    """PNG file bytes of uint8 ``picture``: grey ``(H, W)``, RGB ``(H, W, 3)`` or RGBA ``(H, W, 4)``
    (channels in that order). ``level``: 0 (stored) .. 9 (smallest; see the module docstring). ``workers``: threads
    (default one per core)."""
    if picture.dtype != np.uint8 or picture.ndim not in (2, 3) or (picture.ndim == 3 and picture.shape[2] not in COLOUR_TYPES):
        raise ValueError(f"encode_png: got {picture.dtype} {picture.shape}, expected uint8 (H, W), (H, W, 3) or (H, W, 4)")
    h, w = picture.shape[:2]
    if h == 0 or w == 0:
        raise ValueError(f"encode_png: an empty picture {picture.shape}")
    level = int(min(9, max(0, level)))
    channels = 1 if picture.ndim == 2 else picture.shape[2]
    data = memoryview(filter_up(np.ascontiguousarray(picture))).cast("B")  # (H * (1 + W * C),) bytes
    ranges = _pieces(len(data), workers or usable_cores())
    last = len(ranges) - 1
    if len(ranges) == 1:
        done = [_deflate(data, *ranges[0], level, True)]
    else:
        done = list(_executor().map(lambda i: _deflate(data, *ranges[i], level, i == last), range(len(ranges))))
    adler = done[0][1]
    for (lo, hi), (_, a) in zip(ranges[1:], done[1:]):
        adler = adler32_combine(adler, a, hi - lo)
    parts = [SIGNATURE] + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, COLOUR_TYPES[channels], 0, 0, 0))
    for chunks, _ in done:
        parts += chunks
    # the zlib stream's end (the Adler-32 of all the scanlines) in an IDAT of its own
    return b"".join(parts + _chunk(b"IDAT", struct.pack(">I", adler)) + _chunk(b"IEND", b""))
