"""Decompression bombs: a header declaring a huge picture is refused before any decoding, in every
image format, also as a ``--background`` image, with memory flat."""
from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from livematte.sources.images import load_image
from livematte.types import LivematteError
from tests.helpers import REPO

HUGE = 30000


def _tiff(path: Path, width: int, height: int, payload: int = 3_500_000) -> Path:
    """An uncompressed 8-bit grey TIFF declaring ``width`` x ``height``, its strip ``payload`` bytes
    long, its IFD after the data (as many writers put it)."""
    tags = [(256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, 1), (262, 3, 1), (273, 4, 8),
            (277, 3, 1), (278, 4, height), (279, 4, payload)]
    ifd = 8 + payload
    body = b"II*\x00" + struct.pack("<I", ifd) + bytes(payload) + struct.pack("<H", len(tags))
    for tag, kind, value in tags:
        body += struct.pack("<HHI", tag, kind, 1) + (struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value))
    path.write_bytes(body + b"\x00\x00\x00\x00")
    return path


def _encoded(ext: str) -> bytearray:
    ok, data = cv2.imencode(ext, np.full((16, 16, 3), 128, np.uint8))
    assert ok
    return bytearray(data.tobytes())


def _png(path: Path) -> Path:
    data = _encoded(".png")
    data[16:24] = struct.pack(">II", HUGE, HUGE)  # IHDR
    path.write_bytes(bytes(data))
    return path


def _jpeg(path: Path) -> Path:
    data = _encoded(".jpg")
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", HUGE, HUGE // 2)  # height, width
    path.write_bytes(bytes(data))
    return path


def _bmp(path: Path) -> Path:
    data = _encoded(".bmp")
    data[18:26] = struct.pack("<ii", HUGE, -HUGE)
    path.write_bytes(bytes(data))
    return path


def _webp(path: Path) -> Path:
    data = _encoded(".webp")
    assert data[12:16] in (b"VP8 ", b"VP8L")
    if data[12:16] == b"VP8 ":
        data[26:30] = struct.pack("<HH", 16000, 16000)
    else:
        bits = (16000 - 1) | ((16000 - 1) << 14)
        data[21:25] = struct.pack("<I", bits)
    path.write_bytes(bytes(data))
    return path


def _gif(path: Path) -> Path:
    from PIL import Image

    Image.new("P", (16, 16)).save(path)
    data = bytearray(path.read_bytes())
    data[6:10] = struct.pack("<HH", 60000, 60000)  # the logical screen
    path.write_bytes(bytes(data))
    return path


MAKERS = {"tif": lambda p: _tiff(p, HUGE, HUGE, payload=20000), "png": _png, "jpg": _jpeg, "bmp": _bmp,
          "webp": _webp, "gif": _gif}


@pytest.mark.parametrize("ext", sorted(MAKERS))
def test_a_huge_declared_size_is_refused_from_the_header(tmp_path, ext):
    path = MAKERS[ext](tmp_path / f"bomb.{ext}")
    with pytest.raises(LivematteError, match="larger than the 8192-pixel limit"):
        load_image(str(path))


_MEASURE = """
import resource, sys
from livematte.sources.images import load_image
from livematte.effects import make_effect
from livematte.types import LivematteError
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for load in (lambda: load_image(sys.argv[1]), lambda: make_effect(sys.argv[1])):
    try:
        load()
    except LivematteError as err:
        print("refused:", err)
print("grew_kib", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


def test_a_tiff_bomb_is_refused_with_memory_flat(tmp_path):
    """3.5 MB on disk, 30000x30000 declared: before, 5.3 GB of memory before the refusal."""
    bomb = _tiff(tmp_path / "bomb.tif", HUGE, HUGE)
    assert 3_000_000 < bomb.stat().st_size < 4_000_000
    proc = subprocess.run([sys.executable, "-c", _MEASURE, str(bomb)], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len([line for line in lines if line.startswith("refused:") and "30000x30000" in line]) == 2
    grew = int(lines[-1].split()[1])
    assert grew < 64 * 1024, f"peak RSS grew by {grew} KiB"



def _declaring(ext: str, path: Path, width: int, height: int) -> Path:
    """A small file of format ``ext`` whose header declares ``width`` x ``height``."""
    if ext == "tif":
        return _tiff(path, width, height, payload=20000)
    data = _encoded("." + ext) if ext != "gif" else None
    if ext == "png":
        data[16:24] = struct.pack(">II", width, height)  # IHDR
    elif ext == "bmp":
        data[18:26] = struct.pack("<ii", width, -height)
    elif ext == "gif":
        _gif(path)
        data = bytearray(path.read_bytes())
        data[6:10] = struct.pack("<HH", width, height)  # the logical screen
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("ext", ["bmp", "gif", "png", "tif"])
def test_a_picture_over_the_total_pixel_limit_is_refused_from_the_header(tmp_path, ext):
    """8000x8000 (64 MP): each side within 8192, the total over 50 MP. Before: decoded (or tried)."""
    path = _declaring(ext, tmp_path / f"wide.{ext}", 8000, 8000)
    with pytest.raises(LivematteError, match=r"8000x8000 is 64\.0 megapixels, over the 50-megapixel limit"):
        load_image(str(path))


def test_the_pixel_limit_applies_to_background_images(tmp_path):
    from livematte.effects import make_effect

    with pytest.raises(LivematteError, match="over the 50-megapixel limit"):
        make_effect(str(_declaring("tif", tmp_path / "wide.tif", 8000, 8000)))


def test_a_50_megapixel_camera_picture_passes_the_limit(tmp_path):
    """8160x6120 (49.9 MP) is not refused by the limit (this small file then fails to decode)."""
    path = _declaring("png", tmp_path / "camera.png", 8160, 6120)
    with pytest.raises(LivematteError) as err:
        load_image(str(path))
    assert "limit" not in str(err.value)
