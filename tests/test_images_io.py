"""Reading odd image files and writing pictures / mattes: real files made here, read back."""
from __future__ import annotations

import os
import struct
import zlib

import cv2
import numpy as np
import pytest

from livematte.sinks.images import (
    IMAGE_ALPHA_EXTENSIONS,
    ImageFilesSink,
    MatteSequenceSink,
    check_image_output,
    save_image,
)
from livematte.sources.images import (
    FrameDirectorySource,
    ImageFilesSource,
    load_image,
    load_image_rgba,
)
from livematte.types import Frame, LivematteError


def corners_image(h: int = 24, w: int = 40) -> np.ndarray:
    """RGB uint8 (h, w, 3) whose four corners differ, so every flip/rotation is distinguishable."""
    y, x = np.mgrid[0:h, 0:w]
    return np.dstack([x * 255 // (w - 1), y * 255 // (h - 1), np.full_like(x, 60)]).astype(np.uint8)


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def palette_png(indices: np.ndarray, palette: list, alpha: list = None) -> bytes:
    """A colour-type-3 (palette) PNG written with the standard library only."""
    h, w = indices.shape
    raw = b"".join(b"\x00" + indices[r].astype(np.uint8).tobytes() for r in range(h))
    out = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 3, 0, 0, 0))
    out += png_chunk(b"PLTE", bytes(c for rgb in palette for c in rgb))
    if alpha is not None:
        out += png_chunk(b"tRNS", bytes(alpha))
    return out + png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b"")


def exif_block(orientation: int) -> bytes:
    """A little-endian TIFF block holding only the Orientation tag."""
    return b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 1) + struct.pack(
        "<HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack("<I", 0)


def jpeg_with_orientation(rgb: np.ndarray, orientation: int) -> bytes:
    data = cv2.imencode(".jpg", rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()
    payload = b"Exif\x00\x00" + exif_block(orientation)
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return data[:2] + app1 + data[2:]


def png_with_orientation(rgb: np.ndarray, orientation: int) -> bytes:
    data = cv2.imencode(".png", rgb[..., ::-1])[1].tobytes()
    ihdr_end = 8 + 25
    return data[:ihdr_end] + png_chunk(b"eXIf", exif_block(orientation)) + data[ihdr_end:]


def write(path, data: bytes) -> str:
    with open(path, "wb") as f:
        f.write(data)
    return str(path)


# ----------------------------------------------------------------------------- load_image


def test_grayscale_png_becomes_grey_rgb(tmp_path):
    grey = (np.arange(12 * 20).reshape(12, 20) % 256).astype(np.uint8)
    path = str(tmp_path / "grey.png")
    cv2.imwrite(path, grey)
    image = load_image(path)
    assert image.shape == (12, 20, 3) and image.dtype == np.uint8 and image.flags.c_contiguous
    for c in range(3):
        np.testing.assert_array_equal(image[..., c], grey)


def test_colour_png_is_rgb_not_bgr(tmp_path):
    rgb = corners_image()
    path = str(tmp_path / "c.png")
    cv2.imwrite(path, rgb[..., ::-1])
    np.testing.assert_array_equal(load_image(path), rgb)


def test_rgba_png_alpha_dropped_by_load_image_kept_by_load_image_rgba(tmp_path):
    rgba = np.dstack([corners_image(), np.tile(np.arange(40, dtype=np.uint8) * 6, (24, 1))])
    path = str(tmp_path / "a.png")
    cv2.imwrite(path, cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
    np.testing.assert_array_equal(load_image(path), rgba[..., :3])
    np.testing.assert_array_equal(load_image_rgba(path), rgba)


def test_load_image_rgba_of_opaque_file_has_full_alpha(tmp_path):
    path = str(tmp_path / "o.jpg")
    cv2.imwrite(path, corners_image())
    rgba = load_image_rgba(path)
    assert rgba.shape == (24, 40, 4) and (rgba[..., 3] == 255).all()


def test_palette_png_with_and_without_transparency(tmp_path):
    indices = np.array([[0, 1, 2, 1]] * 3)
    palette = [(255, 0, 0), (0, 128, 0), (10, 20, 250)]
    plain = write(tmp_path / "p.png", palette_png(indices, palette))
    np.testing.assert_array_equal(load_image(plain)[0], [(255, 0, 0), (0, 128, 0), (10, 20, 250), (0, 128, 0)])
    trans = write(tmp_path / "pt.png", palette_png(indices, palette, alpha=[0, 255, 100]))
    rgba = load_image_rgba(trans)
    np.testing.assert_array_equal(rgba[0, :, 3], [0, 255, 100, 255])
    np.testing.assert_array_equal(load_image(trans)[0, 2], (10, 20, 250))


def test_grey_alpha_png(tmp_path):
    pil = pytest.importorskip("PIL.Image", reason="Pillow makes the grey+alpha PNG")
    la = np.dstack([np.full((5, 6), 90, np.uint8), np.full((5, 6), 30, np.uint8)])
    path = str(tmp_path / "la.png")
    pil.fromarray(la, "LA").save(path)
    np.testing.assert_array_equal(load_image_rgba(path)[0, 0], (90, 90, 90, 30))
    np.testing.assert_array_equal(load_image(path)[0, 0], (90, 90, 90))


def test_cmyk_jpeg_is_converted_to_rgb(tmp_path):
    pil = pytest.importorskip("PIL.Image", reason="Pillow is needed to write a CMYK JPEG")
    rgb = np.zeros((16, 48, 3), np.uint8)
    rgb[:, :16], rgb[:, 16:32], rgb[:, 32:] = (230, 20, 20), (20, 200, 40), (240, 240, 240)
    path = str(tmp_path / "cmyk.jpg")
    pil.fromarray(rgb).convert("CMYK").save(path, quality=95)
    with pil.open(path) as check:
        assert check.mode == "CMYK"
    image = load_image(path)
    assert image.shape == (16, 48, 3)
    for x, want in ((8, (230, 20, 20)), (24, (20, 200, 40)), (40, (240, 240, 240))):
        assert np.abs(image[8, x].astype(int) - want).max() <= 12, (x, image[8, x], want)


def test_16_bit_png_is_scaled_to_8_bit_with_rounding(tmp_path):
    values = np.array([[0, 128, 129, 257, 257 * 100, 65535]], np.uint16)
    path = str(tmp_path / "deep.png")
    cv2.imwrite(path, values)
    assert cv2.imread(path, cv2.IMREAD_UNCHANGED).dtype == np.uint16
    np.testing.assert_array_equal(load_image(path)[0, :, 0], [0, 0, 1, 1, 100, 255])


def test_16_bit_colour_tiff(tmp_path):
    rgb16 = corners_image().astype(np.uint16) * 257
    path = str(tmp_path / "deep.tif")
    cv2.imwrite(path, rgb16[..., ::-1])
    np.testing.assert_array_equal(load_image(path), corners_image())


def test_float_tiff_is_scaled_from_unit_range(tmp_path):
    path = str(tmp_path / "f.tif")
    cv2.imwrite(path, np.array([[0.0, 0.5, 1.0, 2.0]], np.float32))
    np.testing.assert_array_equal(load_image(path)[0, :, 0], [0, 128, 255, 255])


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("make", [jpeg_with_orientation, png_with_orientation], ids=["jpeg", "png"])
def test_exif_orientation_is_applied_like_opencv_imread(tmp_path, orientation, make):
    data = make(corners_image(), orientation)
    path = write(tmp_path / ("o" + (".jpg" if make is jpeg_with_orientation else ".png")), data)
    expected = cv2.imread(path, cv2.IMREAD_COLOR)[..., ::-1]  # OpenCV applies EXIF orientation here
    got = load_image(path)
    assert got.shape == expected.shape == ((24, 40, 3) if orientation <= 4 else (40, 24, 3))
    np.testing.assert_array_equal(got, expected)


def test_orientation_6_means_rotate_clockwise(tmp_path):
    rgb = corners_image()
    got = load_image(write(tmp_path / "r.png", png_with_orientation(rgb, 6)))
    np.testing.assert_array_equal(got, np.rot90(rgb, k=-1))


@pytest.mark.parametrize("ext", [".png", ".jpg", ".webp"])
def test_images_over_8192_pixels_are_refused(tmp_path, ext):
    path = str(tmp_path / ("wide" + ext))
    assert cv2.imwrite(path, np.zeros((10, 8200, 3), np.uint8))
    with pytest.raises(LivematteError, match=r"wide.*: 8200x10 is larger than the 8192-pixel limit"):
        load_image(path)


def test_exactly_8192_is_accepted(tmp_path):
    path = str(tmp_path / "edge.png")
    cv2.imwrite(path, np.zeros((8192, 2), np.uint8))
    assert load_image(path).shape == (8192, 2, 3)


def test_not_an_image_names_the_file(tmp_path):
    path = write(tmp_path / "notes.png", b"these are my notes, not pixels\n" * 10)
    with pytest.raises(LivematteError, match=r"notes\.png: not an image"):
        load_image(path)


def test_truncated_png_is_an_error(tmp_path):
    data = cv2.imencode(".png", corners_image())[1].tobytes()
    path = write(tmp_path / "cut.png", data[: len(data) // 2])
    with pytest.raises(LivematteError, match=r"cut\.png"):
        load_image(path)


def test_empty_missing_and_folder_inputs(tmp_path):
    with pytest.raises(LivematteError, match=r"empty\.jpg: empty file"):
        load_image(write(tmp_path / "empty.jpg", b""))
    with pytest.raises(LivematteError, match=r"nothere\.png: no such file"):
        load_image(str(tmp_path / "nothere.png"))
    with pytest.raises(LivematteError, match=r"is a folder"):
        load_image(str(tmp_path))


def test_unicode_path(tmp_path):
    path = tmp_path / "Bild-äöü-写真.png"
    write(path, cv2.imencode(".png", corners_image()[..., ::-1])[1].tobytes())
    np.testing.assert_array_equal(load_image(str(path)), corners_image())


# ----------------------------------------------------------------------------- sources


def test_image_files_source_yields_named_frames_of_their_own_size(tmp_path):
    a, b = str(tmp_path / "first.png"), str(tmp_path / "second.jpg")
    cv2.imwrite(a, np.zeros((20, 30, 3), np.uint8))
    cv2.imwrite(b, np.zeros((50, 16, 3), np.uint8))
    with ImageFilesSource([a, b]) as source:
        assert (source.info.width, source.info.height, source.info.frames) == (30, 20, 2)
        assert source.info.fps == 30 and source.stills
        frames = list(source)
    assert [(f.name, f.index, f.image.shape) for f in frames] == [("first", 0, (20, 30, 3)), ("second", 1, (50, 16, 3))]
    assert frames[1].seconds == pytest.approx(1 / 30)


def test_image_files_source_checks_every_file_up_front(tmp_path):
    a = str(tmp_path / "a.png")
    cv2.imwrite(a, np.zeros((4, 4), np.uint8))
    with pytest.raises(LivematteError, match=r"b\.png: no such file"):
        with ImageFilesSource([a, str(tmp_path / "b.png")]):
            pass
    with pytest.raises(LivematteError, match="no input images"):
        with ImageFilesSource([]):
            pass


def test_frame_directory_source_natural_order_and_filtering(tmp_path):
    for i, n in enumerate([10, 2, 1]):
        cv2.imwrite(str(tmp_path / f"f{n}.png"), np.full((6, 8), i * 50, np.uint8))
    cv2.imwrite(str(tmp_path / "F3.JPG"), np.full((9, 5, 3), 7, np.uint8))
    (tmp_path / "readme.txt").write_text("not a frame")
    (tmp_path / "sub.png").mkdir()
    with FrameDirectorySource(str(tmp_path)) as source:
        assert (source.info.width, source.info.height, source.info.frames) == (8, 6, 4)
        assert not source.stills and source.info.name == str(tmp_path)
        frames = list(source)
    assert [f.name for f in frames] == ["f1", "f2", "F3", "f10"]
    assert [f.index for f in frames] == [0, 1, 2, 3]
    assert frames[2].image.shape == (6, 8, 3)  # another size: letterboxed into the first frame's
    assert "1 frames differ in size" in source.warning


def test_frame_directory_source_errors(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(LivematteError, match="no image files"):
        with FrameDirectorySource(str(tmp_path)):
            pass
    with pytest.raises(LivematteError, match=r"missing: no such folder"):
        with FrameDirectorySource(str(tmp_path / "missing")):
            pass
    with pytest.raises(LivematteError, match=r"notes\.txt: not a folder"):
        with FrameDirectorySource(str(tmp_path / "notes.txt")):
            pass


# ----------------------------------------------------------------------------- save_image


def rgba_picture() -> np.ndarray:
    rgba = np.dstack([corners_image(), np.zeros((24, 40), np.uint8)])
    rgba[:, 10:30, 3] = 255
    rgba[:, 30:, 3] = 128
    return rgba  # left quarter transparent, middle opaque, right half-transparent


def test_png_round_trip_keeps_rgba_exactly(tmp_path):
    path = save_image(str(tmp_path / "o.png"), rgba_picture())
    np.testing.assert_array_equal(load_image_rgba(path), rgba_picture())
    assert os.listdir(tmp_path) == ["o.png"]  # no temporary file left behind


def test_webp_round_trip_keeps_alpha_and_colour_closely(tmp_path):
    rgba = rgba_picture()
    back = load_image_rgba(save_image(str(tmp_path / "o.webp"), rgba))
    assert back.shape == rgba.shape
    assert np.abs(back[..., 3].astype(int) - rgba[..., 3]).max() <= 2
    opaque = rgba[..., 3] == 255
    assert np.abs(back[..., :3][opaque].astype(int) - rgba[..., :3][opaque]).mean() < 4


def test_jpeg_flattens_rgba_onto_the_colour(tmp_path):
    rgba = rgba_picture()
    back = load_image(save_image(str(tmp_path / "o.jpg"), rgba, flatten_color=(0, 255, 0), quality=98))
    assert back.shape == (24, 40, 3)
    assert np.abs(back[4:20, 2:7].astype(int) - (0, 255, 0)).max() <= 8  # transparent -> green
    assert np.abs(back[4:20, 14:26].astype(int) - rgba[4:20, 14:26, :3]).max() <= 8  # opaque unchanged
    half = (rgba[4:20, 33:38, :3].astype(int) + np.array([0, 255, 0])) / 2
    assert np.abs(back[4:20, 33:38] - half).max() <= 8


def test_rgb_and_grey_pictures_save_as_given(tmp_path):
    rgb = corners_image()
    np.testing.assert_array_equal(load_image(save_image(str(tmp_path / "c.png"), rgb)), rgb)
    grey = np.arange(200, dtype=np.uint8).reshape(10, 20)
    path = save_image(str(tmp_path / "g.png"), grey)
    np.testing.assert_array_equal(cv2.imread(path, cv2.IMREAD_UNCHANGED), grey)


def test_check_image_output():
    for ext in IMAGE_ALPHA_EXTENSIONS:
        check_image_output("out" + ext, alpha=True)
    check_image_output("out.JPG", alpha=False)
    with pytest.raises(LivematteError, match=r"out\.jpg: JPEG cannot hold transparency; use \.png, \.webp"):
        check_image_output("out.jpg", alpha=True)
    with pytest.raises(LivematteError, match=r"out\.gif: unsupported image format"):
        check_image_output("out.gif", alpha=False)


def test_save_image_errors(tmp_path):
    with pytest.raises(LivematteError, match=r"o\.xyz: unsupported image format"):
        save_image(str(tmp_path / "o.xyz"), corners_image())
    with pytest.raises(LivematteError, match=r"missing.*o\.png: cannot write"):
        save_image(str(tmp_path / "missing" / "o.png"), corners_image())
    with pytest.raises(TypeError, match="expected a uint8"):
        save_image(str(tmp_path / "o.png"), corners_image().astype(np.float32))
    with pytest.raises(ValueError, match=r"got shape \(4, 4, 2\)"):
        save_image(str(tmp_path / "o.png"), np.zeros((4, 4, 2), np.uint8))
    assert os.listdir(tmp_path) == []


# ----------------------------------------------------------------------------- sinks


def test_image_files_sink_names_files_after_frames(tmp_path):
    out = tmp_path / "out"
    sink = ImageFilesSink(str(out), ".webp")
    sink.open(None, alpha=True)
    for i, name in enumerate(["beach", "", "beach"]):
        sink.write(rgba_picture(), Frame(image=corners_image(), index=i, name=name))
    sink.close()
    sink.close()
    assert sorted(os.listdir(out)) == ["00001.webp", "beach-2.webp", "beach.webp"]
    assert load_image_rgba(str(out / "beach.webp")).shape == (24, 40, 4)


def test_image_files_sink_refuses_alpha_to_jpeg(tmp_path):
    with pytest.raises(LivematteError, match="JPEG cannot hold transparency"):
        ImageFilesSink(str(tmp_path / "o"), ".jpg").open(None, alpha=True)
    assert not (tmp_path / "o").exists()


def test_matte_sequence_names_and_values(tmp_path):
    out = tmp_path / "mattes"
    sink = MatteSequenceSink(str(out))
    sink.open(None, alpha=False)
    m8 = np.tile(np.arange(256, dtype=np.uint8), (3, 1))  # (3, 256)
    sink.write(m8, Frame(image=np.zeros((3, 256, 3), np.uint8), index=0, name="00000"))
    mf = np.array([[0.0, 0.5, 1.0, 1.5, -0.2]], np.float32)
    sink.write(mf, Frame(image=np.zeros((1, 5, 3), np.uint8), index=1, name="shot_b"))
    sink.close()
    assert sorted(os.listdir(out)) == ["00000.png", "shot_b.png"]
    back = cv2.imread(str(out / "00000.png"), cv2.IMREAD_UNCHANGED)
    assert back.ndim == 2 and back.dtype == np.uint8  # single-channel grey PNG
    np.testing.assert_array_equal(back, m8)
    np.testing.assert_array_equal(cv2.imread(str(out / "shot_b.png"), cv2.IMREAD_UNCHANGED), [[0, 128, 255, 255, 0]])
    with pytest.raises(ValueError, match=r"expected a \(H, W\) array"):
        sink.write(np.zeros((2, 2, 3), np.uint8), Frame(image=np.zeros((2, 2, 3), np.uint8)))


def test_size_limit_is_read_from_the_header_before_decoding(tmp_path):
    # A PNG that claims 9000x9000 but holds almost no data: refused for its size, not as corrupt.
    data = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 9000, 9000, 8, 0, 0, 0, 0))
    data += png_chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + png_chunk(b"IEND", b"")
    path = write(tmp_path / "bomb.png", data)
    with pytest.raises(LivematteError, match=r"bomb\.png: 9000x9000 is larger than the 8192-pixel limit"):
        load_image(path)


def test_bmp_flattening_is_exact(tmp_path):
    rgba = np.array([[[200, 100, 0, 0], [200, 100, 0, 255], [200, 100, 0, 128], [10, 20, 30, 1]]], np.uint8)
    back = load_image(save_image(str(tmp_path / "f.bmp"), rgba, flatten_color=(0, 255, 0)))
    np.testing.assert_array_equal(back[0], [(0, 255, 0), (200, 100, 0), (100, 177, 0), (0, 254, 0)])
