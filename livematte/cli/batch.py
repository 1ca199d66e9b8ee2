"""``livematte batch INPUTS... -o OUTDIR``: many files on Ray (this machine, or a cluster)."""
from __future__ import annotations

import sys

from .common import add_processing_args, config_from_args, positive, report_path, warn, write_json


def _bar(total_hint: int):
    """One tqdm bar over every input's frames (shown on a terminal only)."""
    from tqdm import tqdm

    return tqdm(total=total_hint or None, desc="batch", unit="frame", disable=not sys.stderr.isatty(),
                dynamic_ncols=True, smoothing=0.1)


def cmd_batch(args) -> int:
    from ..batch.runner import BatchOptions, require_ray, run_batch

    from ..types import LivematteError

    require_ray()
    if args.warmup < 0:
        raise LivematteError(f"--warmup must be >= 0, got {args.warmup}")
    json_path = report_path(args.json)
    cfg = config_from_args(args)
    options = BatchOptions(outdir=args.output, ray=args.ray, workers=args.workers, gpus_per_task=args.gpus_per_task,
                           segment_s=args.segment, warmup_s=args.warmup, skip_existing=not args.force,
                           recursive=args.recursive, video_ext=args.video_format, image_ext=args.format)
    bar = _bar(0)

    def on_progress(done: int, total: int, failures: int) -> None:
        if bar.total != total:
            bar.total = total
        bar.update(done - bar.n)
        bar.set_postfix(failed=failures, refresh=False)

    try:
        report = run_batch(args.inputs, cfg, options, on_progress=on_progress)
    finally:
        bar.close()
    for rep in report.inputs.values():
        for w in rep.warnings:
            warn(w)
    for rep in report.failures():
        print(f"livematte: failed: {rep.input}: {'; '.join(rep.errors)}", file=sys.stderr)
    print(report.summary())
    if json_path is not None:
        write_json(json_path, report.as_dict({"workers": args.workers, "ray": args.ray or "local"}))
    return 1 if report.failures() else 0


def add_batch(sub) -> None:
    """``livematte batch INPUTS... -o OUTDIR``."""
    s = sub.add_parser("batch", help="process many videos and images on Ray (this machine or a cluster)",
                       description="Every input (files, folders, globs) is written under OUTDIR at its relative path. "
                       "Needs Ray: pip install 'livematte[cluster]'.")
    s.add_argument("inputs", nargs="+", metavar="INPUT", help="video or image files, folders, globs ('clips/**/*.mp4')")
    s.add_argument("-o", "--output", required=True, metavar="OUTDIR")
    s.add_argument("--recursive", "-r", action="store_true", help="look into sub-folders of folder inputs")
    s.add_argument("--ray", metavar="local|auto|ADDRESS", help="local: start Ray here (default, or RAY_ADDRESS when set); "
                   "auto or ray://HOST:10001 / HOST:6379: join a running cluster")
    s.add_argument("--workers", type=positive(int), metavar="N", help="worker actors (default: one per CPU)")
    s.add_argument("--gpus-per-task", type=float, metavar="G", help="GPUs each worker asks for (default 1 when the cluster has GPUs)")
    s.add_argument("--segment", type=positive(float), default=60.0, metavar="S",
                   help="split videos longer than S seconds at keyframes across workers (default 60)")
    s.add_argument("--warmup", type=float, default=2.0, metavar="S",
                   help="seconds matted before each segment, not written, to prime smoothing and tracking (default 2)")
    s.add_argument("--force", action="store_true", help="redo outputs that exist (default: skip them)")
    s.add_argument("--skip-existing", dest="force", action="store_false", help="skip outputs that exist (default)")
    s.add_argument("--json", metavar="FILE", help="write a per-input report (status, frames, seconds, fps, workers, errors)")
    s.add_argument("--video-format", choices=["mp4", "mkv", "mov", "webm"], help="output type of videos (default: the input's, else mp4)")
    s.add_argument("--format", choices=["png", "webp", "jpg"], default="png", help="output type of images (default png)")
    s.add_argument("--crf", type=int, help="H.264/VP9 quality, lower is better (default 20)")
    s.add_argument("--preset", help="x264 speed preset (default veryfast)")
    add_processing_args(s)
    s.set_defaults(func=cmd_batch)

