"""The still tools' geometry, on the host: boxes, crops, fit / cover, placing the subject.

Boxes are ``(x0, y0, x1, y1)`` in pixels (floats for measured boxes, ints for crops: ``x1``
exclusive). Every tool takes and returns the pair ``image`` RGB uint8 ``(H, W, 3)`` and
``alpha`` float32 ``(H, W)``, changed together so the matte stays on the subject.
"""
from __future__ import annotations

from typing import Optional, Tuple

import cv2
import numpy as np

from .options import Place, Size

Box = Tuple[float, float, float, float]

#: alpha at or above this is the subject when its box is measured
SUBJECT_LEVEL = 0.5


def subject_box(alpha: np.ndarray, level: float = SUBJECT_LEVEL) -> Optional[Tuple[int, int, int, int]]:
    """The box of the pixels with ``alpha >= level`` (``x1``, ``y1`` exclusive), or None when there are none."""
    sure = alpha >= level  # (H, W) bool
    rows, cols = np.flatnonzero(sure.any(axis=1)), np.flatnonzero(sure.any(axis=0))
    if rows.size == 0:
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def clamp_box(cx: float, cy: float, w: float, h: float, size: Tuple[int, int]) -> Tuple[int, int, int, int]:
    """A ``w`` x ``h`` box centred at ``(cx, cy)``, shrunk to the image ``size`` = (W, H) and moved
    inside it (the centre shifts, the size is kept when it fits)."""
    W, H = size
    w, h = min(max(1.0, w), W), min(max(1.0, h), H)
    x0 = min(max(0.0, cx - w / 2), W - w)
    y0 = min(max(0.0, cy - h / 2), H - h)
    return int(round(x0)), int(round(y0)), int(round(x0 + w)), int(round(y0 + h))


def face_crop(faces: Box, zoom: float, size: Tuple[int, int]) -> Tuple[int, int, int, int]:
    """The crop for the faces' box: the box's size / ``zoom`` around its centre, clamped to ``size`` = (W, H)."""
    x0, y0, x1, y1 = faces
    return clamp_box((x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / zoom, (y1 - y0) / zoom, size)


def subject_crop(box: Tuple[int, int, int, int], margin: float, size: Tuple[int, int]) -> Tuple[int, int, int, int]:
    """The subject's box grown by ``margin`` times its larger side on every edge, cut at the image's edges."""
    x0, y0, x1, y1 = box
    m = margin * max(x1 - x0, y1 - y0)
    W, H = size
    return (max(0, int(np.floor(x0 - m))), max(0, int(np.floor(y0 - m))),
            min(W, int(np.ceil(x1 + m))), min(H, int(np.ceil(y1 + m))))


def crop(image: np.ndarray, alpha: np.ndarray, box: Tuple[int, int, int, int]):
    """``image`` and ``alpha`` cut to ``box`` (contiguous copies)."""
    x0, y0, x1, y1 = box
    return np.ascontiguousarray(image[y0:y1, x0:x1]), np.ascontiguousarray(alpha[y0:y1, x0:x1])


def _resize(x: np.ndarray, w: int, h: int) -> np.ndarray:
    shrink = w < x.shape[1] or h < x.shape[0]
    return cv2.resize(x, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def fit_or_cover(image: np.ndarray, alpha: np.ndarray, size: Size):
    """Scale to ``size``: ``fit`` keeps all of the picture (the rest padded: black, alpha 0, so the
    background shows there), ``cover`` fills it and trims the middle. Aspect kept both ways."""
    H, W = image.shape[:2]
    ratio = (min if size.mode == "fit" else max)(size.width / W, size.height / H)
    w, h = max(1, round(W * ratio)), max(1, round(H * ratio))
    image, alpha = _resize(image, w, h), _resize(alpha, w, h)
    if size.mode == "cover":
        x0, y0 = (w - size.width) // 2, (h - size.height) // 2
        return crop(image, alpha, (x0, y0, x0 + size.width, y0 + size.height))
    canvas = np.zeros((size.height, size.width, 3), np.uint8)
    matte = np.zeros((size.height, size.width), np.float32)
    x0, y0 = (size.width - w) // 2, (size.height - h) // 2
    canvas[y0:y0 + h, x0:x0 + w] = image
    matte[y0:y0 + h, x0:x0 + w] = alpha
    return canvas, matte


def place(image: np.ndarray, alpha: np.ndarray, where: Place):
    """Move the subject: its box scaled to fit ``where.scale`` of the picture, centred at
    ``(where.x, where.y)``; the picture keeps its size (the image's edge pixels repeat, the alpha
    is 0 outside). Unchanged when there is no subject."""
    box = subject_box(alpha)
    if box is None:
        return image, alpha
    H, W = image.shape[:2]
    x0, y0, x1, y1 = box
    s = where.scale * min(W / (x1 - x0), H / (y1 - y0))
    tx, ty = where.x * W - s * (x0 + x1) / 2, where.y * H - s * (y0 + y1) / 2
    m = np.array([[s, 0.0, tx], [0.0, s, ty]], np.float64)
    image = cv2.warpAffine(image, m, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    alpha = cv2.warpAffine(alpha, m, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return image, alpha
