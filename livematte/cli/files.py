"""The file commands: ``video`` (a video or a folder of frames into a video) and ``matte``
(``image`` is :mod:`.stills`)."""
from __future__ import annotations

import os
import sys

from .common import add_processing_args, add_subject_arg, config_from_args, positive, progress, warn


def cmd_video(args) -> int:
    return run_video(args.input, args.output, config_from_args(args), alpha_out=args.alpha_out, fps=args.fps)


def run_video(source: str, output: str, cfg, *, alpha_out=None, fps=None) -> int:
    """Every frame of ``source`` into ``output`` with a progress bar, warnings and the one summary
    line; the exit code (130 when interrupted). Also ``image ANIMATION -o OUT.gif``."""
    from .. import api

    stats = api.process_file(source, output, config=cfg, alpha_out=alpha_out, fps=fps,
                             progress=lambda total: progress(total, os.path.basename(source)),
                             on_event=lambda m: print(f"livematte: {m}", file=sys.stderr, flush=True))
    for w in stats.warnings:
        warn(w)
    state = "interrupted: kept" if stats.interrupted else "wrote"
    extra = f" and {alpha_out}" if alpha_out else ""
    print(f"{state} {stats.frames} frames to {output}{extra} ({stats.fps:.1f} fps)")
    return 130 if stats.interrupted else 0


def cmd_matte(args) -> int:
    from .. import api

    from ..types import LivematteError

    if args.out is None:
        raise LivematteError("--layers needs --out DIR" if args.layers else "matte needs --out DIR")
    cfg = config_from_args(args)
    write = api.write_layers if args.layers else api.write_mattes
    stats = write(args.input, args.out, config=cfg,
                  progress=lambda total: progress(total, os.path.basename(args.input.rstrip("/"))))
    for w in stats.warnings:
        warn(w)
    state = "interrupted: wrote" if stats.interrupted else "wrote"
    what = "frames of layers and tracks.json" if args.layers else "mattes"
    print(f"{state} {stats.frames} {what} to {args.out}")
    return 130 if stats.interrupted else 0


def add_video(sub) -> None:
    """``livematte video IN -o OUT``."""
    s = sub.add_parser("video", help="process a video file (or a folder of frames) into a video",
                       description="Remove, blur or replace the background of a video file, or of a folder of "
                                   "numbered frames, frame by frame, into a video (audio kept where the container "
                                   "can carry it). Ctrl-C stops and keeps a playable file of what was done.")
    s.add_argument("input", metavar="IN", help="a video file, or a folder of frames (PNG/JPEG/WebP..., in name order)")
    s.add_argument("--fps", type=positive(float), metavar="N",
                   help="frame rate of a folder of frames IN (default 30; a video file keeps its own)")
    s.add_argument("-o", "--output", required=True, metavar="OUT", help=".mp4/.mkv (H.264), .webm (VP9, alpha), .mov (ProRes 4444 with alpha), "
                   ".gif (1-bit alpha), DIR/ or NAME%%05d.png|webp (numbered images, alpha), "
                   "- (raw RGBA frames on stdout, for ffmpeg; size and rate on stderr)")
    s.add_argument("--alpha-out", metavar="FILE|DIR/", help="also write the matte: a video file, or a folder of PNGs")
    s.add_argument("--crf", type=int, help="H.264/VP9 quality, lower is better (default 20)")
    s.add_argument("--preset", help="x264 speed preset (default veryfast)")
    add_subject_arg(s)
    add_processing_args(s)
    s.set_defaults(func=cmd_video)


def add_matte(sub) -> None:
    """``livematte matte INPUT --out DIR``."""
    s = sub.add_parser("matte", help="write the alpha of every frame as 8-bit PNGs",
                       description="Write the matte (alpha, 0 background .. 255 person) of every frame of a video "
                                   "or folder of frames as 8-bit grey PNGs: DIR/00000.png, DIR/00001.png ...")
    s.add_argument("input", metavar="INPUT", help="a video file, or a folder of frames")
    s.add_argument("-o", "--out", metavar="DIR", help="the folder for the PNGs (created if missing; required)")
    s.add_argument("--layers", action="store_true",
                   help="one matte sequence per tracked person, DIR/person-<id>/00000.png ..., and DIR/tracks.json "
                        "(id, first/last frame, a box per frame); the subject is all unless --subject says")
    add_subject_arg(s)
    add_processing_args(s, effect=False)
    s.set_defaults(func=cmd_matte)
