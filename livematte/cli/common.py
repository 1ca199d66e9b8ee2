"""What several commands share: the processing flags, the Config they make, and small output helpers.

Nothing here prints except :func:`warn`; errors are raised as LivematteError (or, for flag values,
``argparse.ArgumentTypeError``) and mapped to exit codes by :func:`livematte.cli.main`.
"""
from __future__ import annotations

import argparse
import sys
from typing import Optional

ENGINE_HELP = ("which implementation runs the frame algorithm: auto (torch on CUDA, numpy+OpenCV on the CPU), "
               "numpy, torch (with --device cpu: the torch engine on the CPU, for debugging)")


def add_processing_args(p: argparse.ArgumentParser, *, effect: bool = True, temporal: bool = True) -> None:
    """Add ``--config`` and the model / mask / quality (and, with ``effect``, effect) flags to ``p``;
    ``temporal=False`` leaves out the flags about smoothing across frames (stills)."""
    p.add_argument("--config", metavar="NAME|FILE", help="a shipped preset (meeting-blur, green-screen, ...) or a TOML file; "
                   "flags override it")
    g = p.add_argument_group("model")
    g.add_argument("--model", metavar="NAME", help="segmenter backend (see `livematte models`; default selfie)")
    g.add_argument("--runtime", choices=["auto", "mediapipe", "litert", "torch"], help="engine for the selfie models")
    g.add_argument("--device", choices=["auto", "cpu", "cuda"], help="where the model runs")
    g.add_argument("--engine", choices=["auto", "numpy", "torch"], help=ENGINE_HELP)
    g.add_argument("--weights", metavar="PATH", help="checkpoint file for modnet / rvm")
    g = p.add_argument_group("mask")
    g.add_argument("--threshold", type=float, metavar="T", help="make the mask hard at T (0..1)")
    g.add_argument("--feather", type=float, metavar="PX", help="soften the edge by PX pixels")
    g.add_argument("--grow", type=int, metavar="PX", help="grow (>0) or shrink (<0) the person by PX pixels")
    g = p.add_argument_group("quality")
    g.add_argument("--refine", choices=["guided", "none"], help="edge refinement at full resolution")
    g.add_argument("--raw", action="store_true", default=None,
                   help="the backend's own mask and nothing else (no crop, refinement, smoothing or mask options)")
    if temporal:
        g.add_argument("--quality", dest="profile", choices=["fast", "balanced", "best"],
                       help="quality profile: fast (weak laptops: less CPU), balanced (default), best (files: "
                            "look-ahead smoothing; cam runs balanced); flags and preset keys override its settings")
        g.add_argument("--temporal", choices=["motion", "ema", "none"], help="smoothing across frames")
        g.add_argument("--smoothing", type=float, metavar="S", help="temporal smoothing strength (0..1)")
    g.add_argument("--roi", dest="roi", action="store_true", default=None, help="track the person's region (default)")
    g.add_argument("--no-roi", dest="roi", action="store_false", help="segment the whole frame only")
    g.add_argument("--pose", dest="pose", action="store_true", default=None,
                   help="also segment a whole-body person with the bundled pose model (default)")
    g.add_argument("--no-pose", dest="pose", action="store_false",
                   help="the selfie model alone on the person's crop (~9 ms less per full-body frame)")
    g.add_argument("--presence", dest="presence", action="store_true", default=None,
                   help="the bundled person and face detectors decide whether anyone is there: with nobody in view "
                        "the matte fades to empty (default; files decide over the next 32 frames)")
    g.add_argument("--no-presence", dest="presence", action="store_false",
                   help="no person or face detector: the segmenter alone decides whether anyone is there "
                        "(an animal or a vehicle may be kept)")
    g.add_argument("--no-solid", dest="solid", action="store_false", default=None,
                   help="leave the model's unsure alpha inside the person (see-through bodies)")
    if effect:
        g = p.add_argument_group("effect")
        g.add_argument("--background", "-b", metavar="SPEC", help="blur[:S] | COLOR | IMAGE | VIDEO | transparent | chroma[:COLOR] | matte (default blur)")
        g.add_argument("--blur", type=float, dest="blur_strength", metavar="S", help="blur strength (sigma at 1080p, default 24)")


SUBJECT_HELP = ("who the matte keeps: main (default: the principal person, plus anyone about as close to the "
                "camera), all (every person), or ids like 2 or 1,3 (as `livematte matte IN --layers --out DIR` lists "
                "them in DIR/tracks.json)")


def add_subject_arg(p: argparse.ArgumentParser) -> None:
    """``--subject main|all|ID[,ID...]`` for the frame-sequence commands (``video``, ``matte``,
    ``cam``); ``image`` has its own (``auto|person|object``)."""
    p.add_argument("--subject", metavar="main|all|ID[,ID...]", help=SUBJECT_HELP)
    p.set_defaults(video_subject=True)


def video_subject(text: str) -> str:
    """The frame-sequence ``--subject`` checked: main, all or person ids; one-line LivematteError otherwise."""
    from ..subject.choice import parse_subject
    from ..types import LivematteError

    bad = f"--subject {text!r}: choose main, all, or person ids (1, 2, ...) like 1,3"
    try:
        choice = parse_subject(text)
    except LivematteError:
        raise LivematteError(bad) from None
    if choice.kind in ("person", "object") or (choice.kind == "ids" and 0 in choice.ids):
        raise LivematteError(bad)
    return text.strip().lower()


def config_from_args(args):
    """The :class:`~livematte.config.Config` of ``args``: the ``--config`` preset, then the flags given.

    Raises LivematteError on an unknown preset or a bad value (model engine, mask options).
    """
    from ..config import load_config
    from ..config_check import check_config
    from ..profiles import resolve_profile

    cfg = load_config(args.config)
    cfg.override("model", name=args.model, runtime=args.runtime, device=args.device, engine=args.engine,
                 weights=args.weights)
    cfg.override("mask", threshold=args.threshold, feather=args.feather, grow=args.grow)
    cfg.override("quality", raw=getattr(args, "raw", None))
    cfg.override("quality", refine=args.refine, temporal=getattr(args, "temporal", None),
                 smoothing=getattr(args, "smoothing", None), roi=args.roi,
                 pose=args.pose, presence=args.presence,
                 solid=args.solid, profile=getattr(args, "profile", None))
    resolve_profile(cfg)  # the profile's values for the keys that were not given
    if getattr(args, "video_subject", False) and args.subject is not None:
        cfg.override("subject", choice=video_subject(args.subject))
    if hasattr(args, "crf"):
        cfg.override("output", crf=args.crf, preset=args.preset)
    if hasattr(args, "background"):
        cfg.override("effect", background=args.background, blur_strength=args.blur_strength)
    check_config(cfg, "flags")  # every value: type, finite, in range
    return cfg


def progress(total: Optional[int], desc: str):
    """A tqdm bar on stderr, shown only on a terminal."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="frame", disable=not sys.stderr.isatty(), leave=False, dynamic_ncols=True)


def report_path(path: Optional[str]) -> Optional[str]:
    """Check a report file's folder before the work that fills it (``--json``, ``--stats-json``)."""
    if path is not None:
        from ..atomic import check_writable_dir

        check_writable_dir(path)
    return path


def write_json(path: str, data) -> None:
    """Write ``data`` as indented JSON to ``path``, atomically."""
    import json

    from ..atomic import write_text

    write_text(path, json.dumps(data, indent=1))


def warn(msg: str) -> None:
    """One ``livematte: warning: ...`` line on stderr."""
    print(f"livematte: warning: {msg}", file=sys.stderr)


def positive(kind):
    """An argparse ``type=`` that parses ``kind`` (int, float) and refuses values <= 0."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value

    return parse


def size(text: str) -> tuple:
    """An argparse ``type=`` for ``WIDTHxHEIGHT`` (16..8192 a side) -> ``(w, h)``."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be WIDTHxHEIGHT, got {text!r}") from None
    if not (16 <= w <= 8192 and 16 <= h <= 8192):
        raise argparse.ArgumentTypeError(f"size must be between 16 and 8192 on each side, got {text!r}")
    return w, h
