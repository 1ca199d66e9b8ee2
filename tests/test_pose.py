"""The pose model's person mask (``--quality high``): the bundled model, its place in the crop pass."""
from __future__ import annotations

import glob
import os

import cv2
import numpy as np
import pytest

from livematte.config import Config
from livematte.matter import Matter, build_matter
from livematte.subject.geometry import plan_tiles
from livematte.subject.schedule import SHEDS, Shed
from livematte.types import Frame, LivematteError

from .helpers import SHARED, read_rgb
from .test_quality import BrightSegmenter, iou, quality, scene

pytest.importorskip("mediapipe")


class ConstantPose:
    """A stand-in pose model: probability ``level`` everywhere; records its inputs."""

    input_size = (32, 32)

    def __init__(self, level=1.0):
        self.level, self.calls = level, []

    def predict_model_input(self, x):
        self.calls.append(x)
        return np.full(x.shape[:2], self.level, np.float32)


DAVIS = os.path.join(SHARED, "davis2016")


def _davis(seq, indices):
    frames = sorted(glob.glob(os.path.join(DAVIS, seq, "frames", "*.jpg")))
    if not frames:
        pytest.skip("the shared DAVIS evaluation data is not here")
    out = []
    for i in indices:
        gt = cv2.imread(frames[i].replace("frames", "gt").replace(".jpg", ".png"), cv2.IMREAD_GRAYSCALE)
        out.append((read_rgb(frames[i]), gt > 127))
    return out


def test_the_pose_pass_brings_back_the_limbs_the_selfie_model_misses():
    """Real frames with human-drawn masks: a breakdancer's raised leg (the selfie model, trained on
    upper bodies, drops it), and a hiker, where it must not hurt."""
    for seq, indices, gain in (("breakdance-flare", range(18, 26), 0.03), ("hike", range(30, 36), -0.01)):
        data = _davis(seq, indices)
        scores = {}
        for pose in (True, False):
            cfg = Config()
            cfg.quality.pose = pose
            m = build_matter(cfg)
            ious = [iou(m(Frame(img, k)) >= 0.5, gt) for k, (img, gt) in enumerate(data)]
            scores[pose] = float(np.mean(ious[2:]))  # after the crop has settled
        assert scores[True] > scores[False] + gain, (seq, scores)
    assert scores[True] > 0.85  # hike


def test_a_close_up_is_left_to_the_selfie_model():
    """The shipped sample (head and shoulders, cut by the frame's bottom edge): identical with and
    without the pose pass, which is poor on such shots and does not run there."""
    from .helpers import sample_frame

    alphas = []
    for pose in (True, False):
        cfg = Config()
        cfg.quality.pose = pose
        m = build_matter(cfg)
        alphas.append([m(Frame(sample_frame(30 + k), k)) for k in range(3)])
    assert m.last_crop is not None
    for a, b in zip(*alphas):
        assert np.array_equal(a, b)


def test_the_bundled_pose_model_finds_a_whole_body():
    from livematte.engine import NUMPY
    from livematte.models.pose import PoseMask
    from livematte.stages.pyramid import Pyramid

    (img, gt), = _davis("hike", [40])
    H, W = img.shape[:2]
    ys, xs = np.nonzero(gt)
    square = plan_tiles((int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1), (H, W),
                        split=float("inf"))[0]
    prob = PoseMask().predict_model_input(Pyramid(NUMPY, img).resize(square, (256, 256)))
    assert prob.shape == (256, 256) and prob.dtype == np.float32 and 0 <= prob.min() and prob.max() <= 1
    x0, y0, x1, y1 = square
    truth = cv2.resize(gt[y0:y1, x0:x1].astype(np.uint8), (256, 256), interpolation=cv2.INTER_NEAREST) > 0
    assert iou(prob >= 0.5, truth) > 0.8


def test_the_pose_pass_runs_only_with_a_crop_and_is_averaged_into_it():
    person = (280, 100, 360, 260)
    pose = ConstantPose(level=0.0)
    seg = BrightSegmenter(size=(64, 64))
    m = Matter(seg, quality(temporal="none", refine="none", ensemble=False, pose=True, solid=False), pose=pose)
    for i in range(2):  # an empty scene: no crop, the pose model never runs
        m(Frame(scene(), i))
    assert pose.calls == []
    m.reset()
    alpha = m(Frame(scene(rect=person), 0))  # the first frame of a shot opens the crop at once
    assert m.last_crop is not None and len(pose.calls) == 1
    x0, y0, x1, y1 = person
    # inside the person: the average of 1 (selfie) and 0 (pose); outside the crop: the full frame's
    assert abs(float(np.median(alpha[y0 + 20:y1 - 20, x0 + 10:x1 - 10])) - 0.5) < 0.02
    assert alpha[:, :200].max() < 0.05
    # without the pose pass the same frame is the selfie model's alone
    m2 = Matter(BrightSegmenter(size=(64, 64)), quality(temporal="none", refine="none", ensemble=False, pose=False))
    alpha2 = m2(Frame(scene(rect=person), 0))
    assert float(np.median(alpha2[y0 + 20:y1 - 20, x0 + 10:x1 - 10])) > 0.98


def test_the_pose_square_covers_both_tiles_of_a_standing_person():
    person = (300, 40, 330, 330)  # thin and tall: two tiles
    pose = ConstantPose(level=1.0)
    m = Matter(BrightSegmenter(size=(64, 64)), quality(temporal="none", refine="none", ensemble=False, pose=True,
                                                       crop_extend="off"), pose=pose)  # (no grown crop's run)
    alpha = m(Frame(scene(rect=person), 0))
    assert len(pose.calls) == 1  # one square for both tiles
    x0, y0, x1, y1 = person
    assert alpha[y0 + 5:y1 - 5, x0 + 5:x1 - 5].min() > 0.95  # 1 and 1 averaged: no seam, no hole


def test_pose_is_the_default_no_pose_turns_it_off_and_bad_margins_are_refused():
    from livematte.cli import build_parser
    from livematte.cli.common import config_from_args

    parser = build_parser()
    assert Config().quality.pose is True
    assert config_from_args(parser.parse_args(["video", "in.mp4", "-o", "out.mp4"])).quality.pose is True
    args = parser.parse_args(["video", "in.mp4", "-o", "out.mp4", "--no-pose"])
    assert config_from_args(args).quality.pose is False
    bad = Config()
    bad.quality.pose_margin = 3.0
    with pytest.raises(LivematteError, match="pose_margin"):
        bad.quality.validate()


def test_a_head_and_shoulders_shot_keeps_the_selfie_model_alone():
    """A person cut by the frame's bottom edge is not a whole body: the pose model does not run."""
    pose = ConstantPose(level=0.0)
    m = Matter(BrightSegmenter(size=(64, 64)), quality(temporal="none", refine="none", ensemble=False, pose=True),
               pose=pose)
    bust = (260, 120, 380, 360)  # reaches the bottom of the 640 x 360 frame
    for i in range(3):
        alpha = m(Frame(scene(rect=bust), i))
    assert m.last_crop is not None and pose.calls == []
    assert alpha[200:350, 280:360].min() > 0.95  # the selfie model's solid person, not averaged with 0


def test_a_missing_pose_model_file_is_a_clear_error(monkeypatch):
    from livematte.models import pose

    monkeypatch.setattr(pose, "FILE", ("pose_landmark", "no_such_model.tflite"))
    with pytest.raises(LivematteError, match="model file missing"):
        pose.PoseMask()


@pytest.mark.parametrize("level, expected", [(1.0, 1.0), (0.85, 0.425)])
def test_where_the_pose_model_is_sure_its_limb_comes_out_solid(level, expected):
    """Around the person the selfie model says 0: a sure pose model (>= 0.9) wins there (a limb the
    selfie model dropped is not left half transparent); an unsure one is averaged."""
    person = (280, 100, 360, 260)
    m = Matter(BrightSegmenter(size=(64, 64)), quality(temporal="none", refine="none", ensemble=False, pose=True, solid=False),
               pose=ConstantPose(level=level))
    alpha = m(Frame(scene(rect=person), 0))
    x0, y0, x1, y1 = person
    ring = alpha[y0 + 20:y1 - 20, x0 - 20:x0 - 4]  # left of the person, inside the tiles: selfie 0
    assert abs(float(np.median(ring)) - expected) < 0.03
    assert alpha[y0 + 20:y1 - 20, x0 + 10:x1 - 10].min() > 0.95 * max(expected, 0.5 * (1 + level))


def test_a_foot_touching_the_bottom_edge_for_a_frame_does_not_switch_the_pose_pass_off():
    """The whole-body decision has hysteresis: one frame of a blob reaching the bottom edge keeps
    the pose pass (its limbs would flicker otherwise); three in a row switch it off."""
    pose = ConstantPose(level=1.0)
    m = Matter(BrightSegmenter(size=(64, 64)), quality(temporal="none", refine="none", ensemble=False, pose=True,
                                                       pose_every=1, crop_extend="off"), pose=pose)
    standing, touching = (280, 100, 360, 300), (280, 100, 360, 360)
    runs = []
    for i, rect in enumerate([standing, standing, touching, standing, touching, touching, touching, standing]):
        n = len(pose.calls)
        m(Frame(scene(rect=rect), i))
        runs.append(len(pose.calls) - n)
    assert runs == [1, 1, 1, 1, 1, 1, 0, 0]


def test_the_pose_model_rests_on_a_still_body_and_runs_when_it_moves():
    """``quality.pose_every`` (3 by default): on a still whole body the pose model runs on every
    third frame and its last probability stands in between (the same matte); a body that moves has
    it run on every frame; 1 runs it always."""
    assert Config().quality.pose_every == 3
    still, walk = [(280, 100, 360, 300)] * 5, [(300 + 20 * i, 100, 380 + 20 * i, 300) for i in range(1, 4)]
    runs, mattes = {}, {}
    for every in (3, 1):
        pose = ConstantPose(level=0.0)  # averaged in: a rested frame without it would show 1, not 0.5
        m = Matter(BrightSegmenter(size=(64, 64)), quality(temporal="none", refine="none", ensemble=False, pose=True,
                                                           solid=False, pose_every=every), pose=pose)
        runs[every], mattes[every] = [], []
        for i, rect in enumerate(still + walk):
            n = len(pose.calls)
            mattes[every].append(m(Frame(scene(rect=rect), i)).copy())
            runs[every].append(len(pose.calls) - n)
    assert runs[3] == [1, 0, 0, 1, 0, 1, 1, 1] and runs[1] == [1] * 8
    for a, b in zip(mattes[3], mattes[1]):  # a still body: the rested frames' mattes are the runs'
        assert np.abs(a - b).max() < 1e-6
    bad = Config()
    bad.quality.pose_every = 0
    with pytest.raises(LivematteError, match="pose_every"):
        bad.quality.validate()


def test_the_live_budget_sheds_the_pose_model_the_search_pass_and_a_tile_and_takes_them_back():
    """``Matter.set_shed`` (``cam``'s budget): on a walking whole body (two tiles, the pose model on
    every frame) level 4 runs the pose model on every third frame (the selfie model alone between),
    the search pass on every second and one tile; level 0 brings all of it back on the next frame;
    the last level runs no pose model at all. The person stays in the matte."""
    assert SHEDS[4] == Shed(pose_every=3, search_every=2, one_tile=True, extend=False) and not SHEDS[-1].pose
    assert SHEDS[0].extend and not any(s.extend for s in SHEDS[1:])  # a grown crop (if asked) is shed first
    walk = [(200 + 12 * i, 40, 240 + 12 * i, 330) for i in range(13)]  # tall: two tiles; moving: no rest
    pose, seg = ConstantPose(level=0.0), BrightSegmenter(size=(64, 64))
    m = Matter(seg, quality(temporal="none", refine="none", ensemble=False, pose=True, solid=False,
                            search_every=1, crop_extend="off"), pose=pose)
    runs = []
    for i, rect in enumerate(walk):
        m.set_shed({2: 4, 8: 0, 10: len(SHEDS) - 1}.get(i, m.shed))
        n_seg, n_pose = len(seg.calls), len(pose.calls)
        alpha = m(Frame(scene(rect=rect), i))
        runs.append((len(seg.calls) - n_seg, len(pose.calls) - n_pose))
        x0, y0, x1, y1 = rect
        assert alpha[y0 + 10:y1 - 10, x0 + 5:x1 - 5].min() > 0.25 and alpha[:, :150].max() < 0.05
    # (search + tiles, pose): full work; then one tile, the search on every 2nd, the pose on every 3rd
    assert runs[1] == (3, 1)
    assert runs[2:8] == [(1, 0), (2, 0), (1, 1), (2, 0), (1, 0), (2, 1)]
    assert runs[8:10] == [(3, 1), (3, 1)]
    assert runs[10:] == [(1, 0), (2, 0), (1, 0)] and m.shed == len(SHEDS) - 1
