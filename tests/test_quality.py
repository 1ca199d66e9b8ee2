"""Matte quality stages: guided refinement, motion-aware smoothing, scene cuts, the subject ROI.

Most tests drive the stages with synthetic pictures and, where the test is about the matter's own
logic, a tiny segmenter (bright pixels are the "person"); one test runs the real model on a real frame.
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from livematte.config import Config, QualityConfig
from livematte.engine import NUMPY
from livematte.matter import Matter, build_matter
from livematte.stages.attach import add_attached
from livematte.stages.pyramid import Pyramid
from livematte.stages.refine import GuidedRefiner
from livematte.stages.temporal import MotionSmoother, SceneCutDetector
from livematte.subject.attached import GRID, AttachedObjects
from livematte.subject.blobs import components, outside_crop, person_blobs
from livematte.subject.geometry import plan_tiles
from livematte.subject.tracker import RoiTracker
from livematte.types import Frame, LivematteError


def upsample_region(prob, size):
    return NUMPY.resize_linear(prob, size)


class BrightSegmenter:
    """A stand-in model: red channel above 128 is a person with probability ``level``."""

    name = "bright"

    def __init__(self, size=(64, 64), level=1.0):
        self.input_size = size
        self.level = level
        self.calls = []  # model inputs seen, uint8 (h, w, 3)

    def predict_model_input(self, x):
        self.calls.append(x)
        return (x[..., 0].astype(np.float32) / 255 > 0.5).astype(np.float32) * self.level

    def predict(self, image):
        h, w = self.input_size
        return self.predict_model_input(cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA))

    def reset(self):
        pass


def quality(**kw) -> Config:
    """A config with these ``[quality]`` values; the models run on every frame unless ``model_every``
    is given (these tests count model runs and follow frame by frame on still synthetic pictures)."""
    cfg = Config()
    cfg.quality.model_every = 1
    for k, v in kw.items():
        setattr(cfg.quality, k, v)
    return cfg


def scene(hw=(360, 640), rect=None, value=255, bg=30):
    """RGB frame with a bright rectangle ``rect`` = (x0, y0, x1, y1) on a dark background."""
    img = np.full((*hw, 3), bg, np.uint8)
    if rect is not None:
        x0, y0, x1, y1 = rect
        img[y0:y1, x0:x1] = value
    return img


def iou(a, b):
    return (a & b).sum() / max((a | b).sum(), 1)


# ----------------------------------------------------------------------------- refinement


def test_guided_refinement_puts_a_blurry_edge_on_the_picture_edge():
    H, W = 240, 240
    grey = np.zeros((H, W), np.uint8)
    grey[:, 100:] = 200  # the true edge: x = 100
    lo = cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA)
    prob = np.zeros((32, 32), np.float32)
    prob[:, 14:] = 1.0  # the model's edge is one grid cell (7.5 px) off, at x = 105
    prob = cv2.GaussianBlur(prob, (0, 0), 1.5)  # and blurred over several cells
    row_plain = upsample_region(prob, (H, W))[H // 2]
    row_guided = np.clip(GuidedRefiner(NUMPY, radius=2, eps=1e-3)(lo, prob, grey), 0, 1)[H // 2]
    cross = lambda r: int(np.argmax(r >= 0.5))  # noqa: E731 first pixel at or above one half
    assert abs(cross(row_plain) - 100) >= 4  # bilinear upsampling keeps the model's error
    assert abs(cross(row_guided) - 100) <= 1  # the guided filter snaps it to the picture
    # the edge is a step at the picture's edge, not a ramp over several model cells
    assert row_guided[100] - row_guided[99] > 0.5
    assert np.abs(np.diff(row_plain)).max() < 0.05


# ----------------------------------------------------------------------------- temporal


def test_motion_smoothing_removes_flicker_on_a_still_scene():
    rng = np.random.default_rng(0)
    grey = np.full((72, 128), 90, np.uint8)
    truth = np.zeros((144, 256), np.float32)
    truth[40:100, 80:180] = 1
    sm = MotionSmoother(NUMPY, strength=0.7, noise=8.0)
    raw, out = [], []
    for _ in range(30):
        noisy = np.clip(truth + rng.normal(0, 0.15, truth.shape).astype(np.float32), 0, 1)
        raw.append(noisy)
        out.append(sm(noisy.copy(), grey + rng.integers(0, 2, grey.shape, dtype=np.uint8)))  # sensor noise
    flicker = lambda seq: np.mean([np.abs(b - a).mean() for a, b in zip(seq[10:], seq[11:])])  # noqa: E731
    assert flicker(out) < 0.5 * flicker(raw)


@pytest.mark.parametrize("mode", ["motion", "ema"])
def test_a_moving_square_is_followed_without_trailing(mode):
    """Motion-aware smoothing leaves no ghost behind a square moving 12 px per frame; a plain EMA does."""
    sm = MotionSmoother(NUMPY, strength=0.7, noise=8.0, mode=mode)
    H, W, step = 180, 320, 12
    for t in range(12):
        x = 20 + step * t
        img = np.full((H, W), 40, np.uint8)
        img[60:120, x : x + 60] = 220
        truth = np.zeros((H, W), np.float32)
        truth[60:120, x : x + 60] = 1
        out = sm(truth.copy(), cv2.resize(img, (W // 2, H // 2), interpolation=cv2.INTER_AREA))
    lag = np.count_nonzero((out[90] >= 0.5) != (truth[90] >= 0.5))  # wrong pixels along the middle row
    if mode == "motion":
        assert lag <= 2
    else:
        assert lag >= step  # the plain average trails a whole step behind


def test_scene_cut_detector_flags_a_cut_but_not_a_small_change():
    det = SceneCutDetector()
    a = np.zeros((90, 160, 3), np.uint8)
    a[..., 0] = 180
    a2 = a.copy()
    a2[10:30, 10:40] = 60  # a small object enters
    b = np.zeros((90, 160, 3), np.uint8)
    b[..., 1] = 92  # a green scene of about the same brightness
    assert det(NUMPY.histogram(a)) is False
    assert det(NUMPY.histogram(a2)) is False
    assert det(NUMPY.histogram(b)) is True
    det.reset()
    assert det(a) is False


def test_matter_resets_smoothing_on_a_scene_cut():
    """Red and green scenes of equal brightness: without the cut the past would bleed into the new scene."""
    red = np.zeros((120, 160, 3), np.uint8)
    red[..., 0] = 255  # the stand-in model sees a person everywhere
    green = np.zeros((120, 160, 3), np.uint8)
    green[..., 1] = 130  # same grey level (0.299 * 255 ~ 0.587 * 130): no "motion"
    assert abs(int(cv2.cvtColor(red, cv2.COLOR_RGB2GRAY)[0, 0]) - int(cv2.cvtColor(green, cv2.COLOR_RGB2GRAY)[0, 0])) <= 2
    m = Matter(BrightSegmenter(), quality(roi=False, refine="none", smoothing=0.9))
    for i in range(5):
        assert m(Frame(red, i)).min() > 0.99
    assert m(Frame(green, 5)).max() < 0.01  # reset: no 0.9 x the old alpha


# ----------------------------------------------------------------------------- ROI


def test_roi_tracker_follows_leaves_and_reacquires():
    tr = RoiTracker(confirm=2, patience=2)
    hw = (360, 640)
    assert tr.update(None, hw) is None
    assert tr.update((100, 100, 140, 200), hw) is None  # one sighting is not enough
    box = tr.update((104, 100, 144, 200), hw)
    assert box is not None and box[0] <= 104 and box[2] >= 144
    for _ in range(3):
        tr.update(None, hw)
    assert tr.update(None, hw) is None and not tr.active  # gone after `patience` frames
    tr.update((500, 150, 540, 250), hw)
    box = tr.update((500, 150, 540, 250), hw)
    assert box is not None and box[0] <= 500 and box[2] >= 540  # found again where it came back


def test_matter_crops_a_small_person_and_recovers_after_it_leaves():
    seg = BrightSegmenter(size=(64, 64))
    m = Matter(seg, quality(temporal="none", refine="none"))  # resolution alone, no edge snapping
    person = (103, 123, 121, 185)  # 18 x 62 px in a 640 x 360 frame: ~2 x 11 model cells
    for i in range(3):
        alpha = m(Frame(scene(rect=person), i))
    assert m.last_crop is not None
    x0, y0, x1, y1 = m.last_crop
    assert x0 <= person[0] and y0 <= person[1] and x1 >= person[2] and y1 >= person[3]
    assert (x1 - x0) * (y1 - y0) < 0.1 * 640 * 360  # much smaller than the frame: higher resolution
    truth = scene(rect=person)[..., 0] > 128
    crop_iou = iou(alpha >= 0.5, truth)
    plain = Matter(BrightSegmenter(size=(64, 64)), quality(temporal="none", refine="none", roi=False))
    plain_iou = iou(plain(Frame(scene(rect=person), 0)) >= 0.5, truth)
    assert crop_iou > 0.9 > plain_iou + 0.1

    for i in range(3, 8):  # the person leaves
        alpha = m(Frame(scene(), i))
    assert m.last_crop is None and alpha.max() < 0.5
    back = (480, 100, 510, 180)
    for i in range(8, 11):  # and comes back elsewhere
        alpha = m(Frame(scene(rect=back), i))
    assert m.last_crop is not None and m.last_crop[0] <= back[0] and m.last_crop[2] >= back[2]
    assert iou(alpha >= 0.5, scene(rect=back)[..., 0] > 128) > 0.9


def test_an_empty_scene_gets_no_roi_and_no_invented_person():
    m = Matter(BrightSegmenter(), quality())
    for i in range(6):
        alpha = m(Frame(scene(), i))
        assert m.last_crop is None
    assert alpha.max() < 0.05
    # a lukewarm look-alike (the model is never confident about it) is not a person either
    m = Matter(BrightSegmenter(level=0.7), quality())
    for i in range(6):
        alpha = m(Frame(scene(rect=(200, 100, 300, 200)), i))
        assert m.last_crop is None
    assert (alpha >= 0.5).mean() == 0


def test_person_blobs_keep_confident_blobs_and_flag_lukewarm_ones():
    p = np.zeros((64, 64), np.float32)
    p[10:40, 5:15] = 0.95  # a person
    p[20:50, 40:50] = 0.97  # another person
    p[55:60, 20:25] = 0.6  # a lukewarm blob
    box, doubtful = person_blobs(p)
    assert box == (5.0, 10.0, 50.0, 50.0)
    assert doubtful[57, 22] and not doubtful[20, 10] and doubtful.sum() == 25


def test_pyramid_resize_averages_instead_of_aliasing():
    img = np.zeros((720, 1280, 3), np.uint8)
    img[:, ::2] = 255  # one-pixel stripes: any point sampling lands on one colour
    x = Pyramid(NUMPY, img).resize((0, 0, 1280, 720), (256, 256))
    assert x.shape == (256, 256, 3)
    assert abs(float(x.mean()) - 127.5) < 3 and float(x.std()) < 3


def test_quality_config_rejects_bad_values():
    with pytest.raises(LivematteError, match="refine"):
        QualityConfig(refine="sharp").validate()
    with pytest.raises(LivematteError, match="smoothing"):
        Matter(BrightSegmenter(), quality(smoothing=1.5))


# ----------------------------------------------------------------------------- real model


def test_real_model_on_a_real_frame():
    pytest.importorskip("mediapipe")
    from tests.helpers import sample_frame

    image = sample_frame(30)
    m = build_matter(Config())
    for i in range(3):
        alpha = m(Frame(image, i))
    assert alpha.shape == image.shape[:2] and alpha.dtype == np.float32
    assert 0.0 <= alpha.min() and alpha.max() <= 1.0
    assert m.last_crop is not None  # a person in view: the crop pass runs
    fg = alpha >= 0.5
    assert 0.03 < fg.mean() < 0.8
    x0, y0, x1, y1 = m.last_crop
    inside = fg[y0:y1, x0:x1].sum() / fg.sum()
    assert inside > 0.95  # the crop holds the person
    m.reset()
    assert m.last_crop is None


def test_guided_refinement_leaves_no_glow_on_a_flat_background():
    # a person (bright) on a flat background: the model's edge is sharp on its grid; away from the
    # edge the alpha must be the model's 0, not a box blur of the person (the soft halo)
    lo = np.full((64, 64), 120, np.uint8)
    prob = np.zeros((64, 64), np.float32)
    prob[:, :32] = 1.0
    lo[:, :32] = np.random.default_rng(0).integers(0, 255, (64, 32))  # a textured person
    hi = cv2.resize(lo, (256, 256), interpolation=cv2.INTER_NEAREST)
    out = np.clip(GuidedRefiner(NUMPY, radius=2, eps=1e-3)(lo, prob, hi), 0, 1)
    classic = np.clip(GuidedRefiner(NUMPY, radius=2, eps=1e-3, keep=0.0)(lo, prob, hi), 0, 1)
    band = slice(32 * 4 + 6, 32 * 4 + 24)  # 1.5 to 6 model cells outside the person
    assert out[:, band].max() < 0.02
    assert classic[:, band].max() > 0.1  # the window-mean offset glows there


def test_smoothing_leaves_no_ghost_where_the_picture_shows_no_motion():
    # the person leaves but the picture does not change there (same brightness): alpha goes 1 -> 0
    sm = MotionSmoother(NUMPY, strength=0.7, noise=8.0)
    grey = np.full((18, 32), 100, np.uint8)
    sm(np.ones((72, 128), np.float32), grey)
    out = sm(np.zeros((72, 128), np.float32), grey)
    assert out.max() < 0.05
    # while a small flicker on a still picture is still averaged
    sm.reset()
    sm(np.full((72, 128), 0.5, np.float32), grey)
    out = sm(np.full((72, 128), 0.6, np.float32), grey)
    assert 0.53 < float(out.mean()) < 0.58


def test_plan_tiles_splits_tall_and_wide_boxes_into_overlapping_squares():
    frame = (720, 1280)
    assert plan_tiles((600, 300, 700, 400), frame) == [(600, 300, 700, 400)]  # square: one tile
    for box in [(600, 100, 700, 600), (100, 300, 900, 500)]:  # tall, wide
        tiles = plan_tiles(box, frame)
        assert len(tiles) == 2
        for x0, y0, x1, y1 in tiles:
            assert x1 - x0 == y1 - y0 and 0 <= x0 and 0 <= y0 and x1 <= 1280 and y1 <= 720
        (a0, b0, a1, b1), (c0, d0, c1, d1) = tiles
        ux0, uy0, ux1, uy1 = min(a0, c0), min(b0, d0), max(a1, c1), max(b1, d1)
        assert ux0 <= box[0] and uy0 <= box[1] and ux1 >= box[2] and uy1 >= box[3]  # covered
        long_side = max(box[2] - box[0], box[3] - box[1])
        overlap = (b1 - d0) if a0 == c0 else (a1 - c0)
        assert 0.2 * long_side < overlap < 0.9 * long_side


def test_a_standing_person_is_segmented_as_two_tiles_at_higher_resolution():
    person = (300, 40, 330, 330)  # 30 x 290 px in 640 x 360: thin and tall
    truth = scene(rect=person)[..., 0] > 128
    results = {}
    for tiles in (True, False):
        seg = BrightSegmenter(size=(64, 64))
        m = Matter(seg, quality(temporal="none", refine="none", roi_tiles=tiles, ensemble=False, search_every=1))
        for i in range(3):
            seg.calls.clear()
            alpha = m(Frame(scene(rect=person), i))
        results[tiles] = (len(seg.calls), iou(alpha >= 0.5, truth), alpha)
    assert results[True][0] == 3 and results[False][0] == 2  # full frame + two tiles vs + one crop
    assert results[True][1] > 0.85 and results[False][1] > 0.85
    # no seam: across the tiles' overlap the person's alpha stays solid, the background clear
    a = results[True][2]
    assert a[45:325, 305:325].min() > 0.9 and a[:, :280].max() < 0.1 and a[:, 350:].max() < 0.1


def _moving_scene(t, obj_moves):
    """Grey 144x256 textured background; a textured person (cols 100..130) moving 3 px/frame and an
    object beside it (cols 130..170, rows 90..130) that moves with it or stays put."""
    rng = np.random.default_rng(0)
    bg = cv2.GaussianBlur(rng.integers(0, 255, (144, 256)).astype(np.uint8), (5, 5), 0)
    tex = cv2.GaussianBlur(rng.integers(0, 255, (144, 256)).astype(np.uint8), (5, 5), 0)
    img, alpha, prob = bg.copy(), np.zeros((144, 256), np.float32), np.zeros((144, 256), np.float32)
    dx = 3 * t
    img[20:140, 100 + dx:130 + dx] = tex[20:140, 100:130]
    alpha[20:140, 100 + dx:130 + dx] = 1
    ox = dx if obj_moves else 0
    img[90:130, 130 + ox:170 + ox] = tex[90:130, 130:170] if obj_moves else bg[90:130, 130:170]
    prob[20:140, 100 + dx:130 + dx] = 1
    prob[90:130, 130 + dx:170 + ox if obj_moves else 170] = 0.8  # full-frame model: object looks like person
    return img, alpha, prob


def _attach(att, alpha, prob, img):
    """The attach decision on the host and the stage that adds the regions (numpy engine)."""
    grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY) if img.ndim == 3 else img
    add = att.decide(NUMPY.sample_nearest(alpha, GRID), prob, grey)
    return alpha if add is None else add_attached(NUMPY, alpha, prob, add)


def test_attached_objects_adds_what_moves_with_the_person_not_the_background():
    for moves in (True, False):
        att = AttachedObjects()
        for t in range(5):
            img, alpha, prob = _moving_scene(t, moves)
            out = _attach(att, alpha, prob, img)
        obj = out[95:125, 152:170] if moves else out[95:125, 148:168]
        if moves:
            assert obj.mean() > 0.7 and att.last_added > 0
        else:
            assert obj.max() == 0 and att.last_added == 0
        assert np.array_equal(out[alpha > 0], alpha[alpha > 0])  # the person itself is untouched


# ----------------------------------------------------------------------------- revision 3


def test_a_faint_ghost_where_the_model_is_now_certain_is_dropped_at_once():
    # a thin, faint leftover (alpha 0.15, as along a pole the person just left) on a still picture
    grey = np.full((18, 32), 100, np.uint8)
    before = np.zeros((72, 128), np.float32)
    before[:, 60:64] = 0.15
    now = np.zeros((72, 128), np.float32)
    plain = MotionSmoother(NUMPY, strength=0.7, noise=8.0, sure=0.0)
    sure = MotionSmoother(NUMPY, strength=0.7, noise=8.0, sure=0.1)
    for sm in (plain, sure):
        sm(before, grey)
    assert plain(now.copy(), grey).max() > 0.05  # the old smoother lets it fade over frames
    assert sure(now.copy(), grey).max() == 0.0  # the new alpha is a certain 0: taken as it is
    # flicker at an uncertain edge (alpha near 0.5) is still averaged
    sure.reset()
    sure(np.full((72, 128), 0.45, np.float32), grey)
    out = sure(np.full((72, 128), 0.6, np.float32), grey)
    assert 0.48 < float(out.mean()) < 0.56


def test_the_crop_opens_on_the_first_frame_of_a_shot_and_later_after_roi_confirm_frames():
    person = (103, 123, 121, 185)
    for confirm in (1, 2):
        m = Matter(BrightSegmenter(size=(64, 64)), quality(temporal="none", refine="none", roi_confirm=confirm))
        m(Frame(scene(rect=person), 0))
        assert m.last_crop is not None  # a shot's first frame: at once
        m.reset()
        m(Frame(scene(), 0))  # an empty first frame, then a person appears
        m(Frame(scene(rect=person), 1))
        assert (m.last_crop is not None) == (confirm == 1)
        m(Frame(scene(rect=person), 2))
        assert m.last_crop is not None


def test_foreground_away_from_the_crop_is_dropped_but_what_reaches_into_it_stays():
    prob = np.zeros((64, 64), np.float32)
    prob[20:40, 20:30] = 1.0  # the person, inside the crop
    prob[30:34, 30:45] = 0.8  # an arm / object reaching out of the crop
    prob[5:8, 55:60] = 0.7  # a speck far away
    prob[50:60, 50:60] = 0.3  # lukewarm haze far away
    crop = (180, 180, 300, 360)  # frame pixels of a 640x640 frame: grid cells 18..30 x 18..36
    out = outside_crop(prob, crop, (640, 640))
    assert np.array_equal(outside_crop(prob, crop, (640, 640), labels=components(prob).labels), out)  # the planner's blobs
    assert out[6, 57] and out[55, 55]  # speck and haze dropped
    assert not out[25, 25] and not out[32, 44]  # the person and what reaches out of the crop stay
    m = Matter(BrightSegmenter(size=(64, 64)), quality(temporal="none", refine="none"))
    frame = scene(rect=(103, 123, 121, 185))
    frame[20:26, 560:566] = 255  # a small bright speck far away: a confident blob, too small for the box
    alpha = m(Frame(frame, 0))
    assert m.last_crop is not None and alpha[20:26, 560:566].max() == 0.0
    keep = Matter(BrightSegmenter(size=(64, 64)), quality(temporal="none", refine="none", roi_outside="keep"))
    assert keep(Frame(frame, 0))[20:26, 560:566].max() > 0.5


def test_new_quality_options_are_checked():
    with pytest.raises(LivematteError, match="roi_outside"):
        QualityConfig(roi_outside="maybe").validate()
    with pytest.raises(LivematteError, match="temporal_sure"):
        QualityConfig(temporal_sure=0.5).validate()
    with pytest.raises(LivematteError, match="roi_confirm"):
        QualityConfig(roi_confirm=0).validate()


# ----------------------------------------------------------------------------- revision 4 (speed)


def test_smoothing_over_the_band_equals_the_whole_frame_formula():
    """MotionSmoother works only where the past's weight is >= 1e-3; the result must equal
    ``alpha + w * (past - alpha)`` with the weight upsampled over the whole frame."""
    H, W, h, w = 720, 1280, 180, 320
    yy, xx = np.mgrid[0:H, 0:W]
    grey = np.full((h, w), 90, np.uint8)
    grey[60:120, 100:180] = 160  # a still person-shaped patch on the small grid
    past = np.clip((300 - np.hypot(yy - 360, xx - 560)) / 40, 0, 1).astype(np.float32)  # soft disc
    now = np.clip((300 - np.hypot(yy - 360, xx - 568)) / 40, 0, 1).astype(np.float32)  # moved 8 px
    sm = MotionSmoother(NUMPY, strength=0.7, noise=8.0, sure=0.1)
    sm(past.copy(), grey)
    out = sm(now.copy(), grey)

    def sample(a):
        return cv2.resize(a, (w, h), interpolation=cv2.INTER_NEAREST)
    k = max(3, (min(h, w) // 32) | 1)
    wt = 0.7 * np.exp(-cv2.blur(np.zeros((h, w), np.float32), (k, k)) / 8.0)
    wt *= np.exp(-cv2.blur(np.abs(sample(past) - sample(now)), (3, 3)) / 0.3)
    c = np.minimum(sample(now) * (1 - sample(now)) / (0.1 * 0.9), 1.0)
    wt *= cv2.dilate(c, np.ones((3, 3), np.uint8))
    ref = now + cv2.resize(wt.astype(np.float32), (W, H), interpolation=cv2.INTER_LINEAR) * (past - now)
    assert np.abs(out - ref).max() < 2e-3
    assert np.abs(out - now).max() > 0.05  # it did smooth somewhere


def test_the_partner_model_runs_only_while_searching():
    """ensemble_tracking = false: once a crop holds the person, the landscape model stops running."""
    from .helpers import sample_frame

    calls = []
    m = build_matter(Config())
    run = m.partner.backend.predict_model_input
    m.partner.backend.predict_model_input = lambda x: calls.append(1) or run(x)
    crops = []
    for i in range(4):
        n = len(calls)
        m(Frame(image=sample_frame(40 + i), index=i))
        crops.append((m.last_crop is not None, len(calls) - n))
    assert crops[0] == (True, 1)  # searching on the first frame: both models; the crop opens at once
    assert all(c == (True, 0) for c in crops[1:])  # tracking: the general model alone
    cfg = Config()
    cfg.quality.ensemble_tracking = True
    cfg.quality.search_every = 1  # every frame searched (the sample is still: the pass would be left out)
    m2 = build_matter(cfg)
    run2 = m2.partner.backend.predict_model_input
    m2.partner.backend.predict_model_input = lambda x: calls.append(2) or run2(x)
    for i in range(3):
        m2(Frame(image=sample_frame(40 + i), index=i))
    assert calls.count(2) == 3


def test_while_idle_the_search_pass_runs_the_cheaper_model_alone():
    """Nobody in view (the bundled models on a changing empty picture): once the matter idles, its
    search passes run selfie-landscape (144x256) alone, not the general model (256x256)."""
    calls = []
    m = build_matter(Config())
    for name, runner in (("general", m.runner), ("landscape", m.partner)):
        run = runner.backend.predict_model_input
        runner.backend.predict_model_input = lambda x, name=name, run=run: calls.append(name) or run(x)
    rng = np.random.default_rng(5)
    idle = []
    for i in range(12):
        n = len(calls)
        state = m.front(Frame(image=rng.integers(0, 255, (180, 320, 3), dtype=np.uint8), index=i))
        m.back(state)
        idle.append((m.schedule.idle, tuple(calls[n:])))
    assert idle[0] == (False, ("general", "landscape"))  # searching: both
    later = [c for was, c in idle[6:] if was]
    assert later and all(c in ((), ("landscape",)) for c in later) and ("landscape",) in later, idle


# ----------------------------------------------------------------------------- the search pass on still frames
def test_the_search_pass_is_left_out_while_nothing_outside_the_person_changes():
    """A still scene: after the second frame the full-frame pass runs every ``search_every``th
    frame only, and the matte is the one of a search on every frame. A change outside the person
    runs it again on the next frame; a scene cut on a frame that left it out runs it at once."""
    person, other = (280, 80, 360, 330), (60, 60, 140, 300)
    shot1 = scene(rect=person)
    moved = shot1.copy()
    moved[280:350, 500:600] = 90  # something changes far from the person (not person-bright)
    shot2 = scene(rect=other, bg=110)  # another shot, the person elsewhere
    frames = [shot1] * 7 + [moved] * 3 + [shot2] * 4
    runs = {}
    for every in (1, 4):
        seg = BrightSegmenter(size=(64, 64))
        m = Matter(seg, quality(roi_tiles=False, ensemble=False, search_every=every))
        calls, alphas, cuts = [], [], []
        for i, img in enumerate(frames):
            seg.calls.clear()
            state = m.front(Frame(img, i))
            cuts.append(state.cut)
            alphas.append(m.back(state))
            calls.append(len(seg.calls))
        runs[every] = calls, alphas, cuts
    assert runs[1][0] == [2] * len(frames)  # the search pass and the crop on every frame
    # S S - - - S - | change seen on frame 7 | S - | the cut on 10: searched at once | S - -
    assert runs[4][0] == [2, 2, 1, 1, 1, 2, 1, 1, 2, 1, 2, 2, 1, 1]
    assert runs[4][2][10] and runs[1][2][10]
    for a, b in zip(runs[1][1], runs[4][1]):  # each scene is still: its search pass would find the same
        assert np.array_equal(a, b)
    assert runs[4][1][10][150:250, 80:120].min() > 0.9 and runs[4][1][10][:, 280:360].max() < 0.1


def test_still_outside_ignores_the_person_and_counts_the_rest():
    from livematte.subject.planner import still_outside

    ref = np.full((90, 160), 60, np.uint8)
    now = ref.copy()
    now[20:70, 70:90] = 200  # the person moved inside their own box
    assert still_outside(now, ref, (280, 80, 360, 280), (360, 640))
    now[0:10, 0:10] = 200  # 100 changed pixels far from them: more than STILL_SHARE
    assert not still_outside(now, ref, (280, 80, 360, 280), (360, 640))
    assert still_outside(ref + 20, ref, (0, 0, 10, 10), (360, 640))  # below STILL_LEVEL: noise
    drift = ref.copy()
    drift[:, 5] = drift[40, :] = 200  # a camera's drift lights up thin lines along edges: still
    assert still_outside(drift, ref, (280, 80, 360, 280), (360, 640))


def test_the_search_pass_comes_back_when_the_crop_pass_sees_the_person_move():
    """The thumbnail test leaves the person's own box out: the crop pass's box of the person (kept
    at each search pass) moving by more than STILL_GROW of the frame brings the search back."""
    from livematte.subject.schedule import STILL_GROW, FrontSchedule, tile_person_box

    hw, crop, found = (360, 640), (200, 40, 440, 360), (240, 80, 400, 360)
    thumb = np.full((90, 160), 60, np.uint8)
    prob = np.zeros((64, 64), np.float32)
    prob[8:64, 11:53] = 1.0
    box = tile_person_box([(crop, prob)])
    assert box == pytest.approx((241.25, 80.0, 398.75, 360.0))  # 3.75 x 5 frame pixels a cell
    s = FrontSchedule(QualityConfig(search_every=8))
    s.planned(crop, found, False, 1.0, thumb, True, hw)
    s.crop_seen(box, True, hw)
    states = []
    for dx in (0, 3, 4, 12):  # frame pixels the person moved since the search pass
        states.append(not s.search_now(crop))
        s.planned(crop, found, False, 1.0, thumb, False, hw)
        s.crop_seen((box[0] + dx, box[1], box[2] + dx, box[3]), False, hw)
    assert STILL_GROW * 360 == pytest.approx(7.2)
    # the frame after the first search pass has no earlier one to compare with: searched; then left
    # out while the person moves by 3, 4 px; 12 > 7.2 px: searched on the next frame
    assert states == [False, True, True, True] and s.search_now(crop)
    s.crop_seen(None, False, hw)  # the crop pass lost the person: search
    assert s.search_now(crop)


def test_a_frame_that_reuses_the_models_counts_as_one_without_the_search_pass():
    """``model_every``: a reused frame counts towards ``search_every``, and the camera guard of the
    frame after it compares with it (frame to frame), not with the frame before it."""
    from livematte.subject.schedule import FrontSchedule

    hw, crop, found = (360, 640), (200, 40, 440, 360), (240, 80, 400, 360)

    def thumb(k):  # thin lines outside the person brightening by 15 levels a frame (a slow drift)
        t = np.full((90, 160), 60, np.uint8)
        t[:, ::8] = 60 + 15 * k
        return t

    s = FrontSchedule(QualityConfig(search_every=4, model_every=2))
    for _ in range(2):
        s.planned(crop, found, False, 1.0, thumb(0), True, hw)
    assert not s.search_now(crop)
    s.reused(thumb(1))
    assert not s.search_now(crop)
    s.planned(crop, found, False, 1.0, thumb(2), False, hw)  # 15 levels since frame 1, 30 since the search
    assert not s.search_now(crop)  # still: frame 3 may leave it out
    s.reused(thumb(3))
    assert s.search_now(crop)  # frames 1, 2, 3 without it: the 4th searches


def test_idle_with_nobody_in_view_and_back_within_two_frames():
    """Nobody for IDLE_AFTER frames: an empty matte, and on this still picture no search pass at all
    (:data:`~livematte.subject.schedule.IDLE_STILL_EVERY`); a person walking in changes the picture,
    so the next frame searches and finds them (with a moving picture, the next search pass: every
    ``idle_every``th frame)."""
    from livematte.subject.planner import IDLE_AFTER

    empty, person = scene(), scene(rect=(280, 80, 360, 330))
    frames = [empty] * 9 + [person] * 4
    seg = BrightSegmenter(size=(64, 64))
    m = Matter(seg, quality(roi_tiles=False, ensemble=False))
    calls, alphas, idle = [], [], []
    for i, img in enumerate(frames):
        seg.calls.clear()
        state = m.front(Frame(img, i))
        alphas.append(m.back(state))
        calls.append(len(seg.calls))
        idle.append(state.idle)
    assert IDLE_AFTER == 5 and idle == [False] * 4 + [True] * 6 + [False] * 3
    assert calls[:10] == [1] * 5 + [0] * 5  # idle from frame 4, the picture still: no search pass
    assert calls[10:] == [1, 2, 1]  # found on frame 10 (full frame), the crop from 11, then still: no search
    assert all(float(a.max()) == 0.0 for a in alphas[4:10])  # frame 9 shows the person: frame 10 searches
    assert alphas[10][100:300, 290:350].min() > 0.9 and alphas[12][100:300, 290:350].min() > 0.9
    m2 = Matter(BrightSegmenter(size=(64, 64)), quality(roi_tiles=False, ensemble=False, idle_every=1))
    assert not any(m2.front(Frame(img, i)).idle for i, img in enumerate(frames))
