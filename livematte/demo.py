"""``make demo``: run the main jobs on the shipped sample and say where the outputs are."""
from __future__ import annotations

import os
import sys

from .cli import main as cli_main

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> int:
    clip = os.path.join(REPO, "samples", "person.mp4")
    background = os.path.join(REPO, "samples", "background.jpg")
    out = os.path.join(REPO, "out", "demo")
    os.makedirs(out, exist_ok=True)
    blurred = os.path.join(out, "person-blur.mp4")
    replaced = os.path.join(out, "person-replaced.mp4")
    still = os.path.join(out, "frame.png")
    cutout = os.path.join(out, "cutout.png")
    steps = [
        ["video", clip, "-o", blurred, "--background", "blur"],
        ["video", clip, "-o", replaced, "--background", background],
    ]
    for argv in steps:
        print("livematte " + " ".join(os.path.relpath(a, REPO) if os.path.isabs(a) else a for a in argv))
        code = cli_main(argv)
        if code:
            return code
    from .sinks.images import save_image
    from .sources.video import VideoFileSource

    with VideoFileSource(clip) as source:  # one frame from the middle, as a still
        middle = (source.info.frames or 1) // 2
        frame = next(f for f in source if f.index >= middle)
    save_image(still, frame.image)
    argv = ["image", still, "-o", cutout, "--background", "transparent"]
    print("livematte " + " ".join(os.path.relpath(a, REPO) if os.path.isabs(a) else a for a in argv))
    code = cli_main(argv)
    if code:
        return code
    print("\nDemo outputs:")
    for path, what in [(blurred, "background blurred"), (replaced, "background replaced by samples/background.jpg"),
                       (cutout, "transparent PNG cut-out of one frame")]:
        print(f"  {os.path.relpath(path, REPO):28s} {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
