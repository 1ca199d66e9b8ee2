"""Host-side decisions on the full-frame model grid: which blobs are people, which are not.

These run on host numpy arrays (the model's small grid, brought down at the frame's one host sync
on a device engine) and are called by :class:`livematte.subject.planner.SubjectPlanner` for both
engines.
"""
from __future__ import annotations

from typing import NamedTuple, Optional, Tuple

import cv2
import numpy as np

Box = Tuple[float, float, float, float]


def person_blobs(prob: np.ndarray, thresh: float = 0.5, core: float = 0.9, min_core: float = 0.15,
                 keep: float = 0.25) -> Tuple[Optional[Box], np.ndarray]:
    """Split the blobs of ``prob >= thresh`` into persons and doubtful ones.

    A blob is a person when at least ``min_core`` of its pixels are confident (``prob >= core``): the
    model is sure of the middle of a real person, while a thing that merely resembles one (a ball,
    a lamp) comes out as a lukewarm blob. Of the person blobs, those at least ``keep`` times the
    largest make the box (several people make one box; specks do not stretch it).

    Args:
        prob: float32 ``(h, w)`` person probability.

    Returns:
        ``(box, doubtful)``: the persons' box in ``prob`` pixels or None, and a bool ``(h, w)`` mask of
        the doubtful blobs.

    >>> p = np.zeros((10, 10), np.float32); p[2:5, 3:7] = 1; p[8, 0] = 0.6
    >>> box, doubtful = person_blobs(p)
    >>> box, int(doubtful.sum())
    ((3.0, 2.0, 7.0, 5.0), 1)
    """
    return person_box(*components(prob, thresh, core, min_core), keep)


class Components(NamedTuple):
    """The blobs of ``prob >= thresh``: ``labels`` int32 ``(h, w)`` (0: none), ``stats`` as
    ``cv2.connectedComponentsWithStats`` gives them, ``person`` bool per label (a confident core;
    False for label 0)."""

    labels: np.ndarray
    stats: np.ndarray
    person: np.ndarray


def components(prob: np.ndarray, thresh: float = 0.5, core: float = 0.9, min_core: float = 0.15) -> Components:
    """The blobs of ``prob`` float32 ``(h, w)`` and which are people (see :func:`person_blobs`)."""
    m = (prob >= thresh).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    areas = stats[:, cv2.CC_STAT_AREA].astype(np.float64)
    cores = np.bincount(labels[prob >= core], minlength=n)[:n]
    person = cores >= min_core * areas
    person[0] = False
    return Components(labels, stats, person)


def detected_blobs(stats: np.ndarray, person: np.ndarray, boxes, inside: float = 0.7,
                   least: float = 0.05) -> np.ndarray:
    """``person`` (bool per label) with the lukewarm blobs the person detector vouches for made
    people: a blob whose box lies at least ``inside`` within a detection's body box (``boxes``, grid
    pixels) and whose area is at least ``least`` of that box (not a speck). Foreground removal never
    removes a detected person: a small rider the segmenter is unsure of is kept, and opens a crop.

    >>> st = np.array([[0, 0, 10, 10, 80], [2, 2, 3, 4, 10], [7, 7, 2, 2, 4]])
    >>> detected_blobs(st, np.array([False, False, False]), [(1.0, 1.0, 6.0, 7.0)]).tolist()
    [False, True, False]
    """
    out = person.copy()
    for k in range(1, len(stats)):
        if out[k]:
            continue
        x, y, bw, bh, area = (float(v) for v in stats[k, :5])
        for b in boxes:
            ix = max(0.0, min(x + bw, b[2]) - max(x, b[0]))
            iy = max(0.0, min(y + bh, b[3]) - max(y, b[1]))
            if ix * iy >= inside * bw * bh and area >= least * (b[2] - b[0]) * (b[3] - b[1]):
                out[k] = True
                break
    return out


def join_detected(found: Optional[Box], detections, apart: float = 0.5) -> Optional[Box]:
    """``found`` (the person blobs' box, grid pixels, or None) grown to hold the best of
    ``detections`` (``(score, body)``: a body box clipped to the grid, grid pixels) apart from it:
    their overlap is under ``apart`` of the smaller of the two (an empty body box changes nothing:
    a detection on the blobs' own person, a close-up seen in part, neither). A person the detector
    sees where the segmenter has no confident blob (a small, far rider its full-frame pass sees only
    as haze) is then in the crop, and the crop pass, which sees them larger, segments them: the
    crop's outside no longer removes a detected person.

    >>> join_detected(None, [(0.8, (2.0, 3.0, 6.0, 9.0))])
    (2.0, 3.0, 6.0, 9.0)
    >>> join_detected((0.0, 0.0, 5.0, 5.0), [(0.8, (1.0, 1.0, 6.0, 4.0)), (0.9, (-1.0, -1.0, 9.0, 9.0))])
    (0.0, 0.0, 5.0, 5.0)
    >>> join_detected((0.0, 0.0, 5.0, 5.0), [(0.6, (6.0, 1.0, 9.0, 7.0)), (0.9, (7.0, 2.0, 8.0, 3.0))])
    (0.0, 0.0, 8.0, 5.0)
    """
    def area(b) -> float:
        return max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])

    def overlap(b) -> float:
        return area((max(found[0], b[0]), max(found[1], b[1]), min(found[2], b[2]), min(found[3], b[3])))

    away = [(score, b) for score, b in detections if area(b) > 0 and (
        found is None or overlap(b) < apart * min(area(b), area(found)))]
    if not away:
        return found
    b = max(away, key=lambda d: d[0])[1]
    if found is None:
        return tuple(float(v) for v in b)
    return (min(found[0], b[0]), min(found[1], b[1]), max(found[2], b[2]), max(found[3], b[3]))


def person_box(labels: np.ndarray, stats: np.ndarray, person: np.ndarray, keep: float = 0.25,
               ) -> Tuple[Optional[Box], np.ndarray]:
    """``(box, doubtful)`` of :func:`person_blobs` from :func:`components`' parts; ``person`` may
    have been changed by the subject choice (:meth:`~.planner.SubjectPlanner.plan`: a lukewarm blob
    a tracked person holds is a person, a blob of a person left out is not: it is removed)."""
    n = len(stats)
    if n <= 1:
        return None, np.zeros(labels.shape, bool)
    areas = stats[:, cv2.CC_STAT_AREA].astype(np.float64)
    doubtful = (~person)[labels] & (labels > 0)  # (h, w)
    if not person.any():
        return None, doubtful
    big = areas[person].max()
    rows = stats[person & (areas >= keep * big)]
    x0 = rows[:, cv2.CC_STAT_LEFT].min()
    y0 = rows[:, cv2.CC_STAT_TOP].min()
    x1 = (rows[:, cv2.CC_STAT_LEFT] + rows[:, cv2.CC_STAT_WIDTH]).max()
    y1 = (rows[:, cv2.CC_STAT_TOP] + rows[:, cv2.CC_STAT_HEIGHT]).max()
    return (float(x0), float(y0), float(x1), float(y1)), doubtful


def suppress(prob: np.ndarray, blobs: np.ndarray) -> np.ndarray:
    """A copy of ``prob`` float32 (h, w) zeroed over ``blobs`` (bool, same grid) and their soft
    fringe (3 grid pixels)."""
    grown = cv2.dilate(blobs.view(np.uint8), np.ones((7, 7), np.uint8))
    out = prob.copy()
    out[grown > 0] = 0.0
    return out


def outside_crop(prob: np.ndarray, crop: Tuple[int, int, int, int], frame_hw: Tuple[int, int],
                 labels: Optional[np.ndarray] = None) -> np.ndarray:
    """bool ``(h, w)`` mask of the model grid that lies outside ``crop`` (frame pixels) and is not
    within 3 cells of a blob of ``prob >= 0.5`` reaching into it: full-frame foreground (and
    lukewarm haze) away from the person the tracker follows. Every person blob of at least a
    quarter of the largest is inside the box, so this drops specks and false blobs only.
    ``labels``: those blobs already labelled (:func:`components` of ``prob`` at 0.5), else found here."""
    h, w = prob.shape
    H, W = frame_hw
    if labels is None:
        n, labels = cv2.connectedComponents((prob >= 0.5).astype(np.uint8), connectivity=8)
    else:
        n = int(labels.max()) + 1
    if n <= 1:
        return np.zeros(prob.shape, bool)
    x0, y0 = int(crop[0] * w / W), int(crop[1] * h / H)
    x1, y1 = max(x0 + 1, int(np.ceil(crop[2] * w / W))), max(y0 + 1, int(np.ceil(crop[3] * h / H)))
    inside = np.zeros(n, bool)
    inside[labels[y0:y1, x0:x1].ravel()] = True
    inside[0] = False
    keep = inside[labels]
    keep[y0:y1, x0:x1] = True
    keep = cv2.dilate(keep.view(np.uint8), np.ones((7, 7), np.uint8)) > 0
    return ~keep
