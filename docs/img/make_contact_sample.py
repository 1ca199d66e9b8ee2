"""Make docs/img/contact-sample.png: the raw model against the default pipeline on samples/person.mp4.

    .venv/bin/python docs/img/make_contact_sample.py

One row per picked frame: the frame | the raw model's matte (MediaPipe general model on the whole
frame, bilinear upsampling: the issue's baseline) | the default pipeline's matte | the default
pipeline's blurred background. The sample is public domain (samples/README.md), so unlike the DAVIS
contact sheet of `livematte eval --sheet` this one can be committed.
"""
from __future__ import annotations

import os
import sys

import cv2
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, REPO)
from livematte.config import Config  # noqa: E402
from livematte.effects import make_effect  # noqa: E402
from livematte.matter import build_matter  # noqa: E402
from livematte.models import create  # noqa: E402
from livematte.sources.video import VideoFileSource  # noqa: E402
from livematte.engine import NUMPY  # noqa: E402

PERSON = os.path.join(REPO, "samples", "person.mp4")
PICKS = (20, 60, 100)
TILE_W = 400


def grey(alpha: np.ndarray) -> np.ndarray:
    a8 = cv2.convertScaleAbs(alpha, alpha=255.0)
    return cv2.merge((a8, a8, a8))


def label(tile: np.ndarray, text: str) -> np.ndarray:
    out = tile.copy()
    cv2.rectangle(out, (0, 0), (len(text) * 9 + 10, 22), (0, 0, 0), -1)
    cv2.putText(out, text, (5, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def main() -> None:
    raw_model = create("selfie")
    matter = build_matter(Config())
    blur = make_effect("blur")
    rows = []
    with VideoFileSource(PERSON) as source:
        for frame in source:
            alpha = matter(frame)  # every frame, in order: the tracker and the smoother need the past
            if frame.index not in PICKS:
                continue
            raw = NUMPY.resize_linear(raw_model.predict(frame.image), frame.image.shape[:2])
            tiles = [(frame.image, f"frame {frame.index}"), (grey(raw), "raw model"),
                     (grey(alpha), "livematte default"), (blur.apply(frame.image, alpha), "blur")]
            h = round(frame.image.shape[0] * TILE_W / frame.image.shape[1])
            rows.append(np.hstack([label(cv2.resize(t, (TILE_W, h), interpolation=cv2.INTER_AREA), s)
                                   for t, s in tiles]))
    out = os.path.join(HERE, "contact-sample.png")
    cv2.imwrite(out, cv2.cvtColor(np.vstack(rows), cv2.COLOR_RGB2BGR))
    print(out)


if __name__ == "__main__":
    main()
