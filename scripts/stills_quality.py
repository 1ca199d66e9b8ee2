"""Stills, video path against the still path: DAVIS frames run as independent stills (IoU, boundary
F, blockiness) and the blockiness of real photos; the figures of BENCHMARKS.md "Still images".

    python scripts/stills_quality.py ../shared/data
"""
from __future__ import annotations

import glob
import os
import sys
import time

import cv2
import numpy as np

from livematte.config import Config
from livematte.engine import numpy_engine
from livematte.matter import Matter
from livematte.still_matter import StillMatter
from livematte.stills_eval import evaluate_stills, blockiness


def video_path():
    m = Matter(None, Config(), engine=numpy_engine())

    def matte(image):
        m.reset()
        return m(image)
    return matte


def main(data: str) -> int:
    still = StillMatter(None, Config(), engine=numpy_engine())
    matters = {"video path": video_path(), "still path": still}
    t = time.perf_counter()
    res = evaluate_stills(os.path.join(data, "davis2016"), matters)
    print(f"DAVIS A+B+C, every 10th frame as a still ({time.perf_counter() - t:.0f} s)")
    for name, r in res.items():
        print(f"  {name:10s} IoU {r['iou']:.3f}  BF {r['bf']:.3f}  blockiness mean {r['block_mean']:.3f} "
              f"median {r['block_median']:.3f}  ({r['frames']} frames)")
    for path in sorted(glob.glob(os.path.join(data, "person-unlabeled", "images", "*.jpg"))):
        img = cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB)
        row = []
        for name, matte in matters.items():
            t = time.perf_counter()
            a = matte(img)
            row.append(f"{name} {blockiness(a):.3f} ({time.perf_counter() - t:.2f} s)")
        print(f"  {os.path.basename(path)} {img.shape[1]}x{img.shape[0]}: blockiness " + ", ".join(row))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else os.path.join("..", "shared", "data")))
