"""The PNG encoder (livematte/sinks/png.py): files read back losslessly by OpenCV and Pillow, for
every channel count, size, level and backend; the chunk structure and checksums as the format defines them."""
from __future__ import annotations

import io
import struct
import zlib

import cv2
import numpy as np
import pytest

from livematte.sinks import png
from livematte.sinks.images import encode_image, save_image

from .helpers import sample_frame

SHAPES = [(1, 1), (1, 5, 3), (7, 1, 4), (5, 7), (33, 17, 3), (64, 48, 4)]


def chunks(data: bytes):
    """``[(type, body)]`` of a PNG file, every CRC checked."""
    assert data[:8] == png.SIGNATURE
    out, at = [], 8
    while at < len(data):
        (n,) = struct.unpack(">I", data[at:at + 4])
        kind, body = data[at + 4:at + 8], data[at + 8:at + 8 + n]
        (crc,) = struct.unpack(">I", data[at + 8 + n:at + 12 + n])
        assert crc == zlib.crc32(body, zlib.crc32(kind)), kind
        out.append((kind, body))
        at += 12 + n
    assert at == len(data) and out[-1] == (b"IEND", b"")
    return out


def decoded_by_both(data: bytes, picture: np.ndarray) -> None:
    """OpenCV and Pillow read ``data`` back as ``picture``, exactly."""
    from PIL import Image

    back = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if picture.ndim == 3:
        back = cv2.cvtColor(back, cv2.COLOR_BGR2RGB if picture.shape[2] == 3 else cv2.COLOR_BGRA2RGBA)
    assert back.shape == picture.shape and (back == picture).all()
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        assert np.array_equal(np.asarray(im), picture)


@pytest.mark.parametrize("shape", SHAPES)
def test_small_pictures_of_every_kind_read_back_exactly(shape):
    picture = np.random.default_rng(len(shape) * 100 + shape[0]).integers(0, 256, shape, dtype=np.uint8)
    for level in (0, 1, 3, 6, 9):
        decoded_by_both(png.encode_png(picture, level), picture)


@pytest.mark.parametrize("with_isal", [True, False])
def test_a_photo_in_many_pieces_on_several_threads(monkeypatch, with_isal):
    """A real picture (the sample's frame, RGBA with a soft alpha) cut into pieces deflated on 2
    threads: the pieces form one zlib stream whose Adler-32 is the scanlines'; IDATs stay small."""
    if not with_isal:
        monkeypatch.setattr(png, "isal_zlib", None)
    elif png.isal_zlib is None:
        pytest.skip("isal is not installed")
    rgb = cv2.resize(sample_frame(30), (1000, 600), interpolation=cv2.INTER_LINEAR)  # (600, 1000, 3)
    alpha = np.tile(np.linspace(0, 255, 1000).astype(np.uint8), (600, 1))
    picture = np.dstack([rgb, alpha])
    assert len(png._pieces(600 * 4001, 2)) == 4
    monkeypatch.setattr(png, "IDAT_MAX", 100_000)  # several IDATs per piece too
    data = png.encode_png(picture, 1, workers=2)
    decoded_by_both(data, picture)
    parts = chunks(data)
    assert parts[0][0] == b"IHDR" and struct.unpack(">IIBBBBB", parts[0][1]) == (1000, 600, 8, 6, 0, 0, 0)
    idats = [body for kind, body in parts if kind == b"IDAT"]
    assert len(idats) > 5 and max(map(len, idats)) <= 100_000
    stream = b"".join(idats)
    assert zlib.decompress(stream) == png.filter_up(picture).tobytes()  # checks the combined Adler-32
    # as small as one stream deflated in one go (the pieces are primed with the window before them)
    assert len(stream) < 1.01 * len(png.deflater(1).compress(png.filter_up(picture).tobytes(), 1))


def test_adler32_of_pieces_combines_to_the_whole():
    rng = np.random.default_rng(3)
    data = rng.integers(0, 256, 200_000, dtype=np.uint8).tobytes()
    for cut in (0, 1, 65520, 65521, 131_072, 199_999, 200_000):
        a, b = data[:cut], data[cut:]
        assert png.adler32_combine(zlib.adler32(a), zlib.adler32(b), len(b)) == zlib.adler32(data)


def test_the_image_writers_use_it_and_refuse_what_png_cannot_hold(tmp_path):
    grey = np.arange(40 * 30, dtype=np.uint32).reshape(30, 40).astype(np.uint8)
    path = save_image(str(tmp_path / "m.png"), grey)
    assert (cv2.imread(path, cv2.IMREAD_UNCHANGED) == grey).all()
    rgba = np.zeros((8, 9, 4), np.uint8)
    rgba[2:6, 3:7] = (10, 200, 30, 128)
    decoded_by_both(encode_image("png", rgba), rgba)
    with pytest.raises(ValueError, match="uint8"):
        png.encode_png(np.zeros((4, 4), np.float32))
    with pytest.raises(ValueError, match="empty"):
        png.encode_png(np.zeros((0, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="expected"):
        png.encode_png(np.zeros((4, 4, 2), np.uint8))
