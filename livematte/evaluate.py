"""Matte quality on DAVIS-layout data: the metrics behind ``livematte eval``.

Data layout (``DATA_DIR``; read by :mod:`livematte.annotations`)::

    manifest.csv            columns ``sequence`` and ``group`` (others ignored; ``width``/``height``
                            are checked when present)
    <seq>/frames/*.jpg      RGB frames, fed to the matter in sorted order
    <seq>/gt/*.png          binary person masks (0/255), same stems as the frames

Groups are keyed by the first letter of ``group``: A (one person, clean), B (main person annotated,
bystanders not), C (person plus a held or ridden object in the mask), N (no person at all: the correct
matte is empty, whatever ``gt/`` holds).

Metrics, on the alpha quantised to 8 bits exactly as a PNG would store it (``round(alpha * 255)``):

* ``iou``: mean over frames of IoU(alpha >= 0.5, gt >= 0.5); 1 when both are empty (not for N).
* ``bf``: mean boundary F-measure, boundaries matched within a 3 px disc (not for N).
* ``dtssd``: 100 x mean over consecutive frame pairs of
  ``sqrt(mean_pixels(((a_t - a_t-1) - (g_t - g_t-1)) ** 2))``; for N the gt change is taken as 0.
* ``fp`` (N only): mean fraction of pixels with alpha >= 0.5.
* ``lost`` (not for N): frames whose annotated person is kept (alpha >= 0.5) on under 10% of its
  pixels; ``raw_lost``: the same count for the raw model (``evaluate(raw=...)``) on the same frames.

A gt mask whose frame is absent counts in ``missing`` and breaks the chain of frame pairs. Group
figures are the mean of the per-sequence figures (rounded to 4 places), like the team's reference
scorer ``shared/tools/davis_metrics.py``, which gives the same numbers on PNGs written by
``evaluate(..., pred_dir=...)``.
"""
from __future__ import annotations

import math
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from .lookahead import matte_now, matte_rest
from .annotations import read_frame, read_manifest, read_mask, sample_stems, sequence_files
from .types import Frame, LivematteError

BF_TOLERANCE = 3
LOST_BELOW = 0.1  # a frame is lost when under this share of the annotated person is kept
GROUP_NAMES = {
    "A": "one person, clean",
    "B": "main person annotated, bystanders not",
    "C": "person + held/ridden object in the mask",
    "N": "no person (fg fraction should be 0)",
}
_ERODE_KERNEL = np.ones((3, 3), np.uint8)


class EvalResults(dict):
    """The JSON-ready result of :func:`evaluate` (a plain dict to ``json.dump``).

    ``mattes`` is kept beside the items (so it never reaches the JSON): ``{seq: {stem: uint8 (H, W)}}``
    for the few frames per sequence that :func:`livematte.contact_sheet.write_contact_sheet` draws.
    """

    mattes: Dict[str, Dict[str, np.ndarray]]


# ----------------------------------------------------------------------------- metrics


def quantize_alpha(alpha: np.ndarray) -> np.ndarray:
    """Alpha float ``(H, W)`` in [0, 1] -> uint8 ``(H, W)``, ``round(alpha * 255)`` as stored in a PNG.

    >>> quantize_alpha(np.array([[0.0, 0.001, 0.5, 1.2]], np.float32)).tolist()
    [[0, 0, 128, 255]]
    """
    a = np.ascontiguousarray(alpha, np.float32)
    # max(a, 0) then |a * 255| saturated to 255 and rounded half to even (same as np.rint)
    return cv2.convertScaleAbs(cv2.max(a, 0.0), alpha=255.0)


def boundary(mask: np.ndarray) -> np.ndarray:
    """Inner boundary of a bool mask ``(H, W)``: pixels of the mask with a 8-neighbour outside it.

    The picture edge does not count as outside (a mask touching the border has no boundary there).
    """
    m = mask.view(np.uint8) if mask.dtype == np.bool_ else mask.astype(np.uint8)
    return mask & (cv2.erode(m, _ERODE_KERNEL) == 0)


def boundary_f(pred: np.ndarray, gt: np.ndarray, tol: int = BF_TOLERANCE) -> float:
    """Boundary F-measure of two bool masks ``(H, W)`` with a disc tolerance of ``tol`` px.

    1.0 when neither mask has a boundary; 0.0 when only one has.

    >>> sq = np.zeros((32, 32), bool); sq[8:24, 8:24] = True
    >>> boundary_f(sq, sq), boundary_f(sq, np.roll(sq, 3, axis=1)), boundary_f(sq, np.zeros_like(sq))
    (1.0, 1.0, 0.0)
    """
    bp, bg = boundary(pred), boundary(gt)
    n_p, n_g = int(np.count_nonzero(bp)), int(np.count_nonzero(bg))
    if n_p == 0 and n_g == 0:
        return 1.0
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * tol + 1, 2 * tol + 1))
    near_g = cv2.dilate(bg.view(np.uint8), disc).view(np.bool_)
    near_p = cv2.dilate(bp.view(np.uint8), disc).view(np.bool_)
    precision = np.count_nonzero(bp & near_g) / max(n_p, 1)
    recall = np.count_nonzero(bg & near_p) / max(n_g, 1)
    if precision + recall == 0:
        return 0.0
    return float(2 * precision * recall / (precision + recall))


def iou(pred: np.ndarray, gt: np.ndarray) -> float:
    """Intersection over union of two bool masks ``(H, W)``; 1.0 when both are empty."""
    union = np.count_nonzero(pred | gt)
    return 1.0 if union == 0 else np.count_nonzero(pred & gt) / union


def dtssd_pair(a0: np.ndarray, a1: np.ndarray, g0: np.ndarray, g1: np.ndarray) -> float:
    """Temporal error x100 of one frame pair; all four are uint8 ``(H, W)`` on the 0..255 scale.

    Computed exactly in integers: ``100 * sqrt(mean(((a1-a0) - (g1-g0))**2)) / 255``.

    >>> z, o = np.zeros((2, 2), np.uint8), np.full((2, 2), 255, np.uint8)
    >>> dtssd_pair(z, o, z, z), dtssd_pair(z, o, z, o)
    (100.0, 0.0)
    """
    # (a1 - a0) - (g1 - g0) == (a1 + g0) - (a0 + g1): two int16 (H, W) sums, squared distance in double
    sq = cv2.norm(np.add(a1, g0, dtype=np.int16), np.add(a0, g1, dtype=np.int16), cv2.NORM_L2SQR)
    return 100.0 * math.sqrt(sq / a0.size) / 255.0


class SequenceScorer:
    """Accumulates the metrics of one sequence, frame by frame, in time order.

    Args:
        no_person: group N: score the predicted foreground fraction instead of IoU/BF, and take
            the gt as static for dtSSD.
    """

    def __init__(self, no_person: bool):
        self.no_person = no_person
        self.frames = 0
        self.missing = 0
        self._iou: List[float] = []
        self._bf: List[float] = []
        self._fp: List[float] = []
        self._dt: List[float] = []
        self._prev: Optional[Tuple[np.ndarray, np.ndarray]] = None
        self.lost, self.raw_lost = 0, None

    def add(self, alpha_u8: Optional[np.ndarray], gt_u8: np.ndarray, raw_u8: Optional[np.ndarray] = None) -> None:
        """Score one frame: predicted alpha and gt mask, uint8 ``(H, W)``; alpha None = missing;
        ``raw_u8`` the raw model's alpha on the frame, counted for ``raw_lost`` only."""
        self.frames += 1
        if alpha_u8 is None:
            self.missing += 1
            self._prev = None
            return
        pred = alpha_u8 >= 128  # alpha >= 0.5 on the 8-bit scale
        if self.no_person:
            self._fp.append(np.count_nonzero(pred) / pred.size)
        else:
            gt = gt_u8 >= 128
            self._iou.append(iou(pred, gt))
            self._bf.append(boundary_f(pred, gt))
            self.lost += lost(pred, gt)
            if raw_u8 is not None:
                self.raw_lost = (self.raw_lost or 0) + lost(raw_u8 >= 128, gt)
        g = np.zeros_like(gt_u8) if self.no_person else gt_u8
        if self._prev is not None:
            self._dt.append(dtssd_pair(self._prev[0], alpha_u8, self._prev[1], g))
        self._prev = (alpha_u8, g)

    def result(self) -> dict:
        """``{"frames", "missing", "dtssd", "iou", "bf"}`` or, for N, ``fp`` in place of iou/bf."""

        def mean(xs: List[float]) -> Optional[float]:
            return float(np.mean(xs)) if xs else None

        r = {"frames": self.frames, "missing": self.missing, "dtssd": mean(self._dt)}
        if self.no_person:
            r["fp"] = mean(self._fp)
        else:
            r["iou"], r["bf"] = mean(self._iou), mean(self._bf)
            r["lost"], r["raw_lost"] = self.lost, self.raw_lost
        return r


def lost(pred: np.ndarray, gt: np.ndarray) -> int:
    """1 when ``gt`` (bool, non-empty) is kept by ``pred`` (bool) on under :data:`LOST_BELOW` of its pixels."""
    n = np.count_nonzero(gt)
    return int(n > 0 and np.count_nonzero(pred & gt) < LOST_BELOW * n)


def summarize(per_sequence: Dict[str, dict]) -> Dict[str, dict]:
    """Per-group means of the per-sequence figures (rounded to 4 places) and summed ``missing``."""
    groups: Dict[str, List[dict]] = {}
    for r in per_sequence.values():
        groups.setdefault(r["group"][0], []).append(r)
    out = {}
    for key in sorted(groups):
        rows = groups[key]
        g = {}
        for k in ("iou", "bf", "dtssd", "fp"):
            vals = [r[k] for r in rows if r.get(k) is not None]
            if vals:
                g[k] = round(float(np.mean(vals)), 4)
        g["missing"] = sum(r["missing"] for r in rows)
        for k in ("lost", "raw_lost"):
            if any(r.get(k) is not None for r in rows):
                g[k] = sum(r.get(k) or 0 for r in rows)
        out[key] = g
    return out


# ----------------------------------------------------------------------------- evaluation


def _read_ahead(pool: ThreadPoolExecutor, stems, frames: dict, gts: dict, depth: int = 2):
    """Yield ``(image RGB (H, W, 3) | None, mask (H, W) | None)`` per stem, decoding ahead on ``pool``."""

    def load(stem):
        image = read_frame(frames[stem]) if stem in frames else None
        return image, (read_mask(gts[stem]) if stem in gts else None)

    pending: deque = deque()
    it = iter(stems)
    for stem in it:
        pending.append(pool.submit(load, stem))
        if len(pending) > depth:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _write_png(path: Path, a8: np.ndarray) -> None:
    if not cv2.imwrite(str(path), a8):
        raise LivematteError(f"{path}: cannot write")


def _check_size(what: str, shape, frame_shape, path) -> None:
    if tuple(shape[:2]) != tuple(frame_shape[:2]):
        raise LivematteError(
            f"{path}: {what} size {shape[1]}x{shape[0]} != frame {frame_shape[1]}x{frame_shape[0]}"
        )


def evaluate(
    data_dir,
    make_matter: Callable[[], Callable[[Frame], np.ndarray]],
    *,
    sequences: Optional[Sequence[str]] = None,
    pred_dir=None,
    progress: Optional[Callable[[int], object]] = None,
    config=None,
    sheet_frames: int = 3,
    raw: Optional[Callable[[np.ndarray], np.ndarray]] = None,
) -> EvalResults:
    """Run a matter over every sequence of ``data_dir`` and score it against the masks.

    Args:
        data_dir: a folder in the layout described in the module docstring.
        make_matter: called once, after the data has been checked, to build
            ``matter(frame) -> alpha float (H, W) in [0, 1]``; ``matter.reset()`` is called before
            each sequence, whose frames then come in sorted order as ``Frame(image, index, name=stem)``.
        sequences: only these sequences (names from the manifest), in manifest order.
        pred_dir: if given, every alpha is also written as ``pred_dir/<seq>/<stem>.png`` (8-bit grey).
        progress: called as ``progress(1)`` after each frame (``tqdm.update`` fits).
        config: any JSON-ready description of the run (model, options), stored under ``"config"``.
        sheet_frames: how many frames per sequence to keep in ``results.mattes`` for the contact sheet.
        raw: the raw model, ``image (H, W, 3) -> alpha (H, W)``, run on person sequences' frames
            for ``raw_lost``.

    Returns:
        :class:`EvalResults`: ``{"per_sequence": {seq: {"group", "frames", "missing", "dtssd",
        "iou", "bf" | "fp"}}, "groups": {"A": {"iou", "bf", "dtssd", "missing"}, ..., "N": {"fp",
        "dtssd", "missing"}}, "config": config, "run": {"data_dir", "pred_dir", "frames", "seconds",
        "fps", "matter_seconds"}}``.

    Raises:
        LivematteError: bad manifest, missing folders, unreadable files, frames of another size than
            the manifest says (or than the sequence's first frame), a mask or the matter's alpha of
            another size than its frame, an unknown name in ``sequences``.
    """
    data_dir = Path(data_dir)
    manifest = read_manifest(data_dir)
    if sequences is not None:
        known = {e.sequence for e in manifest}
        unknown = [s for s in sequences if s not in known]
        if unknown:
            raise LivematteError(f"{data_dir / 'manifest.csv'}: no sequence {unknown[0]!r}")
        manifest = [e for e in manifest if e.sequence in set(sequences)]
    if pred_dir is not None:
        pred_dir = Path(pred_dir)
        if pred_dir.resolve().is_relative_to(data_dir.resolve()):
            raise LivematteError(f"{pred_dir}: predictions must not be written inside the data folder")
    files = {e.sequence: sequence_files(data_dir, e.sequence) for e in manifest}

    t_start = time.perf_counter()
    matter = make_matter()
    t_matter = 0.0
    per_sequence: Dict[str, dict] = {}
    mattes: Dict[str, Dict[str, np.ndarray]] = {}
    n_frames = 0
    # frames and masks are decoded, and PNGs encoded, on two helper threads (OpenCV frees the GIL)
    with ThreadPoolExecutor(1) as reader, ThreadPoolExecutor(1) as writer:
        writes: List[Future] = []
        for seq, group, size in manifest:
            frames, gts = files[seq]
            keep = set(sample_stems(sorted(gts.keys() & frames.keys()), sheet_frames))
            mattes[seq] = {}
            if pred_dir is not None:
                (pred_dir / seq).mkdir(parents=True, exist_ok=True)
            scorer = SequenceScorer(group.startswith("N"))
            matter.reset()
            index = {s: i for i, s in enumerate(sorted(frames))}
            stems = sorted(frames.keys() | gts.keys())
            waiting: deque = deque()  # (stem, image, gt) in order, until the matter hands the frame out

            def score(pairs) -> int:
                """Score the frames a matter handed out (a look-ahead matter: later, in order)."""
                for frame, alpha in pairs:
                    while waiting[0][1] is None:  # a mask with no frame, in its place
                        scorer.add(None, waiting.popleft()[2])
                    stem, image, gt = waiting.popleft()
                    alpha = np.asarray(alpha)
                    if alpha.ndim == 3 and alpha.shape[2] == 1:
                        alpha = alpha[..., 0]
                    _check_size("matter alpha", alpha.shape, image.shape, frames[stem])
                    a8 = quantize_alpha(alpha)  # (H, W) uint8
                    if pred_dir is not None:
                        writes.append(writer.submit(_write_png, pred_dir / seq / f"{stem}.png", a8))
                    if gt is not None:
                        _check_size("mask", gt.shape, image.shape, gts[stem])
                        raw_a8 = None
                        if raw is not None and not scorer.no_person:
                            raw_a8 = quantize_alpha(np.asarray(raw(image)))
                        scorer.add(a8, gt, raw_a8)
                        if stem in keep:
                            mattes[seq][stem] = a8
                    if progress is not None:
                        progress(1)
                return len(pairs)

            for stem, (image, gt) in zip(stems, _read_ahead(reader, stems, frames, gts)):
                waiting.append((stem, image, gt))
                if image is None:  # a mask with no frame
                    continue
                if size is None:
                    size = image.shape[:2]
                if image.shape[:2] != size:
                    h, w = size
                    raise LivematteError(f"{frames[stem]}: size {image.shape[1]}x{image.shape[0]} != "
                                         f"{w}x{h} of the sequence (manifest or first frame)")
                t0 = time.perf_counter()
                pairs = matte_now(matter, Frame(image=image, index=index[stem], name=stem))
                t_matter += time.perf_counter() - t0
                n_frames += score(pairs)
            t0 = time.perf_counter()
            pairs = matte_rest(matter)
            t_matter += time.perf_counter() - t0
            n_frames += score(pairs)
            for _, _, gt in waiting:  # masks with no frame at the end
                scorer.add(None, gt)
            per_sequence[seq] = dict(scorer.result(), group=group)
            for w in writes:
                w.result()  # raises the first failed write
            writes.clear()
    seconds = time.perf_counter() - t_start

    results = EvalResults(
        per_sequence=per_sequence,
        groups=summarize(per_sequence),
        config=config,
        run={
            "data_dir": str(data_dir),
            "pred_dir": None if pred_dir is None else str(pred_dir),
            "frames": n_frames,
            "seconds": round(seconds, 3),
            "fps": round(n_frames / seconds, 2) if seconds > 0 else None,
            "matter_seconds": round(t_matter, 3),
        },
    )
    results.mattes = mattes
    return results


# ----------------------------------------------------------------------------- report


def _lost(r: dict) -> str:
    if r.get("lost") is None:
        return "-"
    return f"{r['lost']}" + ("" if r.get("raw_lost") is None else f" ({r['raw_lost']})")


def _fmt(v, scale: float = 1.0, digits: int = 3) -> str:
    return "-" if v is None else f"{v * scale:.{digits}f}"


def format_table(results: dict, per_sequence: bool = False) -> str:
    """A markdown table of the group figures (and optionally one row per sequence).

    Columns: group, what it holds, sequences, frames, IoU, BF, dtSSD, fg % (group N), missing.
    """
    per_seq = results["per_sequence"]
    head = "| group | what | seqs | frames | IoU | BF | dtSSD | fg % | lost (raw) | missing |"
    lines = [head, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for key, g in results["groups"].items():
        seqs = [r for r in per_seq.values() if r["group"][0] == key]
        lines.append(
            f"| {key} | {GROUP_NAMES.get(key, seqs[0]['group'] if seqs else '')} | {len(seqs)} | "
            f"{sum(r['frames'] for r in seqs)} | {_fmt(g.get('iou'))} | {_fmt(g.get('bf'))} | "
            f"{_fmt(g.get('dtssd'), digits=1)} | {_fmt(g.get('fp'), 100, 2)} | {_lost(g)} | {g['missing']} |"
        )
    if per_sequence:
        lines += ["", "| sequence | group | frames | IoU | BF | dtSSD | fg % | lost (raw) | missing |",
                  "|---|---|--:|--:|--:|--:|--:|--:|--:|"]
        for seq, r in per_seq.items():
            lines.append(
                f"| {seq} | {r['group'][0]} | {r['frames']} | {_fmt(r.get('iou'))} | "
                f"{_fmt(r.get('bf'))} | {_fmt(r.get('dtssd'), digits=1)} | "
                f"{_fmt(r.get('fp'), 100, 2)} | {_lost(r)} | {r['missing']} |"
            )
    return "\n".join(lines)
