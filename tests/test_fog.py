"""The GT-free fog measure, lost frames, and `livematte eval --unlabeled`."""
from __future__ import annotations

import json
import numpy as np
import pytest

from livematte.bench import make_clip
from livematte.cli import main
from livematte.evaluate import SequenceScorer, lost
from livematte.fog import FogScorer, frame_fog, interior


def body(h=200, w=300, solid=255):
    """A rectangle 'body' rows 40..160, columns 100..200 at ``solid``, on an empty frame."""
    a = np.zeros((h, w), np.uint8)
    a[40:160, 100:200] = solid
    return a


def test_interior_is_the_region_eroded_by_2_5_percent_of_the_height():
    a = body()
    inside = interior(a)
    r = 5  # 2.5% of 200 rows
    assert inside.sum() == (120 - 2 * r) * (100 - 2 * r)
    assert inside[40 + r, 150] and not inside[40 + r - 1, 150]
    # the frame's edge is not background: a body cut by the bottom edge keeps its interior there
    b = np.zeros((200, 300), np.uint8)
    b[100:, 100:200] = 255
    assert interior(b)[199, 150]


def test_fog_on_a_constructed_matte_of_known_value():
    a = body()
    assert frame_fog(a) == 0.0
    a[70:100, 120:170] = 128  # a 30x50 patch at alpha 0.5, well inside the 110x90 interior
    assert frame_fog(a) == pytest.approx(30 * 50 / (110 * 90))
    a[70:100, 120:170] = 230  # 230/255 > 0.9: solid
    assert frame_fog(a) == 0.0
    a[70:100, 120:170] = 229  # just below 0.9: fog
    assert frame_fog(a) == pytest.approx(30 * 50 / (110 * 90))
    assert frame_fog(np.zeros((200, 300), np.uint8)) is None
    # alpha 0.2 is outside the region, and counts for nothing
    assert frame_fog(body(solid=51)) is None


def test_fog_scorer_figures():
    s = FogScorer()
    foggy = body()
    foggy[60:140, 110:190] = 100  # 80x80 of 110x90: 65% fog
    for a in [body(), foggy, body(), np.zeros((200, 300), np.uint8)]:
        s.add(a)
    r = s.result()
    assert r["frames"] == 4 and r["person_frames"] == 3
    assert r["fog"] == pytest.approx(80 * 80 / (110 * 90) / 3)
    assert r["foggy"] == pytest.approx(1 / 3)
    d = 80 * 80 * 155 / 255 / (200 * 300)
    assert r["flicker"] == pytest.approx((d + d + 120 * 100 / (200 * 300)) / 3, rel=1e-6)


def test_lost_frames_count_the_person_kept_under_10_percent():
    gt = np.zeros((10, 10), bool)
    gt[:, :5] = True  # 50 pixels
    pred = np.zeros((10, 10), bool)
    pred[:4, :1] = True  # 4 of them
    assert lost(pred, gt) == 1
    pred[:5, :1] = True  # 5 = 10%: kept
    assert lost(pred, gt) == 0
    assert lost(pred, np.zeros((10, 10), bool)) == 0
    s = SequenceScorer(False)
    g8 = gt.astype(np.uint8) * 255
    s.add(np.zeros((10, 10), np.uint8), g8, raw_u8=g8)
    s.add(g8, g8, raw_u8=np.zeros((10, 10), np.uint8))
    s.add(g8, g8, raw_u8=np.zeros((10, 10), np.uint8))
    r = s.result()
    assert (r["lost"], r["raw_lost"]) == (1, 2)


def test_eval_unlabeled_on_a_folder_of_clips(tmp_path, capsys):
    folder = tmp_path / "clips"
    folder.mkdir()
    make_clip(str(folder / "person.mp4"), (320, 180), 0.5)
    out = tmp_path / "fog.json"
    assert main(["eval", "--unlabeled", str(folder), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "person.mp4" in printed and "mean fog" in printed
    r = json.loads(out.read_text())
    clip = r["per_clip"]["person.mp4"]
    assert clip["frames"] == 15 and clip["person_frames"] >= 10
    assert 0.0 <= clip["fog"] <= 1.0 and clip["flicker"] is not None


def test_eval_unlabeled_refuses_a_folder_without_videos(tmp_path, capsys):
    assert main(["eval", "--unlabeled", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no video files" in err[0]
    assert main(["eval"]) == 2
