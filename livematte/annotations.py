"""Reading DAVIS-layout evaluation data: the manifest, each sequence's frames and masks.

Shared by :mod:`livematte.evaluate` (scoring) and :mod:`livematte.contact_sheet` (drawing); see
:mod:`livematte.evaluate` for the layout. Every problem is a one-line LivematteError naming the file.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import cv2
import numpy as np

from .types import LivematteError

FRAME_EXTS = (".jpg", ".jpeg", ".png")


class Entry(NamedTuple):
    """One manifest row: the sequence folder, its group, its ``(height, width)`` when the manifest says."""

    sequence: str
    group: str
    size: Optional[Tuple[int, int]]


def read_manifest(data_dir) -> List[Entry]:
    """The rows of ``data_dir/manifest.csv`` (columns ``sequence``, ``group``, optional ``width``, ``height``)."""
    path = Path(data_dir) / "manifest.csv"
    if not path.is_file():
        raise LivematteError(f"{path}: no manifest.csv (expected columns sequence,group)")
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        cols = reader.fieldnames or []
        if "sequence" not in cols or "group" not in cols:
            raise LivematteError(f"{path}: needs columns 'sequence' and 'group', got {cols}")
        rows = list(reader)
    out: List[Tuple[str, str]] = []
    for n, row in enumerate(rows, start=2):
        seq, group = (row.get("sequence") or "").strip(), (row.get("group") or "").strip()
        if not seq or not group:
            raise LivematteError(f"{path}: line {n}: empty sequence or group")
        if any(seq == e.sequence for e in out):
            raise LivematteError(f"{path}: line {n}: sequence {seq!r} listed twice")
        w, h = (row.get("width") or "").strip(), (row.get("height") or "").strip()
        try:
            size = (int(h), int(w)) if w and h else None
        except ValueError:
            raise LivematteError(f"{path}: line {n}: width/height {w!r}/{h!r} are not integers") from None
        out.append(Entry(seq, group, size))
    if not out:
        raise LivematteError(f"{path}: lists no sequences")
    return out


def sequence_files(data_dir, seq: str) -> Tuple[Dict[str, Path], Dict[str, Path]]:
    """``(frames, gts)``: ``{stem: path}`` of ``<seq>/frames/*.jpg`` and ``<seq>/gt/*.png``."""
    root = Path(data_dir) / seq
    frames_dir, gt_dir = root / "frames", root / "gt"
    for d in (frames_dir, gt_dir):
        if not d.is_dir():
            raise LivematteError(f"{d}: missing folder (sequence {seq!r} of the manifest)")
    frames = {p.stem: p for p in frames_dir.iterdir() if p.suffix.lower() in FRAME_EXTS}
    gts = {p.stem: p for p in gt_dir.iterdir() if p.suffix.lower() == ".png"}
    if not frames:
        raise LivematteError(f"{frames_dir}: no frames (*.jpg)")
    if not gts:
        raise LivematteError(f"{gt_dir}: no masks (*.png)")
    return frames, gts


def read_frame(path: Path) -> np.ndarray:
    """RGB uint8 ``(H, W, 3)``."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise LivematteError(f"{path}: cannot read the image")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def read_mask(path: Path) -> np.ndarray:
    """Grey uint8 ``(H, W)``."""
    m = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if m is None:
        raise LivematteError(f"{path}: cannot read the mask")
    return m


def sample_stems(stems: Sequence[str], k: int) -> List[str]:
    """``k`` stems spread evenly over ``stems`` (first, ..., last); all of them when fewer.

    >>> sample_stems(["a", "b", "c", "d", "e"], 3)
    ['a', 'c', 'e']
    """
    if k <= 0 or not stems:
        return []
    if len(stems) <= k:
        return list(stems)
    idx = np.rint(np.linspace(0, len(stems) - 1, k)).astype(int)
    return [stems[i] for i in dict.fromkeys(idx.tolist())]
