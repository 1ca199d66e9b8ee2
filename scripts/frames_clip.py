"""Build a 1280x720 H.264 clip from one sequence of the shared DAVIS data, for `livematte bench --clip`.

    .venv/bin/python scripts/frames_clip.py ../shared/data/davis2016 hike /tmp/hike720.mp4

The sequence's frames play forward, backward, forward... until 300 frames (10 s at 30 fps), upscaled
bicubically to 1280x720 (crf 18). The clip is for measuring only: write it outside the repository
(the data's licence does not let us ship it).
"""
from __future__ import annotations

import glob
import os
import sys

import av
import cv2


def main(data_dir: str, sequence: str, out_path: str, frames: int = 300) -> None:
    paths = sorted(glob.glob(os.path.join(data_dir, sequence, "frames", "*.jpg")))
    if not paths:
        sys.exit(f"frames_clip: no frames in {os.path.join(data_dir, sequence, 'frames')}")
    order = []
    while len(order) < frames:
        order += paths + paths[-2:0:-1]
    with av.open(out_path, "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
        stream.options = {"crf": "18"}
        for path in order[:frames]:
            rgb = cv2.cvtColor(cv2.resize(cv2.imread(path), (1280, 720), interpolation=cv2.INTER_CUBIC), cv2.COLOR_BGR2RGB)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        out.mux(stream.encode())
    print(f"{out_path}: {frames} frames of {sequence} at 1280x720")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
