"""The backdrop keyer, --subject for stills and --fine-edges, on constructed pictures with known masks."""
import json
import cv2
import numpy as np
import pytest

from livematte.evaluate import boundary_f, iou
from livematte.stages.backdrop import BackdropKeyer
from livematte.types import LivematteError
from tests.cli_run import cli  # noqa: F401  (a fixture)


def product_shot(h=240, w=320, seed=0):
    """A textured object (a striped, noisy blob) on a gradient backdrop with vignetting, a soft
    shadow and noise: ``(rgb uint8 (h, w, 3), mask bool (h, w))``."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    top, bottom = np.array([0.93, 0.92, 0.95]), np.array([0.78, 0.8, 0.86])
    t = (y / h)[..., None]
    bg = top * (1 - t) + bottom * t
    bg = bg * (1 - 0.12 * (((x - w / 2) / (w / 2)) ** 2 + ((y - h / 2) / (h / 2)) ** 2) / 2)[..., None]
    mask = (((x - 0.5 * w) / (0.22 * w)) ** 2 + ((y - 0.5 * h) / (0.3 * h)) ** 2) <= 1
    mask |= (np.abs(x - 0.62 * w) < 0.04 * w) & (y > 0.25 * h) & (y < 0.82 * h)  # a handle
    shadow = cv2.GaussianBlur(np.roll(mask, (8, 10), (0, 1)).astype(np.float32), (0, 0), 6)
    bg = bg * (1 - 0.35 * shadow[..., None])
    stripes = 0.5 + 0.4 * np.sin(x / 5.0)[..., None] * np.array([1.0, 0.3, -0.6])
    obj = np.clip(np.array([0.55, 0.25, 0.15]) + 0.2 * (stripes - 0.5), 0, 1)
    soft = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 0.6)[..., None]
    img = obj * soft + bg * (1 - soft) + rng.normal(0, 0.01, (h, w, 3))
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8), mask


def scene(h=240, w=320, seed=1):
    """A busy picture, no backdrop: smooth random colour blobs everywhere."""
    rng = np.random.default_rng(seed)
    small = rng.random((h // 16, w // 16, 3)).astype(np.float32)
    return (cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC).clip(0, 1) * 255).astype(np.uint8)


def test_the_keyer_cuts_an_object_off_its_backdrop_and_keeps_the_shadow_out():
    img, mask = product_shot()
    r = BackdropKeyer()(img)
    assert r.alpha.shape == mask.shape and r.alpha.dtype == np.float32
    pred = r.alpha >= 0.5
    assert iou(pred, mask) >= 0.95 and boundary_f(pred, mask) >= 0.9
    assert r.confidence >= 0.7 and r.noise < 8
    near = cv2.dilate(mask.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0  # the object and its edge's 3 px
    shadow_only = (cv2.GaussianBlur(np.roll(mask, (8, 10), (0, 1)).astype(np.float32), (0, 0), 6) > 0.3) & ~near
    assert pred[shadow_only].mean() < 0.05


def test_the_keyer_is_unsure_on_a_scene_and_on_a_blank_picture():
    assert BackdropKeyer()(scene()).confidence < 0.5
    assert BackdropKeyer()(np.full((90, 120, 3), 200, np.uint8)).confidence == 0.0


def test_still_choice_grammar():
    from livematte.stills.subject import still_choice

    assert [still_choice(t) for t in (None, "auto", "Person", "object")] == ["auto", "auto", "person", "object"]
    with pytest.raises(LivematteError, match="for still images choose auto, person or object"):
        still_choice("main")


def test_image_cuts_a_product_out_and_refuses_a_scene_in_one_line(tmp_path, cli):
    from livematte.sinks.images import save_image
    from livematte.sources.images import load_image_rgba

    img, mask = product_shot()
    save_image(str(tmp_path / "cup.png"), img)
    save_image(str(tmp_path / "scene.png"), scene())
    r = cli("image", "cup.png", "scene.png", "-o", "out", "--json", "r.json", "--subject", "object")
    assert r.returncode == 1  # one image failed, the other was written
    out = load_image_rgba(str(tmp_path / "out" / "cup.png"))
    assert iou(out[..., 3] >= 128, mask) >= 0.95
    errors = [line for line in r.stderr.splitlines() if "scene.png" in line]
    assert len(errors) == 1 and "install a salient-object model" in errors[0] and "u2net.onnx" in errors[0]
    assert not (tmp_path / "out" / "scene.png").exists()
    report = json.loads((tmp_path / "r.json").read_text())
    report = report[0] if isinstance(report, list) else report
    assert report["subject"]["kind"] == "object" and report["subject"]["via"] == "backdrop-keyer"
    r = cli("image", "cup.png", "-o", "white.jpg", "--config", "product-white")  # auto: no person, the keyer
    assert r.returncode == 0, r.stderr
    white = cv2.imread(str(tmp_path / "white.jpg"))
    assert white[~cv2.dilate(mask.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)].min() >= 235
    assert np.abs(white[mask].astype(int) - img[mask][:, ::-1]).mean() < 12  # the product kept (BGR on disk)
    # auto: no person, no object model, an unsure keyer: one line, exit code 1, no blank picture
    r = cli("image", "scene.png", "-o", "s.png")
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and not (tmp_path / "s.png").exists()
    assert r.stderr.startswith("livematte: scene.png: nothing to cut out: no person found")
    assert "pip install 'livematte[objects]'" in r.stderr and "u2net.onnx" in r.stderr
    (tmp_path / "in").mkdir()
    save_image(str(tmp_path / "in" / "scene.png"), scene())
    save_image(str(tmp_path / "in" / "cup.png"), img)
    r = cli("image", "in", "-o", "out2")  # in a batch the others go on
    assert r.returncode == 1 and r.stdout.split() == ["out2/cup.png"] and not (tmp_path / "out2" / "scene.png").exists()
    assert "in/scene.png: nothing to cut out" in r.stderr
    # asked for explicitly: the person path's matte as it is, or the backend's own (--raw)
    for flag in ("--subject=person", "--raw"):
        r = cli("image", "scene.png", "-o", f"p{flag[2:5]}.png", flag)
        assert r.returncode == 0 and r.stderr == "", (flag, r.stderr)
        assert load_image_rgba(str(tmp_path / f"p{flag[2:5]}.png")).shape == (240, 320, 4)
    r = cli("image", "cup.png", "-o", "x.png", "--subject", "main")
    assert r.returncode == 2 and "choose auto, person or object" in r.stderr


def test_fine_edges_recover_a_soft_edge_and_its_foreground_colour():
    pytest.importorskip("pymatting")
    from livematte.stages.fine_edges import fine_edges

    h, w = 96, 128
    x = np.arange(w, dtype=np.float32)[None].repeat(h, 0)
    truth = np.clip((x - 56) / 16, 0, 1)  # a 16 px soft edge (hair-like coverage)
    fg, bg = np.array([230, 40, 30], np.float32), np.array([20, 200, 40], np.float32)
    rng = np.random.default_rng(0)
    image = (truth[..., None] * fg + (1 - truth[..., None]) * bg + rng.normal(0, 2, (h, w, 3))).clip(0, 255)
    image = image.astype(np.uint8)
    rough = (truth >= 0.5).astype(np.float32)  # a hard matte, as a segmenter gives
    out_image, alpha = fine_edges(image, rough, band=0.08)
    band = (truth > 0.1) & (truth < 0.9)
    assert np.abs(alpha - truth)[band].mean() < 0.5 * np.abs(rough - truth)[band].mean()
    green_before = image[band][:, 1].astype(float).mean()
    green_after = out_image[band][:, 1].astype(float).mean()
    assert green_after < green_before - 40  # the old background's green is gone from the edge's colour
    assert np.array_equal(out_image[:, :20], image[:, :20]) and np.all(alpha[:, :20] == rough[:, :20])


def test_fine_edges_keep_the_matte_where_a_tile_sees_one_side_and_threads_change_nothing():
    pytest.importorskip("pymatting")
    from livematte.stages.fine_edges import fine_edges, solve, trimap

    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, (80, 120, 3), dtype=np.uint8)
    alpha = np.full((80, 120), 0.3, np.float32)
    alpha[:, 60:] = 1.0  # an object and a soft zone, no background anywhere: nothing to solve
    out_image, out_alpha = fine_edges(image, alpha, band=0.03)
    assert np.array_equal(out_alpha, alpha) and np.array_equal(out_image, image)
    # a real edge over several tiles: one thread or two give the same result
    img, mask = product_shot(h=400, w=700)
    tri = trimap(cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 3), 4)
    one, two = solve(img / 255.0, tri, workers=1), solve(img / 255.0, tri, workers=2)
    assert one[2].sum() > 0 and all(np.array_equal(a, b) for a, b in zip(one, two))


def test_a_cold_kernel_cache_is_noticed_before_the_long_first_import(tmp_path, monkeypatch):
    from livematte.stages.fine_edges import kernels_compiled

    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert not kernels_compiled()  # nothing compiled there: the user is told the first run compiles
    (tmp_path / "pymatting" / "util").mkdir(parents=True)
    (tmp_path / "pymatting" / "util" / "boxfilter.boxfilter_rows_valid-6.py311.nbi").write_bytes(b"")
    assert kernels_compiled()
