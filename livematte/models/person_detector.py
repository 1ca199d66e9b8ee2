"""Person detections from MediaPipe's BlazePose person detector (bundled ``pose_detection.tflite``).

The model (Apache-2.0, shipped by mediapipe 0.10.21) is an SSD: input ``[1, 224, 224, 3]`` RGB in
[-1, 1], the frame letterboxed (aspect kept, zero border); outputs ``[1, 2254, 12]`` regressions and
``[1, 2254, 1]`` score logits, one per anchor. The facts of MediaPipe's graph
(``modules/pose_detection/pose_detection_cpu.pbtxt``) that this decoder follows:

* anchors: 5 layers, strides 8, 16, 32, 32, 32, scales 0.1484375..0.75, aspect ratio 1 plus the
  interpolated one, fixed anchor size (w = h = 1), centres at (cell + 0.5) / cells; layers with the
  same stride share a grid, so 28x28x2 + 14x14x2 + 7x7x6 = 2254 anchors.
* regressions: ``x, y, w, h`` of a box (the *face*), then 4 keypoints ``(x, y)``, all divided by 224
  and offset by the anchor centre; keypoint 0 is the mid-hip, keypoint 1 encodes the full body's
  size (its distance to the mid-hip is the body's radius).
* score: the logit clipped to +-100, then a sigmoid.
* weighted non-maximum suppression at IoU 0.3 (overlapping boxes are averaged, weighted by score).

Here it runs with LiteRT (XNNPACK, one thread) on the host on both engines. Measured only on the
shared 2-core machine under load: 23-28 ms a run at load 5 (the landscape selfie model took 9 ms
in the same minute, 1.2 ms quiet), so roughly 3-4 ms quiet; the presence gate runs it every 4th
frame while a person is sure. Coordinates returned are normalised to the frame (0..1, x right, y down).
"""
from __future__ import annotations

from typing import List, NamedTuple, Tuple

import cv2
import numpy as np

from ..quiet import native_stderr_silenced
from ..types import LivematteError
from .bundled import path as bundled_path

SIDE = 224
_STRIDES = (8, 16, 32, 32, 32)
_MIN_SCALE, _MAX_SCALE = 0.1484375, 0.75
#: the body box is this many body radii across (MediaPipe scales its body rect by 1.25 of 2 radii)
BODY_SCALE = 2.5


class Detection(NamedTuple):
    """One person: ``score`` in [0, 1], ``face`` and ``body`` boxes ``(x0, y0, x1, y1)``, the
    mid-hip ``hip`` ``(x, y)`` and ``top``, the keypoint that gives the body's size and direction
    (mid-hip -> ``top`` points from the hips to above the head), all normalised to the frame;
    ``view``: which of a frame's detector inputs it came from (0 when there is one)."""

    score: float
    face: Tuple[float, float, float, float]
    body: Tuple[float, float, float, float]
    hip: Tuple[float, float]
    top: Tuple[float, float] = (0.0, 0.0)
    view: int = 0


def anchor_centres() -> np.ndarray:
    """float32 ``(2254, 2)`` anchor centres ``(x, y)`` in [0, 1], in the model's output order."""
    out = []
    i = 0
    while i < len(_STRIDES):
        stride, n = _STRIDES[i], 0
        while i < len(_STRIDES) and _STRIDES[i] == stride:
            n += 2  # aspect ratio 1 and the interpolated scale, per layer
            i += 1
        cells = int(np.ceil(SIDE / stride))
        c = (np.arange(cells, dtype=np.float32) + 0.5) / cells
        yy, xx = np.meshgrid(c, c, indexing="ij")  # rows first, like the model's grid
        grid = np.stack([xx.ravel(), yy.ravel()], axis=1)  # (cells*cells, 2)
        out.append(np.repeat(grid, n, axis=0))
    return np.concatenate(out).astype(np.float32)


def letterbox(image: np.ndarray) -> Tuple[np.ndarray, Tuple[float, float, float, float]]:
    """RGB uint8 ``(H, W, 3)`` -> (float32 ``(224, 224, 3)`` in [-1, 1], padding ``(left, top,
    right, bottom)`` as fractions of the square) with the aspect kept and a zero (-1 .. black) border.
    """
    h, w = image.shape[:2]
    s = SIDE / max(h, w)
    nw, nh = max(1, int(round(w * s))), max(1, int(round(h * s)))
    small = image if (nh, nw) == (h, w) else cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
    x = np.zeros((SIDE, SIDE, 3), np.float32)
    top, left = (SIDE - nh) // 2, (SIDE - nw) // 2
    x[top:top + nh, left:left + nw] = small.astype(np.float32) * np.float32(2 / 255) - 1
    # the border is 0 in [-1, 1], as MediaPipe's BORDER_ZERO on the float tensor
    return x, (left / SIDE, top / SIDE, (SIDE - left - nw) / SIDE, (SIDE - top - nh) / SIDE)


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, iou: float = 0.3) -> List[Tuple[float, np.ndarray]]:
    """Weighted non-maximum suppression: ``boxes`` float ``(n, k)`` whose first 4 columns are
    ``x0, y0, x1, y1``, ``scores`` ``(n,)``. Returns ``(score, row)`` per kept cluster, best first:
    the cluster's best score and the score-weighted mean of its rows (box and keypoints)."""
    order = np.argsort(-scores)
    left = list(order)
    out = []
    while left:
        best = left[0]
        rest = np.array(left)
        b = boxes[rest, :4]
        ix = np.clip(np.minimum(b[:, 2], boxes[best, 2]) - np.maximum(b[:, 0], boxes[best, 0]), 0, None)
        iy = np.clip(np.minimum(b[:, 3], boxes[best, 3]) - np.maximum(b[:, 1], boxes[best, 1]), 0, None)
        inter = ix * iy
        area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
        ab = (boxes[best, 2] - boxes[best, 0]) * (boxes[best, 3] - boxes[best, 1])
        overlap = inter / np.maximum(area + ab - inter, 1e-9)
        member = overlap > iou
        w = scores[rest[member]]
        out.append((float(scores[best]), (boxes[rest[member]] * w[:, None]).sum(0) / w.sum()))
        left = [int(j) for j in rest[~member]]
    return out


class PersonDetector:
    """The bundled person detector: ``detect(image)`` -> list of :class:`Detection`, best first.

    Args:
        threshold: the lowest score kept.
        threads: LiteRT threads.
    """

    input_side = SIDE

    def __init__(self, threshold: float = 0.5, threads: int = 1):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as err:  # pragma: no cover - a dependency of the package
            raise LivematteError("the person detector needs ai-edge-litert: pip install ai-edge-litert") from err
        self.threshold = float(threshold)
        model = bundled_path("pose-detector")
        with native_stderr_silenced():
            self._it = Interpreter(model_path=model, num_threads=max(1, int(threads)))
            self._it.allocate_tensors()
        self._in = self._it.get_input_details()[0]["index"]
        outs = sorted(self._it.get_output_details(), key=lambda d: int(d["shape"][-1]))
        self._score, self._reg = outs[0]["index"], outs[1]["index"]  # (1, n, 1) and (1, n, 12)
        self.anchors = anchor_centres()
        if tuple(outs[1]["shape"]) != (1, len(self.anchors), 12):
            raise LivematteError(f"{model}: unexpected outputs; mediapipe 0.10.21 ships the expected model")

    def raw(self, x: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """The model on a letterboxed input (float32 ``(224, 224, 3)``): (regressions ``(n, 12)``,
        scores ``(n,)`` after clipping and the sigmoid)."""
        self._it.set_tensor(self._in, x[None])
        self._it.invoke()
        reg = self._it.get_tensor(self._reg)[0]
        # MediaPipe clips the logit at +-100; at +-30 the sigmoid is already 0 or 1 in float32 and
        # exp cannot overflow
        logit = np.clip(self._it.get_tensor(self._score)[0, :, 0], -30.0, 30.0)
        return reg, 1.0 / (1.0 + np.exp(-logit))

    def detect(self, image: np.ndarray) -> List[Detection]:
        """RGB uint8 ``(H, W, 3)`` (any size) -> the people found, best score first."""
        x, pad = letterbox(image)
        reg, scores = self.raw(x)
        keep = scores >= self.threshold
        if not keep.any():
            return []
        a = self.anchors[keep]  # (k, 2)
        r = reg[keep] / SIDE  # (k, 12)
        cx, cy = r[:, 0] + a[:, 0], r[:, 1] + a[:, 1]
        rows = np.concatenate([np.stack([cx - r[:, 2] / 2, cy - r[:, 3] / 2, cx + r[:, 2] / 2,
                                         cy + r[:, 3] / 2], 1),
                               r[:, 4:].reshape(-1, 4, 2).__add__(a[:, None, :]).reshape(-1, 8)], 1)
        return [_unletterbox(score, row, pad) for score, row in weighted_nms(rows, scores[keep])]


def _unletterbox(score: float, row: np.ndarray, pad) -> Detection:
    """A decoded row (box + 4 keypoints on the square) -> a :class:`Detection` on the frame."""
    left, top, right, bottom = pad
    sx, sy = 1.0 / max(1e-9, 1 - left - right), 1.0 / max(1e-9, 1 - top - bottom)
    xs = (row[0::2] - left) * sx  # (6,): box x0, x1, then 4 keypoints
    ys = (row[1::2] - top) * sy
    hx, hy = float(xs[2]), float(ys[2])
    # the body radius: mid-hip to keypoint 1, on the square (aspect-true), then to frame fractions
    radius = float(np.hypot(row[6] - row[4], row[7] - row[5]))
    half = BODY_SCALE * radius / 2
    body = (hx - half * sx, hy - half * sy, hx + half * sx, hy + half * sy)
    return Detection(score, (float(xs[0]), float(ys[0]), float(xs[1]), float(ys[1])), body, (hx, hy),
                     (float(xs[3]), float(ys[3])))
