"""Build the backdrop keyer's benchmark: real objects with known masks on studio backdrops.

The DAVIS 2016 sequences of group N (no person: a bear, a boat, a bus, a car...) have object
masks in ``gt/``. Every ``--every``-th frame's object is cut out with its mask, scaled to fit 60-80 %
of an 800x600 canvas and composited (over a 1 px soft edge) onto a backdrop: a plain colour or a
vertical / diagonal gradient, darkened towards the corners (vignetting), with a soft drop shadow
under the object and Gaussian noise. Writes ``images/NAME.png`` and ``masks/NAME.png`` (the object's
mask on the canvas) under ``--out`` (a folder under /tmp: never the repository), and ``--eval``
scores the keyer on them with livematte's own IoU and boundary F.

    .venv/bin/python scripts/make_backdrop_set.py --out /tmp/backdrops --eval
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DAVIS = ROOT.parent / "shared" / "data" / "davis2016"
CANVAS = (600, 800)  # (h, w)


def backdrop(rng, kind: str) -> np.ndarray:
    """float32 ``(h, w, 3)`` in [0, 1]: a plain or gradient backdrop with vignetting."""
    h, w = CANVAS
    c0 = rng.uniform(0.55, 0.98, 3)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == "plain":
        img = np.broadcast_to(c0, (h, w, 3)).astype(np.float32)
    else:
        c1 = np.clip(c0 + rng.uniform(-0.3, 0.3, 3), 0.3, 1.0)
        t = (y / h) if kind == "gradient" else (0.5 * x / w + 0.5 * y / h)
        img = (c0[None, None] * (1 - t[..., None]) + c1[None, None] * t[..., None]).astype(np.float32)
    r2 = ((x - w / 2) / (w / 2)) ** 2 + ((y - h / 2) / (h / 2)) ** 2
    vignette = 1 - rng.uniform(0.1, 0.25) * r2 / 2  # 10-25 % darker in the corners
    return img * vignette[..., None]


def place(frame: np.ndarray, mask: np.ndarray, rng):
    """The object's crop scaled into the canvas: ``(rgb float32, mask float32)`` at canvas size."""
    ys, xs = np.nonzero(mask)
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    h, w = CANVAS
    s = rng.uniform(0.6, 0.8) * min(w / (x1 - x0), h / (y1 - y0))
    M = np.float32([[s, 0, 0], [0, s, 0]])
    ow, oh = (x1 - x0) * s, (y1 - y0) * s
    M[0, 2] = rng.uniform(0.1 * w, w - ow - 0.1 * w if w - ow > 0.2 * w else 0.1 * w) - x0 * s
    M[1, 2] = rng.uniform(0.1 * h, h - oh - 0.1 * h if h - oh > 0.2 * h else 0.1 * h) - y0 * s
    rgb = cv2.warpAffine(frame.astype(np.float32) / 255, M, (w, h), flags=cv2.INTER_LINEAR)
    m = cv2.warpAffine(mask.astype(np.float32), M, (w, h), flags=cv2.INTER_LINEAR)
    return rgb, m


def composite(frame, mask, rng, kind: str):
    """One benchmark picture ``(rgb uint8, mask uint8 0/255)``."""
    rgb, m = place(frame, mask, rng)
    bg = backdrop(rng, kind)
    h, w = CANVAS
    shift = np.float32([[1, 0, rng.uniform(-0.02, 0.03) * w], [0, 1, rng.uniform(0.01, 0.03) * h]])
    shadow = cv2.GaussianBlur(cv2.warpAffine(m, shift, (w, h)), (0, 0), 0.02 * h)
    bg = bg * (1 - rng.uniform(0.25, 0.45) * shadow[..., None])
    soft = cv2.GaussianBlur(m, (0, 0), 0.6)[..., None]
    out = rgb * soft + bg * (1 - soft)
    out = out + rng.normal(0, rng.uniform(0.005, 0.015), out.shape)
    return (np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8), ((m >= 0.5) * 255).astype(np.uint8)


def build(out: Path, every: int, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(exist_ok=True)
    with open(DAVIS / "manifest.csv", newline="") as fh:
        seqs = [r["sequence"] for r in csv.DictReader(fh) if r["group"].startswith("N")]
    names, kinds = [], ("plain", "gradient", "diagonal")
    for seq in seqs:
        gts = sorted((DAVIS / seq / "gt").glob("*.png"))[::every]
        for i, gt in enumerate(gts):
            mask = cv2.imread(str(gt), cv2.IMREAD_GRAYSCALE) > 127
            if mask.sum() < 500:
                continue
            frame = cv2.cvtColor(cv2.imread(str(DAVIS / seq / "frames" / (gt.stem + ".jpg"))), cv2.COLOR_BGR2RGB)
            kind = kinds[(len(names)) % 3]
            img, m = composite(frame, mask, rng, kind)
            name = f"{seq}-{gt.stem}-{kind}"
            cv2.imwrite(str(out / "images" / f"{name}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
            cv2.imwrite(str(out / "masks" / f"{name}.png"), m)
            names.append(name)
    return names


def evaluate(out: Path, names) -> dict:
    sys.path.insert(0, str(ROOT))
    from livematte.evaluate import boundary_f, iou
    from livematte.stages.backdrop import BackdropKeyer

    keyer = BackdropKeyer()
    rows, times = {}, []
    for name in names:
        img = cv2.cvtColor(cv2.imread(str(out / "images" / f"{name}.png")), cv2.COLOR_BGR2RGB)
        gt = cv2.imread(str(out / "masks" / f"{name}.png"), cv2.IMREAD_GRAYSCALE) >= 128
        t = time.perf_counter()
        r = keyer(img)
        times.append(time.perf_counter() - t)
        pred = r.alpha >= 0.5
        rows[name] = {"iou": iou(pred, gt), "bf": boundary_f(pred, gt), "confidence": r.confidence}
    keys = ("iou", "bf", "confidence")
    summary = {k: float(np.mean([r[k] for r in rows.values()])) for k in keys}
    summary.update(pictures=len(rows), seconds_median=float(np.median(times)),
                   iou_min=float(min(r["iou"] for r in rows.values())))
    return {"summary": summary, "per_picture": rows}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="a folder under /tmp")
    p.add_argument("--every", type=int, default=10, help="every Nth annotated frame of each sequence")
    p.add_argument("--eval", action="store_true", help="also score the backdrop keyer")
    p.add_argument("--json", help="write the scores here")
    args = p.parse_args(argv)
    out = Path(args.out).resolve()
    if ROOT in out.parents or out == ROOT:
        sys.exit("make_backdrop_set: --out must be outside the repository (the set is made of evaluation data)")
    names = build(out, args.every)
    print(f"wrote {len(names)} pictures to {out}")
    if args.eval:
        result = evaluate(out, names)
        print(json.dumps(result["summary"], indent=1))
        worst = sorted(result["per_picture"].items(), key=lambda kv: kv[1]["iou"])[:5]
        for name, r in worst:
            print(f"  {name}: IoU {r['iou']:.3f} BF {r['bf']:.3f} confidence {r['confidence']:.2f}")
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
