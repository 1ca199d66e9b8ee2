"""The ``livematte`` command. The only module that prints or exits.

Exit codes: 0 success, 1 a check failed (``doctor``), 2 a user error (one line on stderr),
130 interrupted before anything was written.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional

os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe / TFLite chatter on stderr
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")

from . import __version__  # noqa: E402
from .types import LivematteError  # noqa: E402


def _add_processing_args(p: argparse.ArgumentParser, *, effect: bool = True) -> None:
    p.add_argument("--config", metavar="NAME|FILE", help="a preset from configs/ (meeting-blur, green-screen, ...) or a TOML file; flags override it")
    g = p.add_argument_group("model")
    g.add_argument("--model", metavar="NAME", help="segmenter backend (see `livematte models`; default selfie)")
    g.add_argument("--runtime", choices=["auto", "mediapipe", "litert", "torch"], help="engine for the selfie models")
    g.add_argument("--device", choices=["auto", "cpu", "cuda"], help="where the model runs")
    g.add_argument("--weights", metavar="PATH", help="checkpoint file for modnet / rvm")
    g = p.add_argument_group("mask")
    g.add_argument("--threshold", type=float, metavar="T", help="make the mask hard at T (0..1)")
    g.add_argument("--feather", type=float, metavar="PX", help="soften the edge by PX pixels")
    g.add_argument("--grow", type=int, metavar="PX", help="grow (>0) or shrink (<0) the person by PX pixels")
    g = p.add_argument_group("quality")
    g.add_argument("--refine", choices=["guided", "none"], help="edge refinement at full resolution")
    g.add_argument("--temporal", choices=["motion", "ema", "none"], help="smoothing across frames")
    g.add_argument("--smoothing", type=float, metavar="S", help="temporal smoothing strength (0..1)")
    g.add_argument("--roi", dest="roi", action="store_true", default=None, help="track the person's region (default)")
    g.add_argument("--no-roi", dest="roi", action="store_false", help="segment the whole frame only")
    g.add_argument("--pose", dest="pose", action="store_true", default=None,
                   help="also segment a whole-body person with the bundled pose model (default)")
    g.add_argument("--no-pose", dest="pose", action="store_false",
                   help="the selfie model alone on the person's crop (~9 ms less per full-body frame)")
    if effect:
        g = p.add_argument_group("effect")
        g.add_argument("--background", "-b", metavar="SPEC", help="blur[:S] | COLOR | IMAGE | VIDEO | transparent | chroma[:COLOR] | matte (default blur)")
        g.add_argument("--blur", type=float, dest="blur_strength", metavar="S", help="blur strength (sigma at 1080p, default 24)")


def _config_from_args(args):
    from .config import load_config

    cfg = load_config(args.config)
    cfg.override("model", name=args.model, runtime=args.runtime, device=args.device, weights=args.weights)
    cfg.override("mask", threshold=args.threshold, feather=args.feather, grow=args.grow)
    cfg.override("quality", refine=args.refine, temporal=args.temporal, smoothing=args.smoothing, roi=args.roi,
                 pose=args.pose)
    if hasattr(args, "crf"):
        cfg.override("output", crf=args.crf, preset=args.preset)
    if hasattr(args, "background"):
        cfg.override("effect", background=args.background, blur_strength=args.blur_strength)
    cfg.mask.validate()
    return cfg


def _progress(total: Optional[int], desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="frame", disable=not sys.stderr.isatty(), leave=False, dynamic_ncols=True)


def _report_path(path: Optional[str]) -> Optional[str]:
    """Check a report file's folder before the work that fills it (``--json``, ``--stats-json``)."""
    if path is not None:
        from .atomic import check_writable_dir

        check_writable_dir(path)
    return path


def _write_json(path: str, data) -> None:
    import json

    from .atomic import write_text

    write_text(path, json.dumps(data, indent=1))


def _warn(msg: str) -> None:
    print(f"livematte: warning: {msg}", file=sys.stderr)


def cmd_models(args) -> int:
    from .models import list_backends

    rows = list_backends()
    width = max(len(r.name) for r in rows)
    for r in rows:
        state = "available" if r.available else f"unavailable: {r.reason}"
        print(f"{r.name:<{width}}  {r.description}\n{'':<{width}}  {state}")
    return 0


def cmd_video(args) -> int:
    from . import api

    cfg = _config_from_args(args)
    stats = api.process_file(args.input, args.output, config=cfg, alpha_out=args.alpha_out,
                             progress=lambda total: _progress(total, os.path.basename(args.input)),
                             on_event=lambda m: print(f"livematte: {m}", file=sys.stderr, flush=True))
    for w in stats.warnings:
        _warn(w)
    state = "interrupted: kept" if stats.interrupted else "wrote"
    extra = f" and {args.alpha_out}" if args.alpha_out else ""
    print(f"{state} {stats.frames} frames to {args.output}{extra} ({stats.fps:.1f} fps)")
    return 130 if stats.interrupted and stats.frames == 0 else 0


def cmd_image(args) -> int:
    from . import api

    cfg = _config_from_args(args)
    written = api.process_images(args.inputs, args.output, config=cfg, fmt=args.format,
                                 progress=lambda total: _progress(total, "images"))
    for path in written:
        print(path)
    return 0


def cmd_matte(args) -> int:
    from . import api

    cfg = _config_from_args(args)
    stats = api.write_mattes(args.input, args.out, config=cfg,
                             progress=lambda total: _progress(total, os.path.basename(args.input.rstrip("/"))))
    for w in stats.warnings:
        _warn(w)
    print(f"wrote {stats.frames} mattes to {args.out}")
    return 0


def _size(text: str) -> tuple:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be WIDTHxHEIGHT, got {text!r}") from None
    if not (16 <= w <= 8192 and 16 <= h <= 8192):
        raise argparse.ArgumentTypeError(f"size must be between 16 and 8192 on each side, got {text!r}")
    return w, h


def cmd_bench(args) -> int:
    from .bench import bench

    cfg = _config_from_args(args)
    _report_path(args.json)
    result = bench(cfg, size=args.size, seconds=args.seconds, clip=args.clip, random_weights=args.random_weights)
    r = result.as_dict()
    print(f"{r['width']}x{r['height']} {r['model']} on {r['device']} ({r['machine']}), {r['frames']} frames, "
          f"background {r['background']}, weights: {r['weights']}")
    for key in ("codec_only_fps", "pipeline_fps", "matte_fps", "latency_ms_p50", "latency_ms_p95", "pipeline_vs_codec",
                "codec_cpu_ms", "pipeline_cpu_ms"):
        print(f"  {key:18s} {r[key]}")
    if args.json:
        _write_json(args.json, r)
    return 0


def cmd_eval(args) -> int:
    import dataclasses

    from .evaluate import evaluate, format_table, write_contact_sheet
    from .matter import build_matter

    cfg = _config_from_args(args)
    _report_path(args.json)
    _report_path(args.sheet)
    bar = _progress(None, "eval")
    try:
        results = evaluate(args.data_dir, lambda: build_matter(cfg), pred_dir=args.pred_dir,
                           progress=lambda n=1: bar.update(n), config=dataclasses.asdict(cfg))
    finally:
        bar.close()
    print(format_table(results))
    if args.json:
        _write_json(args.json, results)
    if args.sheet:
        write_contact_sheet(args.data_dir, results, args.sheet)
        print(f"contact sheet: {args.sheet}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from .cli_live import _positive, add_live_commands

    p = argparse.ArgumentParser(prog="livematte", description="Remove or replace the background of people in video and images.")
    p.add_argument("--version", action="version", version=f"livematte {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    s = sub.add_parser("video", help="process a video file (or a folder of frames) into a video")
    s.add_argument("input", metavar="IN")
    s.add_argument("-o", "--output", required=True, metavar="OUT", help=".mp4/.mkv (H.264), .webm (VP9, alpha), .mov (ProRes 4444 with alpha), "
                   "- (raw RGBA frames on stdout, for ffmpeg; size and rate on stderr)")
    s.add_argument("--alpha-out", metavar="FILE|DIR/", help="also write the matte: a video file, or a folder of PNGs")
    s.add_argument("--crf", type=int, help="H.264/VP9 quality, lower is better (default 20)")
    s.add_argument("--preset", help="x264 speed preset (default veryfast)")
    _add_processing_args(s)
    s.set_defaults(func=cmd_video)

    s = sub.add_parser("image", help="process still images")
    s.add_argument("inputs", nargs="+", metavar="IN")
    s.add_argument("-o", "--output", required=True, metavar="OUT", help="a file for one input, or a folder")
    s.add_argument("--format", choices=["png", "webp", "jpg"], help="file type when OUT is a folder (default png)")
    _add_processing_args(s)
    s.set_defaults(func=cmd_image)

    s = sub.add_parser("matte", help="write the alpha of every frame as 8-bit PNGs")
    s.add_argument("input", metavar="INPUT")
    s.add_argument("--out", required=True, metavar="DIR")
    _add_processing_args(s, effect=False)
    s.set_defaults(func=cmd_matte)

    s = sub.add_parser("bench", help="measure speed on this machine (codec ceiling, file pipeline, live matte loop)")
    s.add_argument("--size", type=_size, default=(1280, 720), metavar="WxH", help="clip size (default 1280x720)")
    s.add_argument("--seconds", type=_positive(float), default=10.0, metavar="N", help="clip length (default 10)")
    s.add_argument("--clip", metavar="FILE", help="use this clip instead of one made from the sample")
    s.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    s.add_argument("--random-weights", action="store_true",
                   help="modnet / rvm: random weights instead of the checkpoint (speed only; the mattes are meaningless)")
    _add_processing_args(s)
    s.set_defaults(func=cmd_bench)

    s = sub.add_parser("eval", help="score mattes against annotated video (DAVIS layout)")
    s.add_argument("data_dir", metavar="DATA_DIR")
    s.add_argument("--json", metavar="FILE", help="write per-sequence and per-group figures")
    s.add_argument("--sheet", metavar="PNG", help="draw a contact sheet (frames, mattes, errors)")
    s.add_argument("--pred-dir", metavar="DIR", help="also write the predicted mattes as PNGs")
    _add_processing_args(s, effect=False)
    s.set_defaults(func=cmd_eval)

    add_live_commands(sub)

    s = sub.add_parser("models", help="list segmenter backends and whether they are usable here")
    s.set_defaults(func=cmd_models)
    return p


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except LivematteError as err:
        print(f"livematte: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("livematte: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
