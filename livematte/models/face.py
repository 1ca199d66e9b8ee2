"""Face boxes from MediaPipe's BlazeFace detectors (bundled in mediapipe 0.10.21), run with LiteRT.

Two models (:data:`VARIANTS`): ``short`` (128x128 input, faces within ~2 m, 896 anchors) and
``full`` (192x192, faces within ~5 m, 2304 anchors). The decoding follows MediaPipe's face
detection graph (facts read from its graph options, code written here):

* input: the image letterboxed into the square (aspect kept, zero borders), RGB in [-1, 1];
* anchors (SSD, ``fixed_anchor_size``): one grid per stride, cell centres ``(i + 0.5) / n``,
  per cell one anchor per layer of that stride, plus one more when the interpolated scale
  aspect ratio is > 0;
* boxes: ``[x, y, w, h, 6 keypoints]`` per anchor in input pixels; centre = raw / size + anchor
  centre, size = raw / size; score = sigmoid(clip(raw, -100, 100));
* kept: score >= the model's threshold, then weighted non-maximum suppression at IoU 0.3.

>>> det = FaceDetector("short")
>>> det.detect(np.zeros((90, 160, 3), np.uint8))
[]
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np

from . import bundled


@dataclass(frozen=True)
class Variant:
    """One detector: its bundled file, square input size, anchor strides and score threshold."""

    file: str
    size: int
    strides: Tuple[int, ...]
    interpolated: bool
    min_score: float


VARIANTS: Dict[str, Variant] = {
    "short": Variant("face-short-range", 128, (8, 16, 16, 16), True, 0.5),
    "full": Variant("face-full-range", 192, (4,), False, 0.6),
}

NMS_IOU = 0.3


@dataclass(frozen=True)
class Face:
    """One face: box ``(x0, y0, x1, y1)`` in image pixels (floats) and its score in [0, 1]."""

    box: Tuple[float, float, float, float]
    score: float


def anchor_centres(v: Variant) -> np.ndarray:
    """Anchor centres float32 ``(N, 2)`` as (x, y) in [0, 1], in the model's output order."""
    out = []
    i = 0
    while i < len(v.strides):
        stride = v.strides[i]
        layers = 0
        while i < len(v.strides) and v.strides[i] == stride:  # same-stride layers share one grid
            layers += 1
            i += 1
        per_cell = layers * (2 if v.interpolated else 1)
        n = -(-v.size // stride)  # ceil
        ys, xs = np.meshgrid((np.arange(n) + 0.5) / n, (np.arange(n) + 0.5) / n, indexing="ij")
        cells = np.stack([xs.ravel(), ys.ravel()], axis=1)  # (n*n, 2) row-major
        out.append(np.repeat(cells, per_cell, axis=0))
    return np.concatenate(out).astype(np.float32)


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one ``(4,)`` box with ``(K, 4)`` boxes (x0, y0, x1, y1)."""
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[2], boxes[:, 2])
    y1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def suppress(boxes: np.ndarray, scores: np.ndarray, iou: float = NMS_IOU) -> List[Tuple[np.ndarray, float]]:
    """Weighted non-maximum suppression (MediaPipe's WEIGHTED): best score first, each kept box
    the score-weighted mean of the boxes overlapping it above ``iou``; ``[(box (4,), score)]``."""
    order = np.argsort(-scores)
    kept = []
    while order.size:
        best = order[0]
        near = _iou(boxes[best], boxes[order]) > iou
        near[0] = True  # best itself, even when its box is degenerate (IoU NaN)
        group = order[near]
        weights = scores[group][:, None]
        kept.append(((boxes[group] * weights).sum(0) / weights.sum(), float(scores[best])))
        order = order[~near]
    return kept


class FaceDetector:
    """Detect faces in RGB uint8 ``(H, W, 3)`` images with the bundled ``short`` or ``full`` model.

    The interpreter is built once; one detector is not thread-safe (use one per thread).
    """

    def __init__(self, variant: str = "full", *, threads: int = 1, min_score: Optional[float] = None):
        from ai_edge_litert.interpreter import Interpreter

        if variant not in VARIANTS:
            raise ValueError(f"face detector variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
        self.variant = VARIANTS[variant]
        self.min_score = self.variant.min_score if min_score is None else float(min_score)
        self._it = Interpreter(model_path=bundled.path(self.variant.file), num_threads=max(1, int(threads)))
        self._it.allocate_tensors()
        self._input = self._it.get_input_details()[0]["index"]
        outs = sorted(self._it.get_output_details(), key=lambda d: -int(d["shape"][-1]))
        self._boxes, self._scores = outs[0]["index"], outs[1]["index"]  # (1, N, 16), (1, N, 1)
        self._anchors = anchor_centres(self.variant)  # (N, 2)

    def _letterbox(self, image: np.ndarray) -> Tuple[np.ndarray, float, float, float]:
        """The model input float32 ``(1, S, S, 3)`` in [-1, 1], the scale and the (x, y) padding in input pixels."""
        S = self.variant.size
        h, w = image.shape[:2]
        scale = S / max(h, w)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        px, py = (S - nw) // 2, (S - nh) // 2
        x = np.full((1, S, S, 3), -1.0, np.float32)  # black borders
        inner = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR).astype(np.float32)
        x[0, py:py + nh, px:px + nw] = inner * (2.0 / 255.0) - 1.0
        return x, scale, float(px), float(py)

    def detect(self, image: np.ndarray) -> List[Face]:
        """Faces in ``image`` (RGB uint8 ``(H, W, 3)``), best first, boxes clamped to the image."""
        x, scale, px, py = self._letterbox(image)
        self._it.set_tensor(self._input, x)
        self._it.invoke()
        raw = self._it.get_tensor(self._boxes)[0]  # (N, 16)
        logits = self._it.get_tensor(self._scores)[0, :, 0]  # (N,)
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits.astype(np.float64), -100.0, 100.0)))
        sure = np.flatnonzero((scores >= self.min_score) & np.isfinite(raw[:, :4]).all(1))
        if sure.size == 0:
            return []
        S = float(self.variant.size)
        centre = raw[sure, :2] / S + self._anchors[sure]  # (K, 2) in [0, 1] of the square
        half = raw[sure, 2:4] / S / 2.0
        boxes = np.concatenate([centre - half, centre + half], axis=1) * S  # square pixels
        boxes -= np.array([px, py, px, py], np.float32)
        boxes /= scale  # image pixels
        h, w = image.shape[:2]
        boxes = np.clip(boxes, 0, [w, h, w, h])
        faces = []
        for box, score in suppress(boxes, scores[sure]):
            faces.append(Face(tuple(float(v) for v in box), score))
        return faces


def faces_box(faces: List[Face]) -> Optional[Tuple[float, float, float, float]]:
    """The box around all ``faces`` (x0, y0, x1, y1), or None for no face."""
    if not faces:
        return None
    b = np.array([f.box for f in faces])
    return float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max())
