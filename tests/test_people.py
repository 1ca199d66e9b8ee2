"""Tracked people with identities, ``--subject main|all|IDS``, ``matte --layers``: on clips built at test
time from real person cut-outs (the shipped sample always; DAVIS people and the shared clips when
../shared/data is here)."""
from __future__ import annotations

import glob
import json
import os

import cv2
import numpy as np
import pytest

from livematte.config import Config, QualityConfig
from livematte.matter import build_matter
from livematte.subject.people import Blob, People, PeopleTracker, SubjectRule, Track, appearance, colour_distance
from livematte.subject.planner import LUKEWARM_HOLD, SubjectPlanner

from .cli_run import cli  # noqa: F401  (fixture)
from .helpers import SAMPLES, SHARED, read_rgb, sample_frame

ONE_BY_ONE = os.path.join(SHARED, "person-unlabeled", "videos", "one-by-one-person-detection.mp4")


# ------------------------------------------------------------------------------------ clips
def _cutout(image: np.ndarray, mask: np.ndarray, height: int):
    """The person of ``mask`` cut out of ``image`` and scaled to ``height`` rows: (rgb, alpha float)."""
    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    s = height / (y1 - y0)
    size = (max(1, int((x1 - x0) * s)), height)
    rgb = cv2.resize(image[y0:y1, x0:x1], size, interpolation=cv2.INTER_AREA)
    a = cv2.resize(mask[y0:y1, x0:x1].astype(np.float32), size, interpolation=cv2.INTER_AREA)
    return rgb, a


def _paste(canvas: np.ndarray, cut, x: int, bottom: int) -> np.ndarray:
    rgb, a = cut
    h, w = a.shape
    y = bottom - h
    H, W = canvas.shape[:2]
    xa, xb = max(0, x), min(W, x + w)
    if xb <= xa:
        return canvas
    region = canvas[y:y + h, xa:xb].astype(np.float32)
    aa = a[:, xa - x:xb - x, None]
    canvas[y:y + h, xa:xb] = (aa * rgb[:, xa - x:xb - x] + (1 - aa) * region + 0.5).astype(np.uint8)
    return canvas


def crossing_clip(back: np.ndarray, first, second, frames: int = 36):
    """Two cut-outs walking across ``back`` towards each other, ``second`` passing in front of
    ``first`` half-way. Returns ``(frames, xs)``: the RGB frames and, per frame, the two people's
    centre x."""
    H, W = back.shape[:2]
    wa, wb = first[1].shape[1], second[1].shape[1]
    out, xs = [], []
    for t in range(frames):
        f = t / (frames - 1)
        xa = int(0.05 * W + f * (0.90 * W - wa))  # left -> right
        xb = int(0.95 * W - wb - f * (0.90 * W - wb))  # right -> left
        canvas = _paste(_paste(back.copy(), first, xa, H), second, xb, H)
        out.append(canvas)
        xs.append((xa + wa / 2, xb + wb / 2))
    return out, xs


def _sample_people():
    """Two people from the shipped sample: the astronaut cut out by livematte's own matte, once as
    she is and once in other colours (a second person)."""
    frame = sample_frame(30)
    alpha = build_matter(Config())(frame)
    for _ in range(4):
        alpha = build_matter(Config())(frame)
    mask = alpha >= 0.5
    first = _cutout(frame, mask, 150)
    other = first[0][..., ::-1].copy()  # the channels swapped: another jacket, another face
    back = cv2.resize(read_rgb(os.path.join(SAMPLES, "background.jpg")), (640, 360), interpolation=cv2.INTER_AREA)
    return back, first, (other, first[1])


def _davis_people():
    """Two real people with their human-drawn masks (DAVIS lucia and hike), over the sample's
    background; None when the data is not here."""
    pairs = []
    for seq in ("lucia", "hike"):
        f = os.path.join(SHARED, "davis2016", seq, "frames", "00010.jpg")
        g = os.path.join(SHARED, "davis2016", seq, "gt", "00010.png")
        if not (os.path.exists(f) and os.path.exists(g)):
            return None
        pairs.append((read_rgb(f), read_rgb(g)[..., 0] > 127))
    back = cv2.resize(read_rgb(os.path.join(SAMPLES, "background.jpg")), (854, 480), interpolation=cv2.INTER_AREA)
    return back, _cutout(*pairs[0], 320), _cutout(*pairs[1], 320)


def _track(frames, subject="all"):
    cfg = Config()
    cfg.subject.choice = subject
    matter = build_matter(cfg)
    log, alphas = [], []
    matter.on_people = log.append
    for f in frames:
        alphas.append(matter(f).copy())
    return log, alphas


def _check_crossing(frames, xs):
    log, _ = _track(frames)
    ids = set().union(*(p.boxes for p in log))
    assert len(ids) == 2, f"ids {sorted(ids)}: one id per person, none new after the crossing"
    # who is who, on every frame where the two are apart: the same id stays on the same person
    owner = {}
    apart = 0
    for p, (xa, xb) in zip(log, xs):
        seen = p.boxes  # seen, or coasting on their prediction for a frame or two
        if len(seen) != 2 or abs(xa - xb) < 0.35 * frames[0].shape[1]:
            continue
        apart += 1
        centre = {i: (b[0] + b[2]) / 2 for i, b in seen.items()}
        near_a = min(centre, key=lambda i: abs(centre[i] - xa))
        owner.setdefault("a", near_a)
        assert near_a == owner["a"], "the ids swapped after the crossing"
    assert apart >= len(frames) // 3
    first_a = [i for i, b in log[0].boxes.items()]
    assert owner["a"] in first_a


def test_ids_stay_on_their_people_through_a_crossing_sample():
    back, first, second = _sample_people()
    _check_crossing(*crossing_clip(back, first, second, 30))


def test_ids_stay_on_their_people_through_a_crossing_davis():
    people = _davis_people()
    if people is None:
        pytest.skip("the shared DAVIS data (../shared/data/davis2016, backgrounds) is not here")
    _check_crossing(*crossing_clip(*people, 36))


# ------------------------------------------------------------------------------------ units
def test_appearance_tells_two_colours_apart():
    rgb = np.zeros((20, 10, 3), np.uint8)
    rgb[:10] = (200, 30, 30)
    rgb[10:] = (30, 30, 200)
    mask = np.ones((20, 10), bool)
    a = appearance(rgb, mask)
    b = appearance(rgb[:, :, ::-1].copy(), mask)
    assert a.shape == (2, 64) and np.allclose(a.sum(1), 1)
    assert colour_distance(a, a) < 1e-6 and colour_distance(a, b) > 0.9


def _people(**scales):
    tracks = {}
    for name, scale in scales.items():
        i = int(name[1:])
        tracks[i] = Track(i, (10.0 * i, 0, 10.0 * i + scale / 4, scale), scale * scale, None, 0, id=i, scale=scale)
    return People(tracks)


def test_main_is_the_principal_and_people_about_as_close():
    rule = SubjectRule("main", memory=3)
    assert rule.choose(_people(p1=100, p2=30)) == {1}  # the largest at the start of the shot
    assert rule.choose(_people(p1=100, p2=30, p3=80)) == {1, 3}  # someone leaning in
    assert rule.choose(_people(p2=30)) == set()  # the principal hidden: a far passer-by does not show
    assert rule.choose(_people(p1=90, p2=30)) == {1}  # back again
    for _ in range(4):
        rule.choose(_people(p2=30))
    assert rule.choose(_people(p2=30)) == {2}  # gone for longer than the memory: the role passes on
    assert SubjectRule("all").choose(_people(p1=100, p2=30)) == {1, 2}
    assert SubjectRule("ids", (2,)).choose(_people(p1=100, p2=30)) == {2}


def test_main_takes_no_companion_the_detectors_never_saw_as_a_person():
    """With the principal found by a detector, a bigger blob only the segmenter sees (DAVIS
    motorbike: a flower pot the pan brings close) is not a second person; one a detector found is;
    with no detector results at all, size alone decides as before."""
    people = _people(p1=40, p2=55)
    people.tracks[1].detected = True
    assert SubjectRule("main").choose(people) == {1}
    people.tracks[2].detected = True
    assert SubjectRule("main").choose(people) == {1, 2}
    assert SubjectRule("main").choose(_people(p1=40, p2=55)) == {2, 1}
    first = _people(p1=40, p2=55)  # at the start: the detected person is the principal, not the biggest blob
    first.tracks[1].detected = True
    rule = SubjectRule("main")
    rule.choose(first)
    assert rule.principal == 1


def test_a_face_marks_its_track_a_detected_person():
    tracker = PeopleTracker()
    blobs = [Blob(1, (10.0, 10.0, 30.0, 60.0), 800.0, None), Blob(2, (40.0, 10.0, 60.0, 60.0), 800.0, None)]
    for _ in range(2):
        seen = tracker.update(blobs, None, (), [(15.0, 12.0, 25.0, 22.0)])  # a face on the first blob
    by_box = {t.box[0]: t.detected for t in seen.tracks.values()}
    assert by_box == {10.0: True, 40.0: False}


def _blob(prob, box, value):
    x0, y0, x1, y1 = box
    prob[y0:y1, x0:x1] = value


def test_a_tracked_person_is_not_removed_when_the_model_turns_lukewarm():
    """A blob with no confident core is removed as a false person, unless it is a tracked person
    the person detector has found (the segmenter alone tracks animals too), or the detector vouches
    for it on this frame."""
    from collections import namedtuple

    Det = namedtuple("Det", "body score")
    body = [Det((20 / 64, 10 / 64, 40 / 64, 1.0), 0.9)]  # normalised to the frame
    for detector, survives in ((True, True), (False, False)):
        planner = SubjectPlanner(QualityConfig())
        rgb = np.full((64, 64, 3), 90, np.uint8)
        for _ in range(4):
            prob = np.zeros((64, 64), np.float32)
            _blob(prob, (20, 10, 40, 64), 0.97)
            plan = planner.plan(prob, (360, 360), body if detector else None, rgb)
        assert plan.people is not None and len(plan.people.boxes) == 1
        prob = np.zeros((64, 64), np.float32)
        _blob(prob, (20, 10, 40, 64), 0.7)  # the same person, lukewarm for a frame
        plan = planner.plan(prob, (360, 360), None, rgb)
        kept = prob if plan.prob is None else plan.prob
        assert (kept[30, 30] == pytest.approx(0.7)) == survives, detector
        for _ in range(LUKEWARM_HOLD):  # a longer dip: the blob rule decides again
            plan = planner.plan(prob, (360, 360), None, rgb)
        assert plan.prob is not None and plan.prob[30, 30] == 0.0
    # a person the segmenter was never sure of (a small rider), on a frame where the detector found
    # them: a detected person is not removed (and opens the crop); without the detection it is
    for detector in (True, False):
        planner = SubjectPlanner(QualityConfig())
        prob = np.zeros((64, 64), np.float32)
        _blob(prob, (20, 10, 40, 64), 0.7)
        plan = planner.plan(prob, (360, 360), body if detector else None, np.full((64, 64, 3), 90, np.uint8))
        kept = prob if plan.prob is None else plan.prob
        assert (kept[30, 30] == pytest.approx(0.7)) == detector and (plan.crop is not None) == detector


def test_subject_ids_cuts_the_other_person_out_of_the_crop():
    planner = SubjectPlanner(QualityConfig(), subject="ids", ids=(2,))
    rgb = np.zeros((64, 64, 3), np.uint8)
    rgb[:, :32] = (200, 40, 40)
    rgb[:, 32:] = (40, 40, 200)
    for _ in range(3):
        prob = np.zeros((64, 64), np.float32)
        _blob(prob, (8, 20, 22, 64), 0.97)  # person 1 (confirmed first: the left one on the first frame)
        _blob(prob, (40, 20, 54, 64), 0.97)  # person 2
        plan = planner.plan(prob, (360, 360), None, rgb)
    assert plan.people.chosen == {2}
    assert plan.keep is not None and plan.keep[40, 14] == 0.0 and plan.keep[40, 47] == 1.0
    assert plan.prob[40, 14] == 0.0 and plan.prob[40, 47] == pytest.approx(0.97)


def test_main_leaves_a_big_undetected_blob_out_of_the_matte_and_the_crop():
    """DAVIS motorbike's case: the rider the detector finds, and a bigger person-like blob (a flower
    pot) it never finds: the pot is neither matted nor inside the crop the crop pass segments."""
    from collections import namedtuple

    Det = namedtuple("Det", "body score")
    rider = [Det((8 / 64, 30 / 64, 20 / 64, 50 / 64), 0.9)]  # normalised to the frame
    planner = SubjectPlanner(QualityConfig())
    rgb = np.zeros((64, 64, 3), np.uint8)
    rgb[:, :32] = (200, 40, 40)
    rgb[:, 32:] = (60, 160, 60)
    for _ in range(4):
        prob = np.zeros((64, 64), np.float32)
        _blob(prob, (8, 30, 20, 50), 0.97)  # the rider
        _blob(prob, (40, 10, 60, 60), 0.97)  # the pot: bigger, about as close
        plan = planner.plan(prob, (360, 360), rider, rgb)
    assert len(plan.people.chosen) == 1
    assert plan.prob[35, 50] == 0.0 and plan.prob[40, 14] == pytest.approx(0.97)
    assert plan.crop is not None and plan.crop[2] < 40 * 360 / 64  # the crop stops short of the pot


def test_tracker_forgets_positions_on_a_cut_but_gives_ids_back_by_colour():
    tracker = PeopleTracker()
    labels = np.zeros((32, 32), np.int32)
    labels[5:30, 5:15] = 1
    stats = np.array([[0, 0, 32, 32, 0], [5, 5, 10, 25, 250]])
    rgb = np.zeros((32, 32, 3), np.uint8)
    rgb[..., 0] = 220
    person = np.array([False, True])
    for _ in range(3):
        seen = tracker.update(tracker.observe(labels, stats, person, rgb), labels)
    assert list(seen.tracks) == [1]
    tracker.forget()
    moved = np.zeros_like(labels)
    moved[5:30, 18:28] = 1
    seen = tracker.update(tracker.observe(moved, np.array([[0, 0, 32, 32, 0], [18, 5, 10, 25, 250]]), person, rgb),
                          moved)
    assert list(seen.tracks) == [1]


# ------------------------------------------------------------------------------------ commands
def _write_clip(path, frames, fps=10):
    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=fps)
        s.height, s.width = frames[0].shape[:2]
        s.pix_fmt, s.options = "yuv420p", {"crf": "12"}
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


def _read_pngs(folder):
    return [cv2.imread(p, cv2.IMREAD_GRAYSCALE) for p in sorted(glob.glob(os.path.join(folder, "*.png")))]


def test_layers_and_subject_on_a_crossing_clip(cli, tmp_path):
    back, first, second = _sample_people()
    frames, xs = crossing_clip(back, first, second, 24)
    clip = tmp_path / "crossing.mp4"
    _write_clip(clip, frames)
    r = cli("matte", str(clip), "--layers", "--out", str(tmp_path / "L"))
    assert r.returncode == 0, r.stderr
    doc = json.loads((tmp_path / "L" / "tracks.json").read_text())
    assert doc["version"] == 1 and doc["frames"] == 24 and (doc["width"], doc["height"]) == (640, 360)
    assert doc["subject"] == "all"
    ids = [p["id"] for p in doc["people"]]
    assert ids == [1, 2]
    for p in doc["people"]:
        assert set(p) == {"id", "first", "last", "layer", "boxes"} and p["layer"]
        assert p["first"] == p["boxes"][0]["frame"] and p["last"] == p["boxes"][-1]["frame"]
        for row in p["boxes"]:
            x0, y0, x1, y1 = row["box"]
            assert 0 <= x0 < x1 <= 640 and 0 <= y0 < y1 <= 360 and isinstance(row["seen"], bool)
        layer = _read_pngs(tmp_path / "L" / f"person-{p['id']}")
        assert len(layer) == 24 and layer[0].shape == (360, 640)
    # once both are tracked and seen, each layer holds its own person only
    seen = [{r["frame"] for r in p["boxes"] if r["seen"]} for p in doc["people"]]
    k = min(f for f in seen[0] & seen[1] if f > max(p["first"] for p in doc["people"]))
    at = {p["id"]: [r["box"] for r in p["boxes"] if r["frame"] == k][0] for p in doc["people"]}
    left = min(at, key=lambda i: at[i][0])
    right = 3 - left
    la, lb = _read_pngs(tmp_path / "L" / f"person-{left}")[k], _read_pngs(tmp_path / "L" / f"person-{right}")[k]
    xa, xb = (int(v) for v in xs[k])
    assert la[300, xa] > 200 and la[300, xb] < 30 and lb[300, xb] > 200 and lb[300, xa] < 30
    # video --subject RIGHT keeps that person only
    r = cli("video", str(clip), "-o", str(tmp_path / "one.mp4"), "--alpha-out", str(tmp_path / "A") + os.sep,
            "--subject", str(right))
    assert r.returncode == 0, r.stderr
    a0 = _read_pngs(tmp_path / "A")[k]
    assert a0[300, xb] > 200 and a0[300, xa] < 30


def test_bad_subject_and_layers_flags(cli, tmp_path):
    r = cli("matte", "x.mp4", "--layers")
    assert r.returncode != 0 and r.stderr.strip() == "livematte: error: --layers needs --out DIR"
    for bad in ("0", "object", "a,b"):
        r = cli("video", "x.mp4", "-o", "y.mp4", "--subject", bad)
        assert r.returncode != 0 and len(r.stderr.strip().splitlines()) == 1 and "--subject" in r.stderr
    r = cli("image", os.path.join(SAMPLES, "background.jpg"), "-o", str(tmp_path / "o.png"), "--subject", "main")
    assert r.returncode != 0 and "for still images" in r.stderr


def test_an_unknown_id_is_one_line(cli, tmp_path):
    back, first, second = _sample_people()
    frames, _ = crossing_clip(back, first, second, 6)
    clip = tmp_path / "c.mp4"
    _write_clip(clip, frames)
    r = cli("matte", str(clip), "--out", str(tmp_path / "M"), "--subject", "9")
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "no person 9 was tracked" in lines[0] and "ids tracked: 1" in lines[0]


def test_people_come_and_go_on_a_real_clip(cli, tmp_path):
    """one-by-one-person-detection.mp4, frames 180-259: the first person walks out, the next comes in."""
    if not os.path.exists(ONE_BY_ONE):
        pytest.skip("../shared/data/person-unlabeled is not here")
    import av

    frames = []
    with av.open(ONE_BY_ONE) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i >= 260:
                break
            if i >= 180:
                frames.append(f.to_ndarray(format="rgb24"))
    clip = tmp_path / "obo.mp4"
    _write_clip(clip, frames)
    r = cli("matte", str(clip), "--layers", "--out", str(tmp_path / "L"))
    assert r.returncode == 0, r.stderr
    doc = json.loads((tmp_path / "L" / "tracks.json").read_text())
    long = [p for p in doc["people"] if p["last"] - p["first"] >= 10]
    assert [p["id"] for p in long][:2] == [1, 2], doc["people"]
    one, two = long[0], long[1]
    assert one["first"] == 0 and one["last"] < 40 and two["first"] > 40 and two["last"] == 79
    # --subject 2: nothing of the first person, the second as in its layer
    r = cli("video", str(clip), "-o", str(tmp_path / "v.mp4"), "--alpha-out", str(tmp_path / "A") + os.sep,
            "--subject", "2")
    assert r.returncode == 0, r.stderr
    alpha = _read_pngs(tmp_path / "A")
    layer2 = _read_pngs(tmp_path / "L" / "person-2")
    assert max(int((a >= 128).sum()) for a in alpha[:one["last"] - 2]) == 0
    late = range(two["first"] + 5, 80)
    iou = np.mean([((alpha[k] >= 128) & (layer2[k] >= 128)).sum() / max(1, ((alpha[k] >= 128) | (layer2[k] >= 128)).sum())
                   for k in late])
    assert iou > 0.9
