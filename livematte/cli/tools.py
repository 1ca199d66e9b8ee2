"""The measuring and checking commands: ``bench``, ``eval``, ``doctor`` and ``models``."""
from __future__ import annotations

import argparse

from ..types import LivematteError
from .common import add_processing_args, config_from_args, positive, progress, report_path, size, write_json


def cmd_models(args) -> int:
    from ..models import list_backends

    rows = list_backends()
    width = max(len(r.name) for r in rows)
    for r in rows:
        state = "available" if r.available else f"unavailable: {r.reason}"
        print(f"{r.name:<{width}}  {r.description}\n{'':<{width}}  {state}")
    return 0


def cmd_bench(args) -> int:
    from ..bench import bench
    from ..cpu_meter import format_stages

    cfg = config_from_args(args)
    report_path(args.json)
    result = bench(cfg, size=args.size, seconds=args.seconds, clip=args.clip, random_weights=args.random_weights,
                   baseline=args.baseline, live=args.live)
    r = result.as_dict()
    print(f"{r['width']}x{r['height']} {r['model']} on {r['device']} ({r['machine']}), {r['frames']} frames, "
          f"background {r['background']}, weights: {r['weights']}, the {r['path']} path's matter")
    for key in ("codec_only_fps", "pipeline_fps", "matte_fps", "latency_ms_p50", "latency_ms_p95", "pipeline_vs_codec",
                "codec_cpu_ms", "pipeline_cpu_ms", "cpu_ms_per_frame") + (
                    ("baseline_cpu_ms_per_frame", "cpu_vs_baseline") if args.baseline else ()):
        print(f"  {key:18s} {r[key]}")
    print("  CPU ms per frame by stage (means; p50 in --json):")
    print(f"    matte loop   {format_stages(_stages(r, ''))}")
    print(f"    file run     {format_stages(_stages(r, 'pipeline_'))}")
    if args.json:
        write_json(args.json, r)
    return 0


def _stages(r: dict, prefix: str) -> dict:
    return {"stage_cpu_ms_mean": r[prefix + "stage_cpu_ms_mean"], "unattributed_cpu_ms": r[prefix + "unattributed_cpu_ms"]}


def cmd_eval(args) -> int:
    import dataclasses

    from ..contact_sheet import write_contact_sheet
    from ..evaluate import evaluate, format_table
    from ..lookahead import file_matter

    cfg = config_from_args(args)
    report_path(args.json)
    report_path(args.sheet)
    if (args.data_dir is None) == (args.unlabeled is None):
        raise LivematteError("eval: give DATA_DIR (annotated, DAVIS layout) or --unlabeled DIR (videos), one of them")
    if args.unlabeled is not None:
        return _eval_unlabeled(args, cfg)
    bar = progress(None, "eval")
    try:
        results = evaluate(args.data_dir, lambda: file_matter(cfg), pred_dir=args.pred_dir,
                           progress=lambda n=1: bar.update(n), config=dataclasses.asdict(cfg), raw=_raw_model())
    finally:
        bar.close()
    print(format_table(results, per_sequence=args.per_sequence))
    if args.json:
        write_json(args.json, results)
    if args.sheet:
        write_contact_sheet(args.data_dir, results, args.sheet)
        print(f"contact sheet: {args.sheet}")
    return 0


def _raw_model():
    """The raw landscape selfie model, bilinearly upsampled to the frame: the reference for lost frames."""
    import cv2

    from ..models.selfie import create

    seg = create("selfie-landscape", runtime="litert")

    def raw(image):
        return cv2.resize(seg.predict(image), (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)

    return raw


def _eval_unlabeled(args, cfg) -> int:
    from ..fog import evaluate_unlabeled, format_fog
    from ..lookahead import file_matter

    bar = progress(None, "eval")
    try:
        results = evaluate_unlabeled(args.unlabeled, lambda: file_matter(cfg), progress=lambda n=1: bar.update(n))
    finally:
        bar.close()
    print(format_fog(results))
    if args.json:
        write_json(args.json, results)
    return 0


def cmd_doctor(args) -> int:
    from ..doctor import format_report, run_checks

    checks = run_checks(camera=args.source, vcam_device=args.vcam_device, vcam_backend=args.vcam_backend,
                        verbose=args.verbose, measure=not args.no_measure)
    print(format_report(checks))
    return 0 if all(c.ok for c in checks if c.required) else 1


def add_bench(sub) -> None:
    """``livematte bench``."""
    s = sub.add_parser("bench", help="measure speed on this machine (codec ceiling, file pipeline, live matte loop)")
    s.add_argument("--size", type=size, default=(1280, 720), metavar="WxH", help="clip size (default 1280x720)")
    s.add_argument("--seconds", type=positive(float), default=10.0, metavar="N", help="clip length (default 10)")
    s.add_argument("--clip", metavar="FILE", help="use this clip instead of one made from the sample")
    s.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    s.add_argument("--random-weights", action="store_true",
                   help="modnet / rvm: random weights instead of the checkpoint (speed only; the mattes are meaningless)")
    s.add_argument("--baseline", action="store_true",
                   help="also measure the naive recipe of the peer tools (selfie model on the frame, threshold, "
                        "feather, blur) on the same frames: CPU per frame side by side")
    s.add_argument("--live", action="store_true",
                   help="measure cam's matter (presence decided on each frame as it comes, no look-ahead) "
                        "instead of the file path's (presence decided over later frames)")
    add_processing_args(s)
    s.set_defaults(func=cmd_bench)


def add_eval(sub) -> None:
    """``livematte eval DATA_DIR``."""
    s = sub.add_parser("eval", help="score mattes against annotated video (DAVIS layout)")
    s.add_argument("data_dir", metavar="DATA_DIR", nargs="?", help="annotated clips in the DAVIS layout")
    s.add_argument("--unlabeled", metavar="DIR", help="instead: a folder of videos, scored without ground truth "
                   "(fog inside the person, flicker)")
    s.add_argument("--per-sequence", action="store_true", help="also print one row per sequence")
    s.add_argument("--json", metavar="FILE", help="write per-sequence and per-group figures")
    s.add_argument("--sheet", metavar="PNG", help="draw a contact sheet (frames, mattes, errors)")
    s.add_argument("--pred-dir", metavar="DIR", help="also write the predicted mattes as PNGs")
    add_processing_args(s, effect=False)
    s.set_defaults(func=cmd_eval)


def add_doctor(sub) -> None:
    """``livematte doctor``: exit code 0 when ``cam`` can run, 1 when not."""
    d = sub.add_parser("doctor", help="check that the live path (camera, virtual camera, models) can work here",
                       description="Checks cameras, virtual camera devices, segmenter backends, devices and model "
                                   "files; says how to fix each problem, and which --quality profile suits this "
                                   "machine (~2 s of frames through balanced and fast). Exit code 0 when `cam` can "
                                   "run, 1 when not.")
    d.add_argument("--source", metavar="0|/dev/videoN", help="check only this camera")
    d.add_argument("--vcam-device", metavar="DEV", help="check this virtual camera device")
    d.add_argument("--vcam-backend", help=argparse.SUPPRESS)
    d.add_argument("-v", "--verbose", action="store_true", help="show every camera mode")
    d.add_argument("--no-measure", action="store_true",
                   help="skip the ~2 s measurement that says which --quality profile suits this machine")
    d.set_defaults(func=cmd_doctor)


def add_models(sub) -> None:
    """``livematte models``."""
    s = sub.add_parser("models", help="list segmenter backends and whether they are usable here")
    s.set_defaults(func=cmd_models)
