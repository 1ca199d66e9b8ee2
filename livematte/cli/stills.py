"""``livematte image``: still images, one file, a folder, or stdin, with the product and profile tools."""
from __future__ import annotations

import sys

from .common import add_processing_args, config_from_args, progress, report_path, write_json

IMAGE_HELP = ("remove or replace the background of still images: a transparent cut-out by default "
              "(a white background for JPEG)")


def cmd_image(args) -> int:
    from ..stills import StillOptions, prepare, run_items
    from ..types import LivematteError

    cfg = config_from_args(args)
    if len(args.inputs) == 1 and (args.output or "").lower().endswith(".gif"):
        return _image_to_gif(args, cfg)
    cfg.override("subject", choice=args.subject)
    cfg.override("quality", fine_edges=args.fine_edges)
    if cfg.quality.fine_edges:
        from ..stages.fine_edges import kernels_compiled

        if not kernels_compiled():  # pymatting's first import compiles them all: ~80 s of CPU on 2 cores
            print("livematte: --fine-edges: compiling pymatting's kernels, once (about a minute)", file=sys.stderr)
    options = StillOptions.parse(background=args.background, shadow=args.shadow, crop=args.crop,
                                 size=args.size, place=args.place)
    report_path(args.json)
    job, items = prepare(cfg, options, args.inputs, args.output, fmt=args.format, recursive=args.recursive)
    to_stdout = any(i.output == "-" for i in items)
    written = []

    def done(path: str) -> None:  # said at once, so an interruption leaves the list of what was written
        written.append(path)
        if not to_stdout:
            print(path, flush=True)

    def failed(path: str, message: str) -> None:
        if len(items) == 1:
            return  # one image: its error is the command's (below)
        shown = message if message.startswith(path) else f"{path}: {message}"
        print(f"livematte: error: {shown} (skipped)", file=sys.stderr, flush=True)

    bar = progress(len(items), "images") if len(items) > 1 else None
    if bar is not None:
        bar.unit = "image"
    try:
        stats = run_items(job, items, skip_existing=args.skip_existing, on_written=done, on_error=failed,
                          on_step=(lambda: bar.update(1)) if bar is not None else None)
    except KeyboardInterrupt:
        print(f"livematte: interrupted: wrote {len(written)} of {len(items)} images"
              + ("" if to_stdout else " (listed above)"), file=sys.stderr)
        return 130
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        write_json(args.json, stats.reports[0] if len(items) == 1 and stats.reports else stats.reports)
    if stats.skipped:
        print(f"livematte: skipped {len(stats.skipped)} images whose output exists", file=sys.stderr)
    if stats.failed and len(items) == 1:
        if stats.nothing_found:  # not the command's fault: said in one line, exit code 1, nothing written
            print(f"livematte: {stats.failed[0][0]}: {stats.failed[0][1]} (nothing written)", file=sys.stderr)
            return 1
        raise LivematteError(stats.failed[0][1])
    if stats.failed:
        print(f"livematte: {len(stats.failed)} of {len(items)} images failed; the others were written",
              file=sys.stderr)
        return 1
    return 0


def _image_to_gif(args, cfg) -> int:
    """``image IN -o OUT.gif``: a GIF output holds every frame, so an animated GIF or WebP goes
    through the video path (:func:`.files.run_video`), transparent unless ``--background`` says
    otherwise. A still input and the still-only tools (shadow, crop, size, place, fine edges,
    json) are one-line errors."""
    from ..io import is_still_image
    from .files import run_video
    from ..types import LivematteError

    source = args.inputs[0]
    if source == "-" or is_still_image(source):
        raise LivematteError(f"{args.output}: a .gif output is for an animated GIF or WebP input (every frame); "
                             "for a still picture write .png or .webp")
    tools = [flag for flag, value in (("--shadow", args.shadow), ("--crop", args.crop), ("--size", args.size),
                                      ("--place", args.place), ("--fine-edges", args.fine_edges),
                                      ("--json", args.json)) if value is not None]
    if tools:
        raise LivematteError(f"{args.output}: a .gif output takes every frame through the video path, "
                             f"where {', '.join(tools)} do not apply; write .png or .webp for those")
    if args.subject not in (None, "auto", "person"):
        raise LivematteError(f"{args.output}: a .gif output cuts out the person (--subject {args.subject} is for "
                             "still formats: .png, .webp)")
    if args.background is None:
        cfg.override("effect", background="transparent")
    return run_video(source, args.output, cfg)


def add_image(sub) -> None:
    """``livematte image IN... [-o OUT]``."""
    s = sub.add_parser("image", help=IMAGE_HELP, description=IMAGE_HELP + ".")
    s.add_argument("inputs", nargs="+", metavar="IN", help="image files, folders, or - (stdin)")
    s.add_argument("-o", "--output", metavar="OUT",
                   help="a file for one input, a folder (names kept), or - (stdout); default <stem>.out.png "
                        "beside each input")
    s.add_argument("--format", choices=["png", "webp", "jpg", "tif", "bmp"],
                   help="file type for a folder or stdout (default png)")
    s.add_argument("--recursive", "-r", action="store_true", help="with a folder input: its sub-folders too")
    s.add_argument("--skip-existing", action="store_true", help="leave images whose output exists (resume a batch)")
    s.add_argument("--json", metavar="FILE", help="write a report per image (subject, confidence, box, sizes, "
                   "model, timings)")
    g = s.add_argument_group("tools")
    g.add_argument("--shadow", nargs="?", const="", metavar="OFFSET,BLUR,OPACITY",
                   help="a soft drop shadow under the subject (fractions of the height; default 0.015,0.02,0.45)")
    g.add_argument("--crop", metavar="face[:ZOOM]|subject[:MARGIN]",
                   help="crop to the faces (box / ZOOM, default 0.5) or to the subject (margin, default 0.05)")
    g.add_argument("--size", metavar="WxH[:fit|cover]", help="the output's size: fit (padded) or cover (trimmed)")
    g.add_argument("--place", metavar="SCALE[@X,Y]", help="scale the subject to SCALE of the picture, centred at X,Y")
    g.add_argument("--subject", metavar="auto|person|object",
                   help="auto (default): a person if one is found, else the salient object (an installed object "
                        "model, else the backdrop keyer); person; object")
    g.add_argument("--fine-edges", action="store_true", default=None,
                   help="alpha matting on the edge band and the foreground's own colours there (hair, fur; pymatting)")
    add_processing_args(s, temporal=False)
    s.set_defaults(func=cmd_image)
