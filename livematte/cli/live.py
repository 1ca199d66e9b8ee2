"""The live command, ``cam``: a camera (or a file played as one) in, virtual camera / window / files out."""
from __future__ import annotations

import argparse
import sys
from typing import List

from ..types import LivematteError
from .common import add_processing_args, add_subject_arg, config_from_args, positive, report_path, warn


def check_outputs(specs: List[str]) -> List[str]:
    """``specs`` (the ``--to`` values) as they are; LivematteError when one is given twice."""
    seen = set()
    for spec in specs:
        if spec in seen:
            raise LivematteError(f"--to {spec} given twice")
        seen.add(spec)
    return specs


def check_preview(outputs: List[str]) -> None:
    """Without a display, ``--to preview`` alone is an error; beside other outputs, a warning now
    (not only at the end of the run)."""
    if "preview" not in outputs:
        return
    from ..sinks.preview import display_problem

    problem = display_problem()
    if problem is None:
        return
    if outputs == ["preview"]:
        raise LivematteError(f"--to preview: {problem}; write a file (--to out.mp4), serve a page for a browser "
                             "(--to http://127.0.0.1:8765) or use --to vcam")
    warn(f"--to preview skipped: {problem}")


class StatusLine:
    """Prints the live status line on a terminal; elsewhere only loss/recovery events."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.was_lost = False
        self.width = 0

    def __call__(self, stats) -> None:
        if self.tty:
            line = stats.status_line()
            self.stream.write("\r" + line.ljust(self.width))
            self.width = len(line)
            self.stream.flush()
            return
        if stats.lost and not self.was_lost:
            print(f"livematte: source lost ({stats.lost}); retrying, the virtual camera keeps the last frame",
                  file=self.stream)
        elif self.was_lost and not stats.lost:
            print("livematte: source back", file=self.stream)
        self.was_lost = bool(stats.lost)

    def end(self) -> None:
        if self.tty and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()


def cmd_cam(args) -> int:
    from ..api import live_matter
    from ..atomic import remove_stale
    from ..io import check_output
    from ..live import EffectControls, make_sink, run_live
    from ..sources.camera import SimulatedDisconnect, is_camera, open_live_source, parse_size

    from ..profiles import for_live

    cfg = config_from_args(args)
    cfg.override("quality", live_budget=args.live_budget)
    note = for_live(cfg)  # no look-ahead live
    if note:
        warn(note)
    size = parse_size(args.size) if args.size else None
    outputs = check_outputs(args.to)
    check_preview(outputs)
    report_path(args.stats_json)
    disconnect = SimulatedDisconnect.parse(args.simulate_disconnect) if args.simulate_disconnect else None
    if args.loop and is_camera(args.source):
        raise LivematteError("--loop works with a file --source only")
    controls = EffectControls(cfg.effect.background, blur_strength=cfg.effect.blur_strength)
    for spec in outputs:
        if spec not in ("vcam", "preview", "null", "-") and "://" not in spec:  # URLs: checked by make_sink
            check_output(spec, bool(controls.effect.alpha))
            for name in remove_stale(spec):
                print(f"livematte: removed {name}, a partial file left by a run that was killed", file=sys.stderr)
    source = open_live_source(args.source, size=size, fps=args.fps, mirror=args.mirror, disconnect=disconnect)
    sinks = [make_sink(spec, vcam_device=args.vcam_device, vcam_backend=args.vcam_backend,
                       vcam_format=args.vcam_format, crf=cfg.output.crf, preset=cfg.output.live_preset,
                       allow_remote=args.allow_remote, stream_fill=args.stream_fill,
                       http_access={"token": args.token, "allow_origins": args.allow_origin},
                       on_event=lambda m: print(f"livematte: {m}", file=sys.stderr, flush=True)) for spec in outputs]
    matter = live_matter(cfg)
    status = StatusLine()
    try:
        stats = run_live(source, matter, controls, sinks, loop=args.loop, duration=args.duration,
                         max_frames=args.frames, stats_json=args.stats_json, on_status=status,
                         budget=cfg.quality.live_budget)
    finally:
        status.end()
    for w in stats.warnings:
        warn(w)
    print(stats.summary_line(), file=sys.stderr)
    for out in stats.outputs:
        if out["dropped"]:
            warn(f"{out['output']}: {out['dropped']} frames left out of the recording (the encoder fell behind)")
    return 2 if any(sink.failure for sink in sinks) else 0  # a recording failed (its line is among the warnings)


def add_cam(sub) -> None:
    """``livematte cam --to OUTPUT...``."""
    s = sub.add_parser(
        "cam", help="webcam in, background removed or blurred, out to a virtual camera / window / file",
        description="Live: a webcam (or a video file played as one) in; a virtual camera that Zoom, Meet, Teams "
                    "or OBS can select, a preview window and/or recordings out. Ctrl-C stops and finishes recordings.")
    s.add_argument("--source", default="0", metavar="0|/dev/videoN|FILE",
                   help="camera index, V4L2 device, or a video file played in real time as a camera (default 0)")
    s.add_argument("--size", metavar="WxH", help="camera mode to ask for, e.g. 1280x720 (default: the camera's own)")
    s.add_argument("--fps", type=positive(float), metavar="N", help="camera rate to ask for (a file plays at its own rate unless given)")
    s.add_argument("--mirror", action="store_true", help="flip left-right, like a mirror")
    s.add_argument("--loop", action="store_true", help="start a file --source again at its end")
    s.add_argument("--to", action="append", required=True, metavar="vcam|preview|null|FILE|URL|-",
                   help="an output; repeat for several. vcam: virtual camera; preview: a window (keys: b blur, r next "
                        "background, g green, t transparent, q quit); null: discard; FILE: a recording (.mp4/.mkv/.webm/.mov); "
                        "http://127.0.0.1:PORT: a page for OBS's Browser Source (keeps transparency); udp://HOST:PORT, "
                        "rtmp://HOST/app/key: an H.264 stream for OBS's Media Source; -: raw RGBA frames on stdout")
    s.add_argument("--duration", type=positive(float), metavar="S", help="stop after S seconds")
    s.add_argument("--frames", type=positive(int), metavar="N", help="stop after N frames out")
    s.add_argument("--stats-json", metavar="FILE", help="write fps, drops and latency figures here at exit")
    s.add_argument("--no-live-budget", dest="live_budget", action="store_false", default=None,
                   help="never leave work out when the machine falls behind the camera (by default the pose model, "
                        "the search pass and a crop tile run less often until there is room again)")
    g = s.add_argument_group("virtual camera")
    g.add_argument("--vcam-device", metavar="DEV", help="/dev/videoN (Linux) or the camera name; default the first free one")
    g.add_argument("--vcam-format", default="auto", choices=["auto", "rgb", "i420", "nv12", "yuyv", "uyvy", "bgr"],
                   help="pixel format sent to the device (default: what the device takes)")
    g.add_argument("--vcam-backend", help=argparse.SUPPRESS)  # a pyvirtualcam backend name (tests)
    o = s.add_argument_group("OBS outputs (http://, udp://, rtmp://)")
    o.add_argument("--allow-remote", action="store_true",
                   help="let --to http://ADDRESS:PORT listen on a non-loopback address (needs --token)")
    o.add_argument("--token", metavar="TOKEN",
                   help="access token for --to http://: the page is then http://HOST:PORT/?token=TOKEN (12+ URL-safe "
                        "characters, e.g. from python -c \"import secrets; print(secrets.token_urlsafe())\")")
    o.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                   help="a web origin (scheme://host[:port]) besides the page's own whose pages may connect to "
                        "--to http://; repeat for several")
    o.add_argument("--stream-fill", default="chroma", metavar="chroma[:COLOR]|blur|COLOR",
                   help="behind the person in udp/rtmp streams when --background transparent (they carry no alpha; "
                        "default chroma: green, for a Chroma Key filter)")
    s.add_argument("--simulate-disconnect", metavar="FRAMES:SECONDS", help=argparse.SUPPRESS)
    add_subject_arg(s)
    add_processing_args(s)
    s.set_defaults(func=cmd_cam)
