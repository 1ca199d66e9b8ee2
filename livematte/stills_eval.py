"""Measures for still images: the block structure left in a matte, and DAVIS frames run as stills.

:func:`blockiness` is the share of the matte's gradient (Sobel, weighted by magnitude) in its soft
band that points within 10 degrees of the pixel axes. Edges of every direction give 80/360 = 0.22;
a staircase (a matte stepped on a model grid: 2x2 model cells are 8-16 px on a photo) gives ~1. A
photo of upright things (walls, windows) has more axis-aligned edges of its own, so compare
mattes of the same photo.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, List

import cv2
import numpy as np

from .annotations import read_frame, read_manifest, read_mask, sequence_files
from .evaluate import boundary_f, iou

#: degrees from the axes that count as axis-aligned
AXIS_DEG = 10.0


def blockiness(alpha: np.ndarray, band=(0.02, 0.98)) -> float:
    """Share of ``|grad alpha|`` within ``AXIS_DEG`` of the axes, over pixels with alpha in
    ``band`` (0 when the matte has no soft pixels). ``alpha`` float ``(H, W)``.

    >>> y, x = np.mgrid[0:256, 0:256]
    >>> smooth = np.clip((80 - np.hypot(y - 128, x - 128)) / 6, 0, 1).astype(np.float32)
    >>> blocky = cv2.resize(cv2.resize(smooth, (32, 32), interpolation=cv2.INTER_AREA), (256, 256),
    ...                     interpolation=cv2.INTER_NEAREST)
    >>> round(blockiness(smooth), 2), blockiness(blocky) > 0.8
    (0.22, True)
    """
    a = np.asarray(alpha, np.float32)
    gx = cv2.Sobel(a, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(a, cv2.CV_32F, 0, 1, ksize=3)
    mag = np.hypot(gx, gy)
    soft = (a > band[0]) & (a < band[1]) & (mag > 1e-4)
    total = float(mag[soft].sum())
    if total <= 0:
        return 0.0
    deg = np.degrees(np.arctan2(np.abs(gy[soft]), np.abs(gx[soft])))  # 0..90
    aligned = (deg < AXIS_DEG) | (deg > 90 - AXIS_DEG)
    return float(mag[soft][aligned].sum()) / total


def evaluate_stills(data_dir, matters: Dict[str, Callable], *, every: int = 10,
                    groups=("A", "B", "C")) -> Dict[str, Dict[str, float]]:
    """Every ``every``-th annotated frame of the DAVIS groups ``groups``, each run as an independent
    still through each matter of ``matters`` (name -> a callable image -> alpha, reset per call):
    mean IoU and boundary F at alpha >= 0.5, mean and median :func:`blockiness`, frames."""
    frames: List[tuple] = []
    for entry in read_manifest(data_dir):
        if entry.group[:1] not in groups:
            continue
        imgs, gts = sequence_files(data_dir, entry.sequence)
        for stem in sorted(gts)[::every]:
            frames.append((imgs[stem], gts[stem]))
    out = {}
    for name, matte in matters.items():
        ious, bfs, grids = [], [], []
        for img_path, gt_path in frames:
            alpha = np.asarray(matte(read_frame(Path(img_path))), np.float32)
            gt = read_mask(Path(gt_path)) > 127
            ious.append(iou(alpha >= 0.5, gt))
            bfs.append(boundary_f(alpha >= 0.5, gt))
            grids.append(blockiness(alpha))
        out[name] = {"iou": float(np.mean(ious)), "bf": float(np.mean(bfs)), "block_mean": float(np.mean(grids)),
                     "block_median": float(np.median(grids)), "frames": len(frames)}
    return out
