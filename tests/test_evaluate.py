"""livematte.evaluate and livematte.contact_sheet on a tiny synthetic DAVIS-layout data set."""
from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from livematte.contact_sheet import write_contact_sheet
from livematte.evaluate import evaluate, format_table, quantize_alpha
from livematte.types import Frame, LivematteError

H, W = 64, 96  # multiples of 16: flat 16x16 blocks survive JPEG exactly
REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "tools" / "davis_metrics.py"
PERSON = (slice(16, 48), slice(32, 64))  # 32x32 rectangle in "still"
BALL_ROWS = slice(16, 32)  # a 16x16 non-person object rolling 16 px a frame in "ball" (group N)


def _write_seq(root: Path, name: str, masks) -> None:
    (root / name / "frames").mkdir(parents=True)
    (root / name / "gt").mkdir()
    for i, m in enumerate(masks):  # m: bool (H, W)
        frame = np.full((H, W, 3), 30, np.uint8)
        frame[m] = 230
        cv2.imwrite(str(root / name / "frames" / f"{i:05d}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, 100])
        cv2.imwrite(str(root / name / "gt" / f"{i:05d}.png"), m.astype(np.uint8) * 255)


def _rect(rows, cols) -> np.ndarray:
    m = np.zeros((H, W), bool)
    m[rows, cols] = True
    return m


@pytest.fixture
def data(tmp_path) -> Path:
    """still (A): a static 32x32 person; moving (A): a person moving 16 px a frame; ball (N): an object."""
    root = tmp_path / "data"
    _write_seq(root, "still", [_rect(*PERSON)] * 4)
    _write_seq(root, "moving", [_rect(slice(16, 48), slice(16 * i, 16 * i + 32)) for i in range(4)])
    _write_seq(root, "ball", [_rect(BALL_ROWS, slice(16 * i, 16 * i + 16)) for i in range(3)])
    with open(root / "manifest.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["sequence", "group", "frames", "width", "height"])
        w.writerow(["still", "A_single_person_clean", 4, W, H])
        w.writerow(["moving", "A_single_person_clean", 4, W, H])
        w.writerow(["ball", "N_no_person", 3, W, H])
    return root


class Matter:
    """Thresholds the synthetic frame (recovering the drawn mask exactly), then applies ``fn``."""

    def __init__(self, fn=lambda mask, frame: mask.astype(np.float32)):
        self.fn, self.resets, self.seen = fn, 0, []

    def reset(self):
        self.resets += 1

    def __call__(self, frame: Frame) -> np.ndarray:
        self.seen.append((self.resets, frame.index, frame.name, frame.image.shape))
        mask = frame.image[..., 0] >= 128  # (H, W) bool
        return np.asarray(self.fn(mask, frame), np.float32)


def run(data, fn=None, **kw):
    m = Matter() if fn is None else Matter(fn)
    return evaluate(data, lambda: m, **kw), m


def test_synthetic_frames_encode_the_masks_exactly(data):
    for seq in ("still", "moving", "ball"):
        for p in sorted((data / seq / "frames").iterdir()):
            img = cv2.imread(str(p))
            gt = cv2.imread(str(data / seq / "gt" / (p.stem + ".png")), cv2.IMREAD_GRAYSCALE)
            assert np.array_equal(img[..., 2] >= 128, gt >= 128)


def test_perfect_prediction(data):
    res, m = run(data)
    ps = res["per_sequence"]
    for seq in ("still", "moving"):
        assert ps[seq]["iou"] == 1.0 and ps[seq]["bf"] == 1.0 and ps[seq]["dtssd"] == 0.0
        assert ps[seq]["frames"] == 4 and ps[seq]["missing"] == 0
    # the N "gt" is a non-person object: predicting it is all false foreground
    assert ps["ball"]["fp"] == pytest.approx(16 * 16 / (H * W))
    # ... and for N the gt counts as empty in dtSSD too: the moving prediction is the whole error
    dt_ball = 100 * math.sqrt(2 * 16 * 16 / (H * W))
    assert "iou" not in ps["ball"] and ps["ball"]["dtssd"] == pytest.approx(dt_ball)
    assert res["groups"] == {
        "A": {"iou": 1.0, "bf": 1.0, "dtssd": 0.0, "missing": 0, "lost": 0},
        "N": {"dtssd": round(dt_ball, 4), "fp": round(256 / (H * W), 4), "missing": 0},
    }
    json.dumps(res)  # JSON-ready as returned
    assert res["run"]["frames"] == 11


def test_frames_are_fed_in_order_with_one_reset_per_sequence(data):
    calls = []
    res, m = run(data, progress=calls.append)
    assert [(r, i, n) for r, i, n, _ in m.seen[:4]] == [(1, i, f"{i:05d}") for i in range(4)]
    assert [r for r, *_ in m.seen] == [1] * 4 + [2] * 4 + [3] * 3
    assert all(shape == (H, W, 3) for *_, shape in m.seen)
    assert calls == [1] * 11


def test_shifted_mask_gives_known_iou_and_bf(data):
    res, _ = run(data, lambda m, f: np.roll(m, 8, axis=1), sequences=["still"])
    assert res["per_sequence"]["still"]["iou"] == pytest.approx(24 / 40)
    assert list(res["per_sequence"]) == ["still"]
    res, _ = run(data, lambda m, f: np.roll(m, 3, axis=1), sequences=["still"])
    assert res["per_sequence"]["still"]["iou"] == pytest.approx(29 / 35)
    assert res["per_sequence"]["still"]["bf"] == 1.0  # within the 3 px tolerance
    res, _ = run(data, lambda m, f: np.roll(m, 4, axis=1), sequences=["still"])
    assert res["per_sequence"]["still"]["bf"] < 1.0  # left/right edges now out of tolerance
    res, _ = run(data, lambda m, f: _rect(slice(0, 8), slice(80, 96)), sequences=["still"])  # far off
    assert res["per_sequence"]["still"]["iou"] == 0.0 and res["per_sequence"]["still"]["bf"] == 0.0


def test_empty_prediction(data):
    res, _ = run(data, lambda m, f: np.zeros((H, W)))
    ps = res["per_sequence"]
    assert ps["still"]["iou"] == 0.0 and ps["still"]["bf"] == 0.0
    assert ps["ball"]["fp"] == 0.0 and ps["ball"]["dtssd"] == 0.0  # the moving object does not count
    # the gt of "moving" changes while the prediction does not: 2 x 16x32 px change per frame
    assert ps["moving"]["dtssd"] == pytest.approx(100 * math.sqrt(2 * 16 * 32 / (H * W)))
    assert ps["still"]["dtssd"] == 0.0


def test_flicker_dtssd_is_exact(data):
    flicker = lambda m, f: m * (f.index % 2)  # person, nothing, person, ...
    res, _ = run(data, flicker)
    assert res["per_sequence"]["still"]["dtssd"] == pytest.approx(100 * math.sqrt(32 * 32 / (H * W)))
    assert res["per_sequence"]["still"]["iou"] == 0.5
    # group N: the gt is taken as static and empty
    soft = lambda m, f: np.full((H, W), 0.2 if f.index % 2 else 0.6)
    res, _ = run(data, soft, sequences=["ball"])
    assert res["per_sequence"]["ball"]["dtssd"] == pytest.approx(40.0)
    assert res["per_sequence"]["ball"]["fp"] == pytest.approx(2 / 3)  # 0.6 >= 0.5 on frames 0 and 2


def test_alpha_is_scored_after_8bit_quantisation(data):
    tiny = lambda m, f: np.full((H, W), 0.001 * (f.index % 2))  # rounds to 0 in a PNG
    res, _ = run(data, tiny, sequences=["ball"])
    assert res["per_sequence"]["ball"]["dtssd"] == 0.0
    assert quantize_alpha(np.array([[0.5, 0.4999, -1.0, 2.0]])).tolist() == [[128, 127, 0, 255]]


def test_missing_frame_counts_and_breaks_the_pair_chain(data):
    (data / "still" / "frames" / "00002.jpg").unlink()
    res, m = run(data, lambda m, f: m * (f.name in ("00001", "00003")), sequences=["still"])
    r = res["per_sequence"]["still"]
    assert r["frames"] == 4 and r["missing"] == 1 and res["groups"]["A"]["missing"] == 1
    # only the pair (0, 1) is scored; (1, 3) spans the gap and (3, 4) does not exist
    assert r["dtssd"] == pytest.approx(100 * math.sqrt(32 * 32 / (H * W)))
    assert [i for _, i, n, _ in m.seen] == [0, 1, 2]  # positions among the existing frames


def test_pred_dir_holds_8bit_mattes(data, tmp_path):
    res, _ = run(data, lambda m, f: m * 0.5, pred_dir=tmp_path / "pred")
    png = cv2.imread(str(tmp_path / "pred" / "moving" / "00003.png"), cv2.IMREAD_UNCHANGED)
    assert png.dtype == np.uint8 and png.shape == (H, W)
    assert set(np.unique(png).tolist()) == {0, 128}
    assert len(list((tmp_path / "pred").rglob("*.png"))) == 11
    assert res["run"]["pred_dir"] == str(tmp_path / "pred")


@pytest.mark.skipif(not REFERENCE.is_file(), reason="shared/tools/davis_metrics.py not beside the clone")
def test_agrees_with_the_reference_scorer(data, tmp_path):
    (data / "moving" / "frames" / "00001.jpg").unlink()  # exercise missing handling too

    def noisy(mask, frame):  # soft, flickering, partly wrong alpha
        rng = np.random.default_rng(frame.index)
        a = cv2.GaussianBlur(mask.astype(np.float32), (9, 9), 3) + rng.normal(0, 0.15, (H, W))
        return np.clip(np.roll(a, frame.index, axis=1), 0, 1)

    res, _ = run(data, noisy, pred_dir=tmp_path / "pred")
    out = tmp_path / "ref.json"
    subprocess.run([sys.executable, str(REFERENCE), str(data), str(tmp_path / "pred"), "--json", str(out)],
                   check=True, capture_output=True)
    ref = json.loads(out.read_text())
    # the reference scores what it knows; livematte adds lost frames (lost, raw_lost) beside them
    extra = {"lost", "raw_lost"}
    assert ref["groups"] == {g: {k: v for k, v in r.items() if k not in extra} for g, r in res["groups"].items()}
    for seq, r in ref["per_sequence"].items():
        assert r.keys() == res["per_sequence"][seq].keys() - extra
        for k, v in r.items():
            assert res["per_sequence"][seq][k] == (pytest.approx(v, abs=1e-6) if isinstance(v, float) else v)
    assert 0 < res["per_sequence"]["still"]["iou"] < 1 and res["per_sequence"]["moving"]["missing"] == 1


@pytest.mark.parametrize("breakage, message", [
    (lambda d: (d / "manifest.csv").unlink(), "no manifest.csv"),
    (lambda d: (d / "manifest.csv").write_text("name,kind\nstill,A\n"), "needs columns"),
    (lambda d: (d / "manifest.csv").write_text("sequence,group\nstill,A\nstill,A\n"), "listed twice"),
    (lambda d: (d / "manifest.csv").write_text("sequence,group\nghost,A\n"), "ghost"),
    (lambda d: [p.unlink() for p in (d / "still" / "frames").iterdir()], "no frames"),
    (lambda d: (d / "manifest.csv").write_text("sequence,group,width,height\nstill,A,x,1\n"), "not integers"),
    (lambda d: cv2.imwrite(str(d / "still" / "gt" / "00001.png"), np.zeros((H, W + 2), np.uint8)), "size"),
    (lambda d: (d / "manifest.csv").write_text(f"sequence,group,width,height\nstill,A,{W},{H + 1}\n"),
     "size 96x64 != 96x65"),
    (lambda d: cv2.imwrite(str(d / "still" / "frames" / "00002.jpg"), np.zeros((H, W + 16, 3), np.uint8)),
     "size 112x64 != 96x64"),
])
def test_bad_data_raises_livematte_error(data, breakage, message):
    breakage(data)
    built = []
    with pytest.raises(LivematteError, match=message):
        evaluate(data, lambda: built.append(1) or Matter())
    if "size" not in message:
        assert not built  # the data is checked before the model is built


def test_bad_arguments_raise_livematte_error(data):
    with pytest.raises(LivematteError, match="no sequence 'nope'"):
        run(data, sequences=["nope"])
    with pytest.raises(LivematteError, match="inside the data folder"):
        run(data, pred_dir=data / "pred")
    with pytest.raises(LivematteError, match="matter alpha size 48x32"):
        run(data, lambda m, f: np.zeros((32, 48)))


def test_format_table(data):
    res, _ = run(data)
    table = format_table(res, per_sequence=True)
    lines = table.splitlines()
    assert lines[0].startswith("| group |")
    assert "| A | one person, clean | 2 | 8 | 1.000 | 1.000 | 0.0 | - | 0 | 0 |" in lines
    assert any(line.startswith("| N |") and "| 4.17 |" in line for line in lines)  # 256 / 6144 px
    assert any(line.startswith("| ball | N | 3 |") for line in lines)


def _tile(sheet, row, col, tile_w, tile_h):
    y = 4 + row * (22 + tile_h + 4) + 22
    x = 4 + col * (tile_w + 4)
    return sheet[y : y + tile_h, x : x + tile_w]  # (tile_h, tile_w, 3) BGR


def _count(tile, bgr):
    return int(np.all(np.abs(tile.astype(int) - bgr) < 40, axis=2).sum())


def test_contact_sheet(data, tmp_path):
    res, _ = run(data, lambda m, f: m * (f.index == 0))  # right on frame 0, empty after
    out = tmp_path / "sheet" / "sheet.png"
    assert write_contact_sheet(data, res, out, max_width=600) == (3 * (22 + 41 + 4) + 4, 9 * 62 + 40)
    sheet = cv2.imread(str(out))
    assert sheet.shape == (205, 598, 3)
    green, magenta = (0, 220, 0), (235, 0, 235)
    # "still", frame 0 (correct): no errors; frame 3 (empty): missed person in green
    assert _count(_tile(sheet, 0, 2, 62, 41), green) == 0
    assert _count(_tile(sheet, 0, 8, 62, 41), green) > 100
    # "ball" (N), frame 0: the predicted object is false foreground, magenta
    assert _count(_tile(sheet, 2, 2, 62, 41), magenta) > 20
    assert _tile(sheet, 0, 1, 62, 41).max() > 200 and _tile(sheet, 0, 7, 62, 41).max() == 0  # mattes


def test_contact_sheet_from_json_reads_pred_dir(data, tmp_path):
    res, _ = run(data, pred_dir=tmp_path / "pred")
    loaded = json.loads(json.dumps(res))
    h, w = write_contact_sheet(data, loaded, tmp_path / "a.png")
    assert w <= 2000 and cv2.imread(str(tmp_path / "a.png")).shape == (h, w, 3)
    loaded["run"]["pred_dir"] = None
    with pytest.raises(LivematteError, match="no mattes"):
        write_contact_sheet(data, loaded, tmp_path / "b.png")


def test_evaluate_and_contact_sheet_share_the_readers_without_importing_each_other():
    import ast

    import livematte.contact_sheet
    import livematte.annotations
    import livematte.evaluate

    def imported(module):
        tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
        return {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 1}

    assert imported(livematte.evaluate) & {"contact_sheet"} == set()
    assert imported(livematte.contact_sheet) & {"evaluate"} == set()
    assert {"annotations"} <= imported(livematte.evaluate) and {"annotations"} <= imported(livematte.contact_sheet)
    assert livematte.contact_sheet.read_frame is livematte.annotations.read_frame is livematte.evaluate.read_frame
