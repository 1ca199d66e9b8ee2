"""Fog: how see-through a person's body is, measured without ground truth (``livematte eval --unlabeled``).

On a frame's 8-bit alpha ``(H, W)``:

* the person region is ``alpha >= 0.25``;
* its interior is that region eroded by a disc of radius 2.5% of the frame height (the soft rim
  of hair and edges is left out);
* the frame's fog is the share of the interior with ``alpha < 0.9`` (None when the interior is
  empty: no body to be foggy).

A clip's figures: the mean fog over frames with an interior, the share of those frames with fog
above 5% ("foggy frames"), and the mean frame-to-frame ``|d alpha|`` (alpha in [0, 1], over all
pixels) as a flicker measure.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

import cv2
import numpy as np

from .types import Frame, LivematteError

REGION, SOLID, RIM, FOGGY = 0.25, 0.9, 0.025, 0.05
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".gif", ".m4v")


def interior(alpha_u8: np.ndarray) -> np.ndarray:
    """bool ``(H, W)``: the person region (``alpha >= 0.25``) eroded by 2.5% of the frame height."""
    region = (alpha_u8 >= int(np.ceil(REGION * 255))).astype(np.uint8)
    r = max(1, int(round(RIM * alpha_u8.shape[0])))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    return cv2.erode(region, disc, borderType=cv2.BORDER_CONSTANT, borderValue=1) > 0


def frame_fog(alpha_u8: np.ndarray) -> Optional[float]:
    """Share of the :func:`interior` with alpha < 0.9 (uint8 alpha ``(H, W)``); None without an interior.

    >>> a = np.zeros((100, 100), np.uint8); a[10:90, 10:90] = 255; a[40:60, 40:60] = 128
    >>> round(frame_fog(a), 4)  # the 20x20 hole in the 76x76 interior (80 wide, eroded by 2 px a side)
    0.0693
    """
    inside = interior(alpha_u8)
    n = int(np.count_nonzero(inside))
    if n == 0:
        return None
    # alpha < 0.9 on the 8-bit scale: a8 / 255 < 0.9  <=>  a8 <= 229
    return float(np.count_nonzero(inside & (alpha_u8 < SOLID * 255))) / n


class FogScorer:
    """Accumulates one clip's fog figures, frame by frame in time order."""

    def __init__(self):
        self.frames = 0
        self._fog: List[float] = []
        self._flicker: List[float] = []
        self._prev: Optional[np.ndarray] = None

    def add(self, alpha_u8: np.ndarray) -> None:
        """Score one frame's uint8 alpha ``(H, W)``."""
        self.frames += 1
        f = frame_fog(alpha_u8)
        if f is not None:
            self._fog.append(f)
        if self._prev is not None:
            diff = cv2.absdiff(alpha_u8, self._prev)
            self._flicker.append(float(diff.mean()) / 255.0)
        self._prev = alpha_u8

    def result(self) -> dict:
        """``{"frames", "person_frames", "fog", "foggy", "flicker"}`` (fog / foggy None with no person)."""
        fog = np.array(self._fog)
        return {
            "frames": self.frames,
            "person_frames": int(fog.size),
            "fog": float(fog.mean()) if fog.size else None,
            "foggy": float((fog > FOGGY).mean()) if fog.size else None,
            "flicker": float(np.mean(self._flicker)) if self._flicker else None,
        }


def clips(folder) -> List[Path]:
    """The video files of ``folder`` (sorted); LivematteError when it is not a folder or holds none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise LivematteError(f"{folder}: not a folder")
    found = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
    if not found:
        raise LivematteError(f"{folder}: no video files ({', '.join(VIDEO_SUFFIXES)})")
    return found


def _score(scorer: "FogScorer", alpha) -> None:
    alpha = np.asarray(alpha)
    scorer.add(cv2.convertScaleAbs(cv2.max(np.ascontiguousarray(alpha, np.float32), 0.0), alpha=255.0))


def evaluate_unlabeled(folder, make_matter: Callable[[], Callable], *,
                       progress: Optional[Callable[[int], object]] = None) -> Dict[str, dict]:
    """Run a matter over every clip of ``folder`` and measure fog and flicker.

    Returns ``{"per_clip": {name: FogScorer.result()}, "mean": {"fog", "foggy", "flicker"}, "run":
    {"folder", "frames", "seconds"}}``; the means are over clips that had a person.
    """
    import av

    from .lookahead import matte_now, matte_rest

    files = clips(folder)
    matter = make_matter()
    per_clip: Dict[str, dict] = {}
    t0 = time.perf_counter()
    total = 0
    for path in files:
        matter.reset()
        scorer = FogScorer()
        try:
            with av.open(str(path)) as container:
                for i, frame in enumerate(container.decode(video=0)):
                    for _, alpha in matte_now(matter, Frame(image=frame.to_ndarray(format="rgb24"), index=i)):
                        _score(scorer, alpha)
                    total += 1
                    if progress is not None:
                        progress(1)
                for _, alpha in matte_rest(matter):  # a look-ahead matter's last frames
                    _score(scorer, alpha)
        except av.error.FFmpegError as err:
            raise LivematteError(f"{path}: cannot decode ({err})") from None
        per_clip[path.name] = scorer.result()
    mean = {}
    for key in ("fog", "foggy", "flicker"):
        vals = [r[key] for r in per_clip.values() if r[key] is not None]
        mean[key] = round(float(np.mean(vals)), 4) if vals else None
    return {"per_clip": per_clip, "mean": mean,
            "run": {"folder": str(folder), "frames": total, "seconds": round(time.perf_counter() - t0, 3)}}


def format_fog(results: dict) -> str:
    """A markdown table: one row per clip and the mean."""
    def pct(v):
        return "-" if v is None else f"{100 * v:.2f}"

    lines = ["| clip | frames | with a person | mean fog % | foggy frames % | mean abs d alpha % |",
             "|---|--:|--:|--:|--:|--:|"]
    for name, r in results["per_clip"].items():
        lines.append(f"| {name} | {r['frames']} | {r['person_frames']} | {pct(r['fog'])} | {pct(r['foggy'])} | "
                     f"{pct(r['flicker'])} |")
    m = results["mean"]
    lines.append(f"| **mean** | | | {pct(m['fog'])} | {pct(m['foggy'])} | {pct(m['flicker'])} |")
    return "\n".join(lines)
