"""Seams of a segmented video against one run of the whole file, for a few warm-up lengths.

    .venv/bin/python scripts/batch_seams.py

The 45-frame 160x120 clip of tests/test_batch.py (keyframe every 15 frames) in 3 segments, the matte
written losslessly (crf 0), each segment on one BatchWorker (no Ray needed), joined, then compared
with api.process_file of the whole clip. Prints, per warm-up: mean |Δ| per frame at the seams (the
frames either side of each cut), the largest mean |Δ| elsewhere, and the largest |Δ| of any pixel.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from livematte import api  # noqa: E402
from livematte.batch.plan import Item, plan_item  # noqa: E402
from livematte.batch.segments import join_parts  # noqa: E402
from livematte.batch.worker import BatchWorker  # noqa: E402
from livematte.config import Config  # noqa: E402
from tests.conftest import write_video  # noqa: E402
from tests.test_batch import CODEC, FPS, decode, person_frames  # noqa: E402


def main() -> None:
    d = Path(tempfile.mkdtemp(prefix="lm-seams-"))
    long = write_video(d / "long.mp4", frames=person_frames(45), fps=FPS, codec_options=CODEC)
    cfg = Config()
    cfg.effect.background, cfg.output.crf = "matte", 0
    api.process_file(str(long), str(d / "single.mp4"), config=cfg)
    _, single, _ = decode(d / "single.mp4")
    worker = BatchWorker(cfg)
    seams = [14, 15, 16, 29, 30, 31]
    for warm in (2.0, 1.0, 0.5, 0.0):
        parts = d / f"warm{warm}"
        item = plan_item(Item(str(long), str(parts / "joined.mp4"), "video"), segment_s=1.0, warmup_s=warm,
                         work_dir=str(parts))
        for task in item.tasks:
            error = worker.run(task)["error"]
            assert error is None, error
        join_parts([t.target for t in item.tasks], [t.start_pts or 0 for t in item.tasks], item.output,
                   audio_from=str(long))
        _, joined, _ = decode(item.output)
        diff = np.abs(joined - single).mean(axis=(1, 2))  # (45,) mean |Δ| per frame, 8-bit levels
        print(f"warm-up {warm:.1f} s: seams {diff[seams].round(3).tolist()}, elsewhere max "
              f"{np.delete(diff, seams).max():.3f}, max |Δ| {np.abs(joined - single).max():.0f}")


if __name__ == "__main__":
    main()
