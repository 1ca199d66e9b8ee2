"""Every effect on a real image with the real model's matte, and on both engines (the twin tests)."""
import os
import warnings

import cv2
import numpy as np
import pytest

from livematte.effects import (ALPHA, EFFECTS, NEEDS, Blur, Chroma, Composite, Effect, EffectStage, Matte, Replace,
                               Transparent, cover, effect_kinds, make_effect, parse_effect, spec_keywords)
from livematte.engine import NUMPY, numpy_engine, torch_engine
from livematte.matter import build_matter
from livematte.types import Frame, LivematteError

from .conftest import write_video
from .helpers import SAMPLES, sample_frame

#: 8-bit pictures of the two engines may differ by this much per channel (max, mean)
TWIN_MAX, TWIN_MEAN = 2, 0.2

#: the twin specs of every registered kind ({image}, {video}: files made by the fixtures);
#: a kind added to EFFECTS without an entry here fails test_every_registered_effect_has_a_twin_entry
TWIN_SPECS = {
    "blur": ["blur", "blur:60"],
    "transparent": ["transparent"],
    "matte": ["matte"],
    "chroma": ["chroma", "chroma:#3c6e9f"],
    "replace": ["white", "10,200,40", "{image}", "{video}"],
}


def _real_scene(index):
    image = sample_frame(index)  # (720, 1280, 3)
    alpha = build_matter()(Frame(image=image))  # (720, 1280) float32, the real model's matte
    return image, alpha


@pytest.fixture(scope="module")
def scene():
    image, alpha = _real_scene(45)
    person, background = alpha > 0.99, alpha < 0.01
    assert person.mean() > 0.02 and background.mean() > 0.3, "the sample should show a person and background"
    return image, alpha, person, background


@pytest.fixture(scope="module")
def scenes(scene):
    """Two real frames of the sample, each with its own matte."""
    return [scene[:2], _real_scene(100)]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """{image}: the shipped background photo; {video}: a short clip at another size and aspect."""
    clip = write_video(tmp_path_factory.mktemp("bg") / "bg.mp4", n=4, size=(200, 150), audio=False)
    return {"image": os.path.join(SAMPLES, "background.jpg"), "video": str(clip)}


def sharpness(image, region):
    lap = cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.CV_32F)
    return float(lap[region].var())


def test_blur_keeps_person_and_softens_background(scene):
    image, alpha, person, background = scene
    out = make_effect("blur:24").apply(image, alpha)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.abs(out[person].astype(int) - image[person]).max() <= 3
    assert sharpness(out, background) < 0.5 * sharpness(image, background)
    stronger = make_effect("blur", blur_strength=60).apply(image, alpha)
    assert sharpness(stronger, background) < sharpness(out, background)


def test_blur_does_not_smear_the_person_into_the_background(scene):
    image, alpha, person, background = scene
    painted = image.copy()
    painted[alpha > 0.5] = (255, 0, 255)  # a magenta person
    out = EffectStage(Blur(40)).apply(painted, alpha)
    ring = cv2.dilate(person.astype(np.uint8), np.ones((25, 25), np.uint8)).astype(bool) & background
    magenta = (out[ring, 0] > 200) & (out[ring, 1] < 60) & (out[ring, 2] > 200)
    assert magenta.mean() < 0.01


def test_blur_fast_path_equals_the_general_composite(scene):
    """On numpy the blend writes into the fresh background (``into``): the same picture as a copy."""
    image, alpha = scene[:2]
    background = Blur(24).background(NUMPY, image, alpha)  # (H, W, 3)
    assert np.array_equal(make_effect("blur").apply(image, alpha), cv2.blendLinear(image, background, alpha, 1 - alpha))


def test_blur_starts_from_the_fronts_pyramid_levels(scene):
    """The matter's front shelves the frame's pyramid levels; the blur halves only below them, to
    the same picture (bit-exact) as from the frame alone. Levels of another frame are not used, and
    an entry ends with its frame."""
    import gc

    from livematte.stages.pyramid import SHELF, LevelShelf, Pyramid

    image, alpha = scene[:2]
    alone = Blur(24).background(NUMPY, image, alpha)
    levels = Pyramid(NUMPY, image).levels
    shelf = LevelShelf(size=2)
    other = image.copy()
    shelf.put(other, [other, np.zeros_like(levels[1]), np.zeros_like(levels[2])])  # wrong levels, other frame
    shelf.put(image, levels)
    assert shelf.get(image)[0] is image and all(a is b for a, b in zip(shelf.get(image)[1:], levels[1:]))
    del other
    gc.collect()
    shelf.put(image.copy(), levels)
    assert len(shelf._items) == 2  # the dead frame's entry went first; bounded to 2
    SHELF.put(image, levels)
    try:
        assert np.array_equal(Blur(24).background(NUMPY, image, alpha), alone)
        half = [image, levels[1]]  # a shorter pyramid (one level): the blur makes the rest
        SHELF.put(image, half)
        assert np.array_equal(Blur(24).background(NUMPY, image, alpha), alone)
    finally:
        SHELF._items.clear()


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
    stage = EffectStage(Replace(image=bg))
    out = stage.apply(image, alpha)
    left, right = background.copy(), background.copy()
    left[:, W // 2 - 4 :] = False
    right[:, : W // 2 + 4] = False
    assert np.abs(out[left].astype(int) - (200, 10, 10)).max() <= 3
    assert np.abs(out[right].astype(int) - (10, 10, 200)).max() <= 3
    assert cover(bg, (H, W)).shape == (H, W, 3)
    cached = stage.effect.background(NUMPY, image, alpha).copy()  # the covered image, made once per size
    assert np.array_equal(stage.apply(image, alpha), out)
    assert np.array_equal(stage.effect.background(NUMPY, image, alpha), cached)  # the blend did not write into it


def test_replace_with_video_frames_advances(scene):
    image, alpha, person, background = scene
    frames = [np.full((50, 80, 3), v, np.uint8) for v in (10, 100, 200)]
    state = {"i": 0}

    def next_frame():
        f = frames[state["i"] % len(frames)]
        state["i"] += 1
        return f

    effect = EffectStage(Replace(next_frame=next_frame))
    seen = [round(float(effect.apply(image, alpha)[background][:, 0].mean()) / 10) * 10 for _ in range(4)]
    assert seen == [10, 100, 200, 10]


def test_transparent_and_matte(scene):
    image, alpha, person, background = scene
    stage = make_effect("transparent")
    rgba = stage.apply(image, alpha)
    assert stage.alpha and not make_effect("matte").alpha and isinstance(stage.effect, Transparent)
    assert rgba.shape == (*image.shape[:2], 4)
    assert (rgba[..., :3] == image).all()
    assert np.abs(rgba[..., 3].astype(int) - np.round(alpha * 255)).max() <= 1
    assert (rgba[..., 3][background] <= 3).all() and (rgba[..., 3][person] >= 252).all()
    grey = make_effect("matte").apply(image, alpha)
    assert (grey[..., 0] == rgba[..., 3]).all() and (grey[..., 1] == grey[..., 2]).all()


@pytest.mark.parametrize("spec,message", [("blur:x", "blur strength must be a number"), ("blur:-2", "must be > 0"),
                                          ("nosuchthing", "not blur"), ("transparent:x", "not blur"),
                                          ("chroma:purple-ish", "not a colour"), ("missing.jpg", "missing.jpg")])
def test_bad_background_specs(spec, message):
    with pytest.raises(LivematteError, match=message) as err:
        make_effect(spec)
    assert "\n" not in str(err.value)
    assert Chroma().color == (0, 255, 0)


def test_the_error_lists_every_spec_form():
    with pytest.raises(LivematteError) as err:
        make_effect("nosuchthing")
    assert str(err.value) == ("--background 'nosuchthing': not blur[:STRENGTH], transparent, matte, chroma[:COLOR], "
                              "a colour, or an existing image or video file")


@pytest.mark.parametrize("size", [(720, 1280), (481, 853)])
def test_composite_blends_only_the_person_box_yet_equals_the_full_blend(size):
    """The numpy composite skips the blend where alpha < 1/512; a small far-away spot (a strand, a
    mask option's leftover) and one lone pixel in the odd last row/column must still be blended."""
    H, W = size
    rng = np.random.default_rng(1)
    fg, bg = rng.integers(0, 256, (H, W, 3), np.uint8), rng.integers(0, 256, (H, W, 3), np.uint8)
    alpha = np.zeros((H, W), np.float32)
    alpha[H // 3:H // 2, W // 3:W // 2] = rng.random((H // 2 - H // 3, W // 2 - W // 3), dtype=np.float32)
    alpha[101:103, 5:7] = 0.9  # off the 4-pixel sampling grid, far from the person
    alpha[H - 1, W - 1] = 0.5
    out = Composite()(NUMPY, fg, bg, alpha)
    assert np.array_equal(out, cv2.blendLinear(fg, bg, alpha, 1.0 - alpha))
    assert np.array_equal(Composite()(NUMPY, fg, bg, np.zeros((H, W), np.float32)), bg)


def test_post_composite_steps_run_in_order_and_see_the_untouched_background(scene):
    image, alpha = scene[:2]
    seen = []

    def darken(ops, picture, image_, background, alpha_):
        seen.append(background.copy())
        return picture // 2

    stage = make_effect("blur")
    plain = stage.apply(image, alpha)
    stage.composite.post.append(darken)
    out = stage.apply(image, alpha)
    assert np.array_equal(out, plain // 2)
    assert np.array_equal(seen[0], Blur(24).background(NUMPY, image, alpha))  # not blended into
    assert Composite().post == []


# ---------------------------------------------------------------------------------------------- twins


def test_every_registered_effect_has_a_twin_entry_and_keeps_the_protocol():
    assert set(TWIN_SPECS) == set(EFFECTS) == set(effect_kinds())
    assert set(spec_keywords()) == {k for k, cls in EFFECTS.items() if cls.keyword}
    for kind, cls in EFFECTS.items():
        assert issubclass(cls, Effect) and cls.kind == kind and cls.needs in NEEDS and cls.spec_help
        made = cls.background if cls.composites else cls.picture
        assert made is not getattr(Effect, made.__name__), f"{kind}: implements neither background nor picture"
        assert not (cls.rgba and cls.composites), f"{kind}: the composite is RGB"


@pytest.mark.parametrize("spec", [s for specs in TWIN_SPECS.values() for s in specs])
def test_numpy_and_torch_engines_agree(scenes, files, spec):
    """Each effect on the numpy engine and on the torch engine (CPU), on real frames and mattes."""
    spec = spec.format(**files)
    kind = parse_effect(spec).kind
    stages = make_effect(spec), make_effect(spec, engine=torch_engine("cpu"))
    assert stages[0].engine.name == "numpy" and stages[1].engine.name == "torch" and stages[1].kind == kind
    for image, alpha in scenes:
        want, got = (s.apply(image, alpha) for s in stages)
        assert got.shape == want.shape == (*image.shape[:2], 4 if stages[0].alpha else 3) and got.dtype == np.uint8
        diff = np.abs(got.astype(int) - want).reshape(-1, want.shape[2])
        assert diff.max() <= TWIN_MAX and diff.mean(axis=0).max() <= TWIN_MEAN, (spec, diff.max(), diff.mean(axis=0))
        if kind == "blur":  # a real blur: the background moved away from the frame
            assert np.abs(want.astype(int) - image)[alpha < 0.01].mean() > 2


def test_torch_stage_reuses_the_matters_upload_and_downloads_once(scene):
    import torch

    image, alpha = scene[:2]
    engine = torch_engine("cpu")
    image_e = engine.image(image)  # what the matter does with the frame
    frozen = alpha.copy()
    frozen.flags.writeable = False  # the smoother's past is read-only
    stage = make_effect("blur", engine=engine)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch warns on a read-only numpy array
        out = stage.apply(image, frozen)
    assert engine.transfer.uploads == 1 and engine.transfer.downloads == 1
    with engine.inference():
        on_engine = stage.apply_engine(image_e, torch.from_numpy(alpha.copy()))
    assert isinstance(on_engine, torch.Tensor) and np.array_equal(on_engine.numpy(), out)
    make_effect("matte", engine=engine).apply(np.zeros_like(image), alpha)  # alpha only: the frame stays put
    assert engine.transfer.uploads == 1 and Matte.needs == ALPHA


def test_stage_contract_on_the_numpy_engine(scene):
    image, alpha = scene[:2]
    stage = make_effect("#202124", engine=numpy_engine(), reuse_output=True)
    assert (stage.kind, stage.alpha, stage.engine.name) == ("replace", False, "numpy")
    first = stage.apply(image, alpha)
    assert np.array_equal(stage.apply(image, alpha), first) and first is not stage.apply(image, alpha)
    stage.reset()
