"""``--quality best``'s per-frame accuracy knobs (issue #17): the crop's tiles seen again as finer
sub-tiles (``quality.tile_views``) and the crop grown where its person runs out of it
(``quality.crop_extend``). Both engines: tests/test_twins.py."""
from __future__ import annotations

import glob
import os

import numpy as np
import pytest

from livematte.config import Config
from livematte.engine import NUMPY
from livematte.matter import build_matter
from livematte.stages.tiles import merge_views
from livematte.subject.geometry import crop_extension, sub_tiles
from livematte.types import Frame

from .helpers import SHARED, read_rgb


def field(box, hw, f):
    """``f(x, y)`` (frame pixels) sampled at the cell centres of an ``hw`` grid over ``box``."""
    h, w = hw
    x = box[0] + (np.arange(w) + 0.5) * (box[2] - box[0]) / w
    y = box[1] + (np.arange(h) + 0.5) * (box[3] - box[1]) / h
    return f(x[None, :], y[:, None]).astype(np.float32)


def test_sub_tiles_cover_the_tile_from_corner_to_corner():
    box = (100, 40, 356, 296)
    subs = sub_tiles(box, 2)
    assert len(subs) == 4 and subs[0][:2] == box[:2] and subs[-1][2:] == box[2:]
    assert all(b[2] - b[0] == b[3] - b[1] == 160 for b in subs)  # (1 + 0.25) / 2 of 256
    assert all(box[0] <= b[0] and b[2] <= box[2] and box[1] <= b[1] and b[3] <= box[3] for b in subs)


def test_views_that_agree_with_the_tile_change_nothing():
    box = (100, 40, 356, 296)
    blob = lambda x, y: np.clip(1.5 - np.hypot(x - 230, y - 170) / 60, 0, 1)  # one smooth picture
    prob = field(box, (64, 64), blob)
    views = [(b, field(b, (64, 64), blob)) for b in sub_tiles(box, 2)]
    out = merge_views(NUMPY, prob, box, views)
    assert out.shape == prob.shape and out is not prob
    assert np.abs(out - prob).max() < 0.03  # the same picture: only the bilinear reads differ


def test_a_limb_the_sub_tiles_see_is_raised_in_the_tile():
    box = (0, 0, 200, 200)
    prob = np.zeros((64, 64), np.float32)
    limb = lambda x, y: ((np.abs(x - 150) < 10) & (y > 20) & (y < 80)) * np.ones_like(x + y)
    views = [(b, field(b, (64, 64), limb)) for b in sub_tiles(box, 2)]
    out = merge_views(NUMPY, prob, box, views)
    on = field(box, (64, 64), limb) > 0.5
    assert out[on].mean() > 0.35 and out[~on].max() < 0.5  # half the weight where they see it, nothing elsewhere


def test_the_crop_grows_where_its_person_runs_out_of_the_tiles():
    frame = (480, 854)
    crop = (300, 180, 600, 450)
    tile = (300, 165, 600, 465)
    prob = np.zeros((64, 64), np.float32)
    prob[20:50, 20:40] = 0.9
    assert crop_extension([(tile, prob)], crop, frame) is None  # nobody at a side: no second pass
    prob[0:6, 30:33] = 0.3  # a leg running out at the top (above the 0.2 level)
    assert crop_extension([(tile, prob)], crop, frame) == (300, 60, 600, 450)  # up by 0.4 x 300
    prob[20:50, 60:64] = 0.9  # and at the right side
    assert crop_extension([(tile, prob)], crop, frame) == (300, 60, 720, 450)
    at_border = (0, 0, 300, 300)  # sides on the frame's border need nothing
    edge = np.zeros((64, 64), np.float32)
    edge[0:5, 0:30] = edge[0:30, 0:5] = 1.0  # the top-left corner only
    assert crop_extension([(at_border, edge)], (10, 10, 290, 290), frame) is None


def test_a_raised_leg_cut_off_by_the_crop_comes_back():
    """breakdance-flare frame 56: the full-frame pass misses the raised leg, so the crop stops at the
    knee; with ``crop_extend`` the grown crop is segmented too and the leg above the crop comes back."""
    seq = os.path.join(SHARED, "davis2016", "breakdance-flare")
    if not glob.glob(os.path.join(seq, "frames", "*.jpg")):
        pytest.skip("the shared DAVIS data (../shared/data/davis2016) is not here")
    gt = read_rgb(os.path.join(seq, "gt", "00056.png"))[..., 0] > 127
    above = {}
    for extend in ("off", "body", "all"):
        cfg = Config()
        cfg.quality.crop_extend = extend
        m = build_matter(cfg)
        for i in (54, 55, 56):
            alpha = m(Frame(read_rgb(os.path.join(seq, "frames", f"{i:05d}.jpg")), i))
        y0 = m.last_crop[1]
        fg = alpha[:y0] > 0.5
        above[extend] = (int(fg.sum()), int((fg & gt[:y0]).sum()))
    assert above["all"][0] > 3 * above["off"][0] + 100, above  # 576 against 134 px (gt: 3819 px of leg there)
    assert above["all"][1] >= 0.8 * above["all"][0], above  # on the leg, not around it
    assert above["body"] == above["all"], above  # a whole body: the default grows its crop too


def test_the_default_grows_no_close_ups_crop():
    """``crop_extend = "body"`` (balanced): the shipped sample's close-up reaches the crop's sides on
    most frames, where ``all`` segments a grown crop too; the default leaves it alone (no pose model
    frames there: no whole body)."""
    from livematte.checkout import sample_path
    from livematte.sources.video import VideoFileSource

    grown = {}
    for extend in ("body", "all"):
        cfg = Config()
        cfg.quality.crop_extend = extend
        m = build_matter(cfg)
        with VideoFileSource(sample_path("person.mp4", hint="")) as source:
            fronts = [m.front(f) for _, f in zip(range(8), source)]
        grown[extend] = sum(1 for f in fronts if f.under)
    assert grown["body"] == 0 and grown["all"] >= 4, grown
