"""Declared picture sizes read from TIFF and BMP headers, without decoding (a bomb check).

Both return ``(width, height)`` or None when the header is not one they can read.

>>> import struct
>>> bmp_size(b"BM" + bytes(12) + struct.pack("<Iii", 40, 640, -480))
(640, 480)
"""
from __future__ import annotations

import struct
from typing import Optional, Tuple

_SHORT, _LONG, _LONG8 = 3, 4, 16


def _tiff_value(head: bytes, endian: str, kind: int, at: int) -> Optional[int]:
    if kind == _SHORT and at + 2 <= len(head):
        return struct.unpack(endian + "H", head[at:at + 2])[0]
    if kind == _LONG and at + 4 <= len(head):
        return struct.unpack(endian + "I", head[at:at + 4])[0]
    if kind == _LONG8 and at + 8 <= len(head):
        return struct.unpack(endian + "Q", head[at:at + 8])[0]
    return None


def tiff_size(head: bytes) -> Optional[Tuple[int, int]]:
    """ImageWidth x ImageLength of the first picture (IFD0) of a TIFF or BigTIFF file."""
    if len(head) < 16 or head[:2] not in (b"II", b"MM"):
        return None
    endian = "<" if head[:2] == b"II" else ">"
    (version,) = struct.unpack(endian + "H", head[2:4])
    if version == 42:
        (ifd,) = struct.unpack(endian + "I", head[4:8])
        count_size, entry_size, value_at = 2, 12, 8
    elif version == 43:  # BigTIFF: 8-byte offsets and counts
        (ifd,) = struct.unpack(endian + "Q", head[8:16])
        count_size, entry_size, value_at = 8, 20, 12
    else:
        return None
    if ifd + count_size > len(head):
        return None
    count = int.from_bytes(head[ifd:ifd + count_size], "little" if endian == "<" else "big")
    found = {}
    for k in range(min(count, 4096)):
        entry = ifd + count_size + entry_size * k
        if entry + entry_size > len(head):
            break
        tag, kind = struct.unpack(endian + "HH", head[entry:entry + 4])
        if tag in (256, 257):
            found[tag] = _tiff_value(head, endian, kind, entry + value_at)
    if found.get(256) is None or found.get(257) is None:
        return None
    return found[256], found[257]


def bmp_size(head: bytes) -> Optional[Tuple[int, int]]:
    """Width x height of a Windows bitmap (any header version; a negative height is top-down)."""
    if len(head) < 26 or head[:2] != b"BM":
        return None
    (header_size,) = struct.unpack("<I", head[14:18])
    if header_size == 12:  # BITMAPCOREHEADER: 16-bit sides
        width, height = struct.unpack("<HH", head[18:22])
    else:
        width, height = struct.unpack("<ii", head[18:26])
    return abs(width), abs(height)
