"""The array layer: the numpy and torch primitives agree, and the numpy specialisations equal the
general formula they stand for (the composite box, strip-blended seams, the band-limited smoother,
strided nearest samples)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from livematte.engine import NUMPY, as_numpy, numpy_engine, resolve_engine, torch_engine
from livematte.engine.numpy_ops import MIN_WEIGHT
from livematte.engine.torch_ops import TorchOps
from livematte.types import LivematteError

from .helpers import sample_frame

T = TorchOps("cpu")


@pytest.fixture(scope="module")
def frame():
    return sample_frame(30)  # (720, 1280, 3) uint8, a real person


def soft_alpha(h, w, cx=0.45, cy=0.6, r=0.3, edge=0.04):
    """float32 (h, w): a soft disc (the kind of alpha the matter makes: 0 and 1 with a soft rim)."""
    yy, xx = np.mgrid[0:h, 0:w]
    d = np.hypot((yy - cy * h) / h, (xx - cx * w) / w)
    return np.clip((r - d) / edge, 0, 1).astype(np.float32)


def t(x):
    return torch.from_numpy(np.ascontiguousarray(x))


def u8_diff(a, b):
    return np.abs(a.astype(np.int64) - as_numpy(b).astype(np.int64))


# ----------------------------------------------------------------------------- bit-exact 8-bit ops


def test_grey_and_linear_resize_of_8_bit_images_are_bit_exact(frame):
    assert u8_diff(NUMPY.grey(frame), T.grey(t(frame))).max() == 0
    rng = np.random.default_rng(0)
    for (y0, x0, y1, x1), size in [((0, 0, 720, 1280), (256, 256)), ((0, 0, 720, 1280), (144, 256)),
                                   ((50, 401, 550, 900), (256, 256)), ((0, 0, 720, 1280), (360, 640)),
                                   ((10, 20, 333, 301), (200, 177))]:
        region = frame[y0:y1, x0:x1]
        assert u8_diff(NUMPY.resize_linear(region, size), T.resize_linear(t(region), size)).max() == 0, size
    noise = rng.integers(0, 256, (301, 517, 3), dtype=np.uint8)
    assert u8_diff(NUMPY.resize_linear(noise, (203, 256)), T.resize_linear(t(noise), (203, 256))).max() == 0
    assert u8_diff(NUMPY.half_area(frame), T.half_area(t(frame))).max() == 0


def test_float_primitives_agree(frame):
    g = NUMPY.grey(frame)[:180, :320].astype(np.float32)
    a = soft_alpha(180, 320)
    checks = {
        "resize_linear": (NUMPY.resize_linear(a, (720, 1280)), T.resize_linear(t(a), (720, 1280))),
        "resize_area": (NUMPY.resize_area(a, (144, 256)), T.resize_area(t(a), (144, 256))),
        "box_filter": (NUMPY.box_filter(g, 2), T.box_filter(t(g), 2)),
        "blur": (NUMPY.blur(g, 5), T.blur(t(g), 5)),
        "gaussian": (NUMPY.gaussian_blur(a, 3.0), T.gaussian_blur(t(a), 3.0)),
        "gaussian image": (NUMPY.gaussian_blur(frame[:90, :160].astype(np.float32), 2.0),
                           T.gaussian_blur(t(frame[:90, :160].astype(np.float32)), 2.0)),
        "dilate": (NUMPY.morph_ellipse(a, 4, True), T.morph_ellipse(t(a), 4, True)),
        "erode": (NUMPY.morph_ellipse(a, 3, False), T.morph_ellipse(t(a), 3, False)),
        "max3": (NUMPY.max3(a), T.max3(t(a))),
        "sample_nearest": (NUMPY.sample_nearest(a, (61, 97)), T.sample_nearest(t(a), (61, 97))),
        "histogram": (NUMPY.histogram(frame[::4, ::4]), T.histogram(t(frame[::4, ::4]))),
        "alpha_u8": (NUMPY.alpha_u8(a), T.alpha_u8(t(a))),
    }
    m = np.array([[0.6, 0.0, 3.2], [0.0, 0.55, -2.7]])
    checks["regrid"] = (NUMPY.regrid(a, m, (100, 120)), T.regrid(t(a), m, (100, 120)))
    for name, (x, y) in checks.items():
        y = as_numpy(y)
        assert x.shape == y.shape, name
        tol = 1.0 if x.dtype == np.uint8 else 2e-5 * max(1.0, float(np.abs(x).max()))
        assert np.abs(x.astype(np.float64) - y.astype(np.float64)).max() <= tol, name


def test_to_host_brings_several_arrays_down_in_one_call_with_their_dtypes():
    p, g = torch.rand(4, 5), torch.randint(0, 255, (3, 2), dtype=torch.uint8)
    a, b = T.to_host(p, g)
    assert a.dtype == np.float32 and b.dtype == np.uint8 and np.array_equal(b, g.numpy())
    assert np.array_equal(a, p.numpy())


# ----------------------------------------------------------------------------- specialisations


def test_composite_of_the_edge_blocks_equals_the_whole_frame_blend(frame):
    bg = np.full_like(frame, 40)
    odd = soft_alpha(709, 1273, edge=0.002)  # a size off the 16x16 block grid, a sharp edge
    odd[3, 5] = 1.0 - 1.0 / 2048  # a near-1 pixel in a block of zeros: blended, not skipped
    for alpha in (soft_alpha(720, 1280), np.zeros((720, 1280), np.float32), odd):
        alpha = alpha.copy()
        alpha[alpha.shape[0] - 3, alpha.shape[1] - 1] = 0.01  # a lone pixel in the leftover corner
        fg, back = frame[: alpha.shape[0], : alpha.shape[1]], bg[: alpha.shape[0], : alpha.shape[1]]
        full = cv2.blendLinear(fg, back, alpha, 1.0 - alpha)
        assert np.array_equal(NUMPY.composite(fg, back, alpha), full)
        assert u8_diff(full, T.composite(t(fg), t(back), t(alpha))).max() <= 1


def test_the_shared_empty_matte_leaves_out_the_blend_and_the_blur_weights_with_the_same_picture(frame):
    """An idle frame's matte (``ops.empty_matte``, one shared array per size, known without reading
    it): the blend and the blur's weights are left out, and the pictures are those of any all-zero
    alpha, on both engines; another zeros array is not taken for it."""
    from livematte.effects.blur import Blur
    from livematte.effects.stage import EffectStage

    zeros = np.zeros(frame.shape[:2], np.float32)
    for engine in (numpy_engine(), torch_engine("cpu")):
        ops = engine.ops
        empty = ops.empty_matte(frame.shape[:2])
        assert ops.empty_matte(frame.shape[:2]) is empty and ops.is_empty(empty)
        assert not ops.is_empty(ops.from_host(zeros.copy())) and float(as_numpy(empty).max()) == 0.0
        stage = EffectStage(Blur(), engine)
        assert np.array_equal(stage.apply(frame, empty), stage.apply(frame, zeros.copy())), engine.name
        bg = ops.from_host(np.full_like(frame, 40))
        assert np.array_equal(as_numpy(ops.composite(ops.from_host(frame), bg, empty)), np.full_like(frame, 40))


def test_strip_blended_seams_equal_the_outer_product_blend():
    from livematte.stages.tiles import seam_ramps

    rng = np.random.default_rng(2)
    for box, fade in [((100, 50, 400, 350), False), ((0, 0, 300, 300), False), ((100, 50, 400, 350), True)]:
        wy, wx = seam_ramps(NUMPY, box, (720, 1280), 9.0)
        if fade:
            wy = wy * np.clip((np.arange(wy.size, dtype=np.float32) + 0.5) / 120, 0, 1)
        region = rng.random((wy.size, wx.size), dtype=np.float32)
        new = rng.random(region.shape, dtype=np.float32)
        ref = region + np.outer(wy, wx) * (new - region)
        NUMPY.blend_ramps_(region, new, wy, wx)
        assert np.abs(region - ref).max() < 1e-6


def test_band_limited_blend_of_the_past_equals_the_whole_frame_formula():
    H, W, h, w = 720, 1280, 180, 320
    rng = np.random.default_rng(3)
    weight = np.zeros((h, w), np.float32)
    weight[40:90, 100:160] = rng.random((50, 60), dtype=np.float32) * 0.7  # the band where the past counts
    weight[0, 0] = MIN_WEIGHT / 2  # below the floor: ignored
    past, now = soft_alpha(H, W), soft_alpha(H, W, cx=0.47)
    ref = now + cv2.resize(weight, (W, H), interpolation=cv2.INTER_LINEAR) * (past - now)
    got = NUMPY.blend_past(now.copy(), past, weight)
    assert np.abs(got - ref).max() < 2e-3
    assert np.abs(as_numpy(T.blend_past(t(now), t(past), t(weight))) - ref).max() < 2e-3


def test_strided_nearest_samples_equal_opencvs_nearest_resize():
    a = soft_alpha(720, 1280)
    for size in [(144, 256), (180, 320), (100, 173)]:
        ref = cv2.resize(a, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)
        assert np.array_equal(NUMPY.sample_nearest(a, size), ref)


def test_clip01_clips_in_place_also_on_views():
    a = np.array([[-0.5, 0.25, 1.5, 1.0]], np.float32)
    assert NUMPY.clip01_(a) is a and a.tolist() == [[0.0, 0.25, 1.0, 1.0]]
    b = np.array([[-1.0, 2.0, 0.5, 3.0]], np.float32)
    NUMPY.clip01_(b[:, ::2])
    assert b.tolist() == [[0.0, 2.0, 0.5, 3.0]]


# ----------------------------------------------------------------------------- picking the engine


def test_auto_engine_is_numpy_on_a_cpu_machine_and_torch_on_request():
    if not torch.cuda.is_available():
        assert resolve_engine("auto", "auto").name == "numpy"
    assert resolve_engine("numpy", "cpu").name == "numpy"
    eng = resolve_engine("torch", "cpu")
    assert eng.name == "torch" and eng.device.type == "cpu" and not eng.graphs
    assert numpy_engine().ops is NUMPY and torch_engine("cpu").ops.name == "torch"


def test_engine_mistakes_are_one_line_errors():
    for args, match in [(("gpu", "cpu"), "choose one of"), (("numpy", "cuda"), "engine torch")]:
        with pytest.raises(LivematteError, match=match) as err:
            resolve_engine(*args)
        assert "\n" not in str(err.value)
    if not torch.cuda.is_available():
        with pytest.raises(LivematteError, match="CUDA is not available"):
            resolve_engine("torch", "cuda")
