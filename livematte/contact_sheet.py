"""A contact sheet of an evaluation: frames, predicted mattes and error maps, for a quick look.

One row per sequence: a label line (sequence, group, IoU / BF / dtSSD or fg %), then for each of a
few frames (first, middle, last by default) three tiles: the frame, the matte (alpha as grey) and an
error map over the dimmed frame: **green = missed person** (gt but not alpha >= 0.5), **magenta = false
foreground** (alpha >= 0.5 but not gt), faint white = correct foreground. For group N the correct matte
is empty, so every foreground pixel is magenta.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np

from .annotations import read_frame, read_mask, sample_stems, sequence_files
from .types import LivematteError

GAP = 4
LABEL_H = 22
BACKGROUND = (24, 24, 24)  # RGB
MISS = np.array([0, 220, 0], np.float32)  # RGB green
FALSE_FG = np.array([235, 0, 235], np.float32)  # RGB magenta


def error_map(image: np.ndarray, alpha_u8: np.ndarray, gt_u8: np.ndarray, no_person: bool) -> np.ndarray:
    """RGB uint8 ``(H, W, 3)``: errors of ``alpha_u8`` against ``gt_u8`` (uint8 ``(H, W)``) over ``image``."""
    pred = alpha_u8 >= 128
    gt = np.zeros_like(pred) if no_person else gt_u8 >= 128
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32) * 0.35  # (H, W)
    out = np.repeat(grey[..., None], 3, axis=2)  # (H, W, 3)
    out[pred & gt] += 60.0
    out[gt & ~pred] = MISS
    out[pred & ~gt] = FALSE_FG
    return np.clip(out, 0, 255).astype(np.uint8)


def _fit(img: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """Resize ``img`` (RGB or grey) into a ``size`` = (w, h) box keeping its aspect; RGB out, padded."""
    w, h = size
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    s = min(w / img.shape[1], h / img.shape[0])
    nw, nh = max(1, round(img.shape[1] * s)), max(1, round(img.shape[0] * s))
    small = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA)
    tile = np.full((h, w, 3), BACKGROUND, np.uint8)
    y, x = (h - nh) // 2, (w - nw) // 2
    tile[y : y + nh, x : x + nw] = small
    return tile


def _label(r: dict, seq: str) -> str:
    g = r["group"][0]
    if g == "N":
        fp = r.get("fp")
        score = "fg -" if fp is None else f"fg {100 * fp:.2f}%"
    else:
        iou, bf = r.get("iou"), r.get("bf")
        score = "IoU -" if iou is None else f"IoU {iou:.3f}  BF {bf:.3f}"
    dt = r.get("dtssd")
    return f"{seq} [{g}]  {score}  dtSSD {'-' if dt is None else f'{dt:.1f}'}"


def _mattes_for(results: dict, seq: str, stems: List[str], pred_dir: Optional[Path]) -> Dict[str, np.ndarray]:
    kept = getattr(results, "mattes", {}).get(seq, {})
    out = {s: kept[s] for s in stems if s in kept}
    if pred_dir is not None:
        for s in stems:
            if s not in out:
                m = cv2.imread(str(pred_dir / seq / f"{s}.png"), cv2.IMREAD_GRAYSCALE)
                if m is not None:
                    out[s] = m
    return out


def write_contact_sheet(
    data_dir,
    results: dict,
    out_png,
    *,
    frames_per_sequence: int = 3,
    max_width: int = 2000,
    pred_dir=None,
) -> Tuple[int, int]:
    """Draw the contact sheet of ``results`` (from :func:`livematte.evaluate.evaluate`) as a PNG.

    The mattes come from ``results.mattes`` (kept by ``evaluate``), else from ``pred_dir`` or the
    ``run.pred_dir`` recorded in the results (so results loaded back from JSON work too).

    Args:
        data_dir: the data folder that was evaluated (frames and masks are read again from it).
        results: what ``evaluate`` returned (or its JSON, loaded).
        out_png: where to write the PNG (parent folders are made).
        frames_per_sequence: frames shown per sequence (each as frame | matte | error).
        max_width: width budget in pixels; tiles are sized so the sheet is at most this wide.

    Returns:
        ``(height, width)`` of the written picture.

    Raises:
        LivematteError: no mattes available for a sequence, or the PNG cannot be written.
    """
    data_dir = Path(data_dir)
    if pred_dir is None and (results.get("run") or {}).get("pred_dir"):
        pred_dir = results["run"]["pred_dir"]
    pred_dir = None if pred_dir is None else Path(pred_dir)
    k = max(1, int(frames_per_sequence))
    cols = 3 * k
    tile_w = (max_width - (cols + 1) * GAP) // cols
    if tile_w < 16:
        raise LivematteError(f"{out_png}: max_width {max_width} is too small for {cols} tiles")

    rows = []
    tile_h = None
    for seq, r in results["per_sequence"].items():
        frames, gts = sequence_files(data_dir, seq)
        stems = sample_stems(sorted(frames.keys() & gts.keys()), k)
        mattes = _mattes_for(results, seq, stems, pred_dir)
        if not mattes:
            raise LivematteError(f"{out_png}: no mattes for sequence {seq!r} (give pred_dir)")
        tiles = []
        for stem in stems:
            image = read_frame(frames[stem])  # (H, W, 3)
            if tile_h is None:  # every tile has the aspect of the first frame
                tile_h = max(1, round(tile_w * image.shape[0] / image.shape[1]))
            a8 = mattes.get(stem)
            if a8 is None:
                tiles += [_fit(image, (tile_w, tile_h))] + [
                    np.full((tile_h, tile_w, 3), BACKGROUND, np.uint8)] * 2
                continue
            err = error_map(image, a8, read_mask(gts[stem]), r["group"].startswith("N"))
            tiles += [_fit(image, (tile_w, tile_h)), _fit(a8, (tile_w, tile_h)), _fit(err, (tile_w, tile_h))]
        rows.append((_label(r, seq), tiles))

    if not rows:
        raise LivematteError(f"{out_png}: the results hold no sequences")
    width = cols * tile_w + (cols + 1) * GAP
    height = len(rows) * (LABEL_H + tile_h + GAP) + GAP
    sheet = np.full((height, width, 3), BACKGROUND, np.uint8)  # (H, W, 3) RGB
    for i, (label, tiles) in enumerate(rows):
        y = GAP + i * (LABEL_H + tile_h + GAP)
        cv2.putText(sheet, label, (GAP, y + LABEL_H - 7), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (235, 235, 235), 1, cv2.LINE_AA)
        for j, tile in enumerate(tiles):
            x = GAP + j * (tile_w + GAP)
            sheet[y + LABEL_H : y + LABEL_H + tile_h, x : x + tile_w] = tile
        if i == 0:  # legend, right-aligned on the first label line
            legend = [("green = missed person", (60, 220, 60)), ("magenta = false foreground", (235, 60, 235))]
            x = width - GAP
            for text, colour in reversed(legend):
                (tw, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
                x -= tw
                cv2.putText(sheet, text, (x, y + LABEL_H - 7), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1,
                            cv2.LINE_AA)
                x -= 16
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out_png), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
        raise LivematteError(f"{out_png}: cannot write the contact sheet")
    return height, width
