"""``make demo``: run the main jobs on the shipped sample and say where the outputs are.

The sample (``samples/``) comes with the source checkout, not the wheel: from a checkout the outputs
go to ``<checkout>/out/demo``; elsewhere ``./samples`` is used and the outputs go to ``./out/demo``.
"""
from __future__ import annotations

import os
import sys

from .checkout import out_root, sample_path
from .cli import main as cli_main
from .types import LivematteError


def _show(argv, root: str) -> None:
    print("livematte " + " ".join(os.path.relpath(a, root) if os.path.isabs(a) else a for a in argv))


def main() -> int:
    try:
        clip, background = sample_path("person.mp4"), sample_path("background.jpg")
    except LivematteError as err:
        print(f"livematte: error: {err}", file=sys.stderr)
        return 2
    root = out_root()
    out = os.path.join(root, "out", "demo")
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
        _show(argv, root)
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
    _show(argv, root)
    code = cli_main(argv)
    if code:
        return code
    print("\nDemo outputs:")
    for path, what in [(blurred, "background blurred"), (replaced, "background replaced by samples/background.jpg"),
                       (cutout, "transparent PNG cut-out of one frame")]:
        print(f"  {os.path.relpath(path, root):28s} {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
