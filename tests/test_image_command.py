"""The image command (issue #14): defaults per format, flatten, the tools, reports, batches, pipes,
bad inputs; round-tripped through real files (and one real subprocess for the pipe)."""
from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import zlib

import cv2
import numpy as np
import pytest

from livematte.cli import main
from livematte.effects.shadow import Shadow
from livematte.stills import geometry
from livematte.stills.options import Place, Size, parse_crop, parse_place, parse_size
from livematte.types import LivematteError

from .helpers import REPO, sample_frame


@pytest.fixture(scope="module")
def photo():
    """A real person (the sample clip's frame 30, face in view), 640x360 RGB."""
    return cv2.resize(sample_frame(30), (640, 360), interpolation=cv2.INTER_AREA)


@pytest.fixture()
def still(tmp_path, photo):
    path = tmp_path / "still.jpg"
    cv2.imwrite(str(path), cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
    return path


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def read(path, flags=cv2.IMREAD_UNCHANGED):
    image = cv2.imread(str(path), flags)
    assert image is not None, path
    return image


def test_png_is_a_cut_out_and_jpeg_is_flattened_on_white(capsys, tmp_path, still):
    code, out, err = run(capsys, "image", still)
    assert code == 0, err
    assert out.strip() == str(tmp_path / "still.out.png")
    rgba = read(tmp_path / "still.out.png")
    assert rgba.shape == (360, 640, 4) and rgba[:20, :20, 3].max() == 0 and rgba[..., 3].max() == 255
    assert run(capsys, "image", still, "-o", tmp_path / "o.jpg")[0] == 0
    assert (read(tmp_path / "o.jpg")[:20, :20] > 245).all()
    # transparency into a JPEG: flattened onto `flatten`, not an error
    (tmp_path / "red.toml").write_text('[effect]\nflatten = "red"\n')
    code, _, err = run(capsys, "image", still, "-o", tmp_path / "r.jpg", "-b", "transparent", "--config", tmp_path / "red.toml")
    assert code == 0, err
    b, g, r = read(tmp_path / "r.jpg")[:20, :20].reshape(-1, 3).mean(0)
    assert r > 240 and g < 15 and b < 15
    # a preset's own background wins over the format's default
    assert run(capsys, "image", still, "-o", tmp_path / "blur.png", "--config", "meeting-blur")[0] == 0
    assert read(tmp_path / "blur.png").shape == (360, 640, 3)


def test_tools_crop_size_place_shadow(capsys, tmp_path, still, photo):
    code, _, err = run(capsys, "image", still, "-o", tmp_path / "face.png", "--crop", "face:0.5", "--size", "128x128:cover",
                       "--json", tmp_path / "r.json")
    assert code == 0, err
    assert read(tmp_path / "face.png").shape == (128, 128, 4)
    report = json.loads((tmp_path / "r.json").read_text())
    (fx0, fy0, fx1, fy1), = [f["box"] for f in report["faces"]]
    x0, y0, x1, y1 = report["crop"]
    assert x0 <= fx0 and fx1 <= x1 and y0 <= fy0 and fy1 <= y1  # the face inside its crop
    assert abs((x1 - x0) - 2 * (fx1 - fx0)) <= 2  # zoom 0.5: twice the face box
    assert report["subject"]["kind"] == "person" and report["subject"]["confidence"] > 0.8
    assert report["size"] == {"input": [640, 360], "output": [128, 128]} and report["model"] == "selfie"
    assert set(report["timings_ms"]) >= {"decode", "matte", "tools", "effect", "encode", "total"}
    # subject crop: the cut-out's box touches every edge but the margin
    assert run(capsys, "image", still, "-o", tmp_path / "sticker.png", "--crop", "subject:0")[0] == 0
    sticker = read(tmp_path / "sticker.png")[..., 3]
    assert sticker[0].max() >= 128 and sticker[:, 0].max() >= 128 and sticker[:, -1].max() >= 128
    # a shadow darkens the background beside the subject, and nothing else changes far away
    args = ["image", still, "-b", "white", "--place", "0.6@0.5,0.5"]
    assert run(capsys, *args, "-o", tmp_path / "flat.png")[0] == 0
    assert run(capsys, *args, "-o", tmp_path / "shadow.png", "--shadow", "0.03,0.02,0.8")[0] == 0
    flat, shaded = read(tmp_path / "flat.png").astype(int), read(tmp_path / "shadow.png").astype(int)
    assert (flat - shaded).min() >= 0 and (flat - shaded).max() > 60
    assert (flat[:10] == shaded[:10]).all()


def test_geometry_and_parsers():
    alpha = np.zeros((100, 200), np.float32)
    alpha[40:60, 20:60] = 1.0
    image = np.zeros((100, 200, 3), np.uint8)
    assert geometry.subject_box(alpha) == (20, 40, 60, 60)
    _, moved = geometry.place(image, alpha, Place(0.5, 0.75, 0.5))
    x0, y0, x1, y1 = geometry.subject_box(moved)
    assert abs((x0 + x1) / 2 - 150) <= 1 and abs((y0 + y1) / 2 - 50) <= 1 and abs((y1 - y0) - 50) <= 1  # 0.5 of the height: 2.5x
    fit_img, fit_alpha = geometry.fit_or_cover(image, alpha, Size(100, 100, "fit"))
    assert fit_img.shape == (100, 100, 3) and fit_alpha[:20].max() == 0  # padded, transparent there
    assert geometry.fit_or_cover(image, alpha, Size(100, 100, "cover"))[1].shape == (100, 100)
    assert geometry.face_crop((90, 70, 110, 90), 0.25, (200, 100)) == (60, 20, 140, 100)  # clamped: moved up
    for bad, parse in [("face:0", parse_crop), ("eyes", parse_crop), ("10x10", parse_size), ("9x9:tile", parse_size),
                       ("0.5@2,0", parse_place), ("big", parse_place)]:
        with pytest.raises(LivematteError):
            parse(bad)
    with pytest.raises(LivematteError):
        Shadow.parse("1,2,3,4")


def test_shadow_is_the_same_on_both_engines():
    pytest.importorskip("torch")
    from livematte.engine.numpy_ops import NUMPY
    from livematte.engine.torch_ops import TorchOps
    import torch

    rng = np.random.default_rng(0)
    alpha = np.zeros((90, 160), np.float32)
    alpha[30:80, 50:110] = 1.0
    image = rng.integers(0, 256, (90, 160, 3), dtype=np.uint8)
    bg = np.full((90, 160, 3), 200, np.uint8)
    step = Shadow(0.01, 0.05, 0.06, 0.7)
    a = step(NUMPY, NUMPY.composite(image, bg, alpha), image, bg, alpha)
    t = TorchOps(torch.device("cpu"))
    b = step(t, None, torch.from_numpy(image), torch.from_numpy(bg), torch.from_numpy(alpha)).numpy()
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 2
    assert a[85, 80].mean() < 200 - 40  # below the subject: shaded


def _png_header(width, height):
    ihdr = struct.pack(">II5B", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk


def test_a_folder_batch_keeps_names_skips_a_bad_file_and_resumes(capsys, tmp_path, photo):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    small = cv2.cvtColor(cv2.resize(photo, (320, 180)), cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(src / "a.jpg"), small)
    cv2.imwrite(str(src / "sub" / "b.png"), small)
    (src / "bomb.png").write_bytes(_png_header(30000, 30000))
    (src / ".hidden.png").write_bytes(b"not an image")
    code, out, err = run(capsys, "image", src, "-o", tmp_path / "out", "--recursive", "--format", "webp",
                         "--json", tmp_path / "all.json")
    assert code == 1
    assert "bomb.png: 30000x30000 is larger than the 8192-pixel limit (skipped)" in err
    assert sorted(out.split()) == sorted([str(tmp_path / "out" / "a.webp"), str(tmp_path / "out" / "sub" / "b.webp")])
    assert not (tmp_path / "out" / "bomb.webp").exists()
    reports = json.loads((tmp_path / "all.json").read_text())
    assert [r["input"] for r in reports] == [str(src / "a.jpg"), str(src / "bomb.png"), str(src / "sub" / "b.png")]
    assert "8192-pixel limit" in reports[1]["error"] and reports[1]["output"] is None
    mtime = os.path.getmtime(tmp_path / "out" / "a.webp")
    os.remove(src / "bomb.png")
    code, out, err = run(capsys, "image", src, "-o", tmp_path / "out", "-r", "--format", "webp", "--skip-existing")
    assert code == 0 and out == "" and "skipped 2 images" in err
    assert os.path.getmtime(tmp_path / "out" / "a.webp") == mtime
    code, _, err = run(capsys, "image", src, "-o", tmp_path / "top")  # not recursive: a.jpg alone
    assert code == 0 and os.listdir(tmp_path / "top") == ["a.png"]


def test_animated_gif_and_exif_rotated_jpeg(capsys, tmp_path, photo):
    from PIL import Image

    small = cv2.resize(photo, (320, 180))
    frames = [Image.fromarray(small), Image.fromarray(255 - small)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: shown rotated 90 degrees clockwise
    Image.fromarray(small).save(tmp_path / "rot.jpg", exif=exif.tobytes())
    # --subject person: the sideways person is no person to the person path (and no plain backdrop);
    # this test is about decoding, so the person path's matte is written as it is
    code, _, err = run(capsys, "image", tmp_path / "anim.gif", tmp_path / "rot.jpg", "-o", tmp_path / "out",
                       "--subject", "person")
    assert code == 0, err
    gif = read(tmp_path / "out" / "anim.png")
    assert gif.shape == (180, 320, 4)
    solid = gif[..., 3] == 255
    shown = cv2.cvtColor(gif[..., :3], cv2.COLOR_BGR2RGB)[solid].astype(int)  # the person, palette-quantised
    assert np.abs(shown - small[solid]).mean() < 20 < np.abs(shown - (255 - small[solid])).mean()  # frame 1, not 2
    assert read(tmp_path / "out" / "rot.png").shape == (320, 180, 4)  # upright


def test_errors_are_one_line(capsys, tmp_path, still):
    cases = [
        (["--crop", "face:2"], "zoom"),
        (["--size", "10x10"], "16..8192"),
        (["--shadow", "x"], "--shadow"),
        (["-b", "matte", "--shadow"], "--shadow needs"),
        (["-o", tmp_path / "x.gif"], "for a still picture write .png or .webp"),
        (["-o", tmp_path / "x.avi"], "unsupported image format"),
    ]
    for extra, needle in cases:
        code, _, err = run(capsys, "image", still, *extra)
        assert code == 2 and err.count("\n") == 1 and needle in err, (extra, err)
    code, _, err = run(capsys, "image", still, still, "-o", "-")
    assert code == 2 and "one image" in err
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((64, 64, 3), 128, np.uint8))
    code, _, err = run(capsys, "image", blank, "--crop", "face", "-o", tmp_path / "f.png", "--subject", "person")
    assert code == 2 and err.count("\n") == 1 and "no face found" in err and not (tmp_path / "f.png").exists()


def test_stdin_to_stdout(tmp_path, still):
    env = dict(os.environ, PYTHONPATH=REPO)
    done = subprocess.run([sys.executable, "-m", "livematte", "image", "-", "-o", "-", "--format", "webp"],
                          input=still.read_bytes(), capture_output=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    from PIL import Image

    with Image.open(io.BytesIO(done.stdout)) as im:
        assert im.format == "WEBP" and im.size == (640, 360) and im.mode == "RGBA"


def test_face_boxes_agree_with_mediapipe(photo):
    mp = pytest.importorskip("mediapipe")
    from livematte.models.face import FaceDetector

    h, w = photo.shape[:2]
    with mp.solutions.face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.5) as fd:
        (ref,) = fd.process(photo).detections
    b = ref.location_data.relative_bounding_box
    rx0, ry0, rx1, ry1 = b.xmin * w, b.ymin * h, (b.xmin + b.width) * w, (b.ymin + b.height) * h
    (face,) = FaceDetector("full").detect(photo)
    x0, y0, x1, y1 = face.box
    inter = max(0, min(x1, rx1) - max(x0, rx0)) * max(0, min(y1, ry1) - max(y0, ry0))
    iou = inter / ((x1 - x0) * (y1 - y0) + (rx1 - rx0) * (ry1 - ry0) - inter)
    assert iou > 0.85 and abs(face.score - ref.score[0]) < 0.1, (iou, face.score, ref.score[0])


def test_python_api_matches_the_command(tmp_path, still):
    import livematte

    assert livematte.process_image(str(still), str(tmp_path / "api.png")) == str(tmp_path / "api.png")
    assert read(tmp_path / "api.png").shape == (360, 640, 4)  # a cut-out by default, as the command
    (bad := tmp_path / "bad.png").write_bytes(b"junk")
    with pytest.raises(LivematteError, match="bad.png"):
        livematte.process_images([str(still), str(bad)], str(tmp_path / "out"), size="64x64")
    assert read(tmp_path / "out" / "still.png").shape == (64, 64, 4)  # the good one is written


def test_a_batch_writes_on_a_thread_and_reports_in_order(tmp_path, photo):
    """Image k is written while image k+1 is matted: a failing read, a failing write and the good
    images are still reported in the items' order, and every written file is complete."""
    from livematte.config import Config
    from livematte.stills import StillJob, plan, run_items

    src = tmp_path / "in"
    src.mkdir()
    small = cv2.cvtColor(cv2.resize(photo, (320, 180)), cv2.COLOR_RGB2BGR)
    for name in ("a", "c", "d"):
        cv2.imwrite(str(src / f"{name}.jpg"), small)
    (src / "b.png").write_bytes(b"junk")
    (tmp_path / "out" / "c.png").mkdir(parents=True)  # c's output cannot be written
    items = plan([str(src)], str(tmp_path / "out"))
    events = []
    stats = run_items(StillJob(Config()), items, on_written=lambda p: events.append(("written", os.path.basename(p))),
                      on_error=lambda p, m: events.append(("failed", os.path.basename(p))),
                      on_step=lambda: events.append(("step",)))
    assert events == [("written", "a.png"), ("step",), ("failed", "b.png"), ("step",), ("failed", "c.jpg"), ("step",),
                      ("written", "d.png"), ("step",)]
    assert "cannot write" in dict(stats.failed)[str(src / "c.jpg")]
    for name in ("a", "d"):
        assert read(tmp_path / "out" / f"{name}.png").shape == (180, 320, 4)
    assert sorted(os.listdir(tmp_path / "out")) == ["a.png", "c.png", "d.png"]  # no temporary file left
    assert [r["input"] for r in stats.reports] == [str(src / name) for name in ("a.jpg", "b.png", "c.jpg", "d.jpg")]
    assert [r["output"] is None for r in stats.reports] == [False, True, True, False]  # a failed file: its error
    assert "cannot write" in stats.reports[2]["error"] and stats.reports[1]["nothing_found"] is False
    assert all(r["timings_ms"]["encode"] > 0 for r in stats.reports if r["output"])
