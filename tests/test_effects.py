"""Every effect on a real image, with the real model's matte."""
import cv2
import numpy as np
import pytest

from livematte.effects import Blur, Chroma, Matte, Replace, Transparent, cover, make_effect
from livematte.matter import build_matter
from livematte.types import Frame, LivematteError

from .helpers import sample_frame


@pytest.fixture(scope="module")
def scene():
    image = sample_frame(45)
    alpha = build_matter()(Frame(image=image))
    person, background = alpha > 0.99, alpha < 0.01
    assert person.mean() > 0.02 and background.mean() > 0.3, "the sample should show a person and background"
    return image, alpha, person, background


def sharpness(image, region):
    lap = cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.CV_32F)
    return float(lap[region].var())


def test_blur_keeps_person_and_softens_background(scene):
    image, alpha, person, background = scene
    out = Blur(24).apply(image, alpha)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.abs(out[person].astype(int) - image[person]).max() <= 3
    assert sharpness(out, background) < 0.5 * sharpness(image, background)
    stronger = Blur(60).apply(image, alpha)
    assert sharpness(stronger, background) < sharpness(out, background)


def test_blur_does_not_smear_the_person_into_the_background(scene):
    image, alpha, person, background = scene
    painted = image.copy()
    painted[alpha > 0.5] = (255, 0, 255)  # a magenta person
    out = Blur(40).apply(painted, alpha)
    ring = cv2.dilate(person.astype(np.uint8), np.ones((25, 25), np.uint8)).astype(bool) & background
    magenta = (out[ring, 0] > 200) & (out[ring, 1] < 60) & (out[ring, 2] > 200)
    assert magenta.mean() < 0.01


@pytest.mark.parametrize("spec,color", [("white", (255, 255, 255)), ("#102030", (16, 32, 48)), ("chroma", (0, 255, 0)),
                                        ("chroma:blue", (0, 0, 255))])
def test_colour_backgrounds(scene, spec, color):
    image, alpha, person, background = scene
    out = make_effect(spec).apply(image, alpha)
    assert np.abs(out[background].astype(int) - color).max() <= 3
    assert np.abs(out[person].astype(int) - image[person]).max() <= 3


def test_replace_with_image_covers_and_keeps_aspect(scene):
    image, alpha, person, background = scene
    H, W = image.shape[:2]
    bg = np.zeros((H, W // 2, 3), np.uint8)  # half as wide: scaled x2, centre-cropped vertically
    bg[:, : W // 4] = (200, 10, 10)
    bg[:, W // 4 :] = (10, 10, 200)
    out = Replace(image=bg).apply(image, alpha)
    left, right = background.copy(), background.copy()
    left[:, W // 2 - 4 :] = False
    right[:, : W // 2 + 4] = False
    assert np.abs(out[left].astype(int) - (200, 10, 10)).max() <= 3
    assert np.abs(out[right].astype(int) - (10, 10, 200)).max() <= 3
    assert cover(bg, (H, W)).shape == (H, W, 3)


def test_replace_with_video_frames_advances(scene):
    image, alpha, person, background = scene
    frames = [np.full((50, 80, 3), v, np.uint8) for v in (10, 100, 200)]
    state = {"i": 0}

    def next_frame():
        f = frames[state["i"] % len(frames)]
        state["i"] += 1
        return f

    effect = Replace(next_frame=next_frame)
    seen = [round(float(effect.apply(image, alpha)[background][:, 0].mean()) / 10) * 10 for _ in range(4)]
    assert seen == [10, 100, 200, 10]


def test_transparent_and_matte(scene):
    image, alpha, person, background = scene
    rgba = Transparent().apply(image, alpha)
    assert rgba.shape == (*image.shape[:2], 4)
    assert (rgba[..., :3] == image).all()
    assert np.abs(rgba[..., 3].astype(int) - np.round(alpha * 255)).max() <= 1
    assert (rgba[..., 3][background] <= 3).all() and (rgba[..., 3][person] >= 252).all()
    grey = Matte().apply(image, alpha)
    assert (grey[..., 0] == rgba[..., 3]).all() and (grey[..., 1] == grey[..., 2]).all()


@pytest.mark.parametrize("spec,message", [("blur:x", "blur strength"), ("nosuchthing", "not blur"),
                                          ("chroma:purple-ish", "not a colour")])
def test_bad_background_specs(spec, message):
    with pytest.raises(LivematteError, match=message):
        make_effect(spec)
    assert Chroma().color == (0, 255, 0)


@pytest.mark.parametrize("size", [(720, 1280), (481, 853)])
def test_composite_blends_only_the_person_box_yet_equals_the_full_blend(size):
    """The composite skips the blend where alpha < 1/512; a small far-away spot (a strand, a mask
    option's leftover) and one lone pixel in the odd last row/column must still be blended."""
    from livematte.effects import composite

    H, W = size
    rng = np.random.default_rng(1)
    fg, bg = rng.integers(0, 256, (H, W, 3), np.uint8), rng.integers(0, 256, (H, W, 3), np.uint8)
    alpha = np.zeros((H, W), np.float32)
    alpha[H // 3:H // 2, W // 3:W // 2] = rng.random((H // 2 - H // 3, W // 2 - W // 3), dtype=np.float32)
    alpha[101:103, 5:7] = 0.9  # off the 4-pixel sampling grid, far from the person
    alpha[H - 1, W - 1] = 0.5
    out = composite(fg, bg, alpha)
    assert np.array_equal(out, cv2.blendLinear(fg, bg, alpha, 1.0 - alpha))
    assert np.array_equal(composite(fg, bg, np.zeros((H, W), np.float32)), bg)
