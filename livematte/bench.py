"""``livematte bench``: speed on this machine, with the codec ceiling measured in the same run.

Figures (all medians or whole-run rates, frames per second):

* ``codec_only_fps``: decode + encode through the same threaded file path with no matting: the
  ceiling for file processing on this machine.
* ``pipeline_fps``: the full offline file path (decode, matte, effect, encode).
* ``matte_fps``: matte + composite only, one frame at a time (batch 1), as live use needs, over
  frames already decoded; ``latency_ms_p50`` / ``latency_ms_p95`` are per-frame times of that loop.
* ``codec_cpu_ms`` / ``pipeline_cpu_ms``: CPU time of the whole process (all threads, the codec's
  included) per frame in those two runs. When ``pipeline_cpu_ms`` approaches the core count times
  ``1000 / pipeline_fps`` the cores are saturated, and only less work (not more overlap) is faster.
* ``cpu_ms_per_frame``: process CPU per frame of the matte loop (matte + effect, one thread);
  ``stage_cpu_ms_p50`` / ``stage_cpu_ms_mean`` / ``unattributed_cpu_ms``: the same loop per stage
  (:mod:`livematte.cpu_meter`); ``pipeline_stage_cpu_ms_*``: the file run per stage (decode and
  encode included; the matter's halves and the encoder on their own threads).
* ``quality``: the profile. With a look-ahead (``best``) frames come out of the matter in blocks, so
  the matte loop's latency figures are the time per frame given, not a live latency.
* ``path``: ``file`` (the default: the matter ``video`` and ``eval`` use, with the presence window
  of later frames and ``best``'s look-ahead) or ``live`` (``live=True``, ``bench --live``: ``cam``'s
  matter, presence decided on each frame as it comes, no look-ahead; ``cam``'s live budget is not
  in it, the loop never falls behind). Every figure of the run is of that matter.

``weights`` says what the network ran with: ``shipped`` (the selfie models), ``checkpoint`` (the
modnet / rvm file) or ``random`` (``random_weights=True``: modnet / rvm with random weights, for
speed without the checkpoint; the mattes are meaningless, the timings are not).
"""
from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from typing import Optional

import numpy as np

from .config import Config
from .cpu_meter import StageMeter, process_cpu
from .engine import numpy_engine
from .api import frame_path
from .lookahead import matte_rest, matte_now
from .pipeline import Output, run
from .types import LivematteError


@dataclass
class BenchResult:
    width: int
    height: int
    frames: int
    model: str
    background: str
    device: str
    weights: str = "checkpoint"
    codec_only_fps: float = 0.0
    pipeline_fps: float = 0.0
    matte_fps: float = 0.0
    latency_ms_p50: float = 0.0
    latency_ms_p95: float = 0.0
    pipeline_vs_codec: float = 0.0
    codec_cpu_ms: float = 0.0
    pipeline_cpu_ms: float = 0.0
    cpu_ms_per_frame: float = 0.0
    stage_cpu_ms_p50: dict = field(default_factory=dict)
    stage_cpu_ms_mean: dict = field(default_factory=dict)
    unattributed_cpu_ms: float = 0.0
    pipeline_stage_cpu_ms_p50: dict = field(default_factory=dict)
    pipeline_stage_cpu_ms_mean: dict = field(default_factory=dict)
    pipeline_unattributed_cpu_ms: float = 0.0
    quality: str = "balanced"
    path: str = "file"
    baseline_cpu_ms_per_frame: float = 0.0
    cpu_vs_baseline: float = 0.0
    versions: dict = field(default_factory=dict)
    machine: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def _versions() -> dict:
    """The versions behind a figure; torch's from its metadata unless it is loaded already (importing
    it only to name it cost a numpy-engine bench ~2.8 s of start-up on 2 cores)."""
    import av
    import cv2

    out = {"python": platform.python_version(), "numpy": np.__version__, "opencv": cv2.__version__,
           "av": av.__version__}
    try:
        from importlib.metadata import PackageNotFoundError, version

        try:
            out["torch"] = sys.modules["torch"].__version__ if "torch" in sys.modules else version("torch")
        except PackageNotFoundError:
            out["torch"] = None
        out["mediapipe"] = version("mediapipe")
        out["livematte"] = version("livematte")
    except Exception:  # pragma: no cover - metadata missing in odd installs
        pass
    return out


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}"


def make_clip(path: str, size: tuple, seconds: float, fps: int = 30, source: Optional[str] = None) -> int:
    """Write an H.264 clip of ``size`` = (W, H) made from ``source`` (default: the checkout's sample clip),
    looped and scaled; returns frames. LivematteError when no source is given and the sample is absent."""
    import av
    import cv2

    from .checkout import sample_path

    source = source or sample_path("person.mp4")
    W, H = size
    frames = []
    with av.open(source) as c:
        for f in c.decode(video=0):
            frames.append(cv2.resize(f.to_ndarray(format="rgb24"), (W, H), interpolation=cv2.INTER_AREA))
    n = int(seconds * fps)
    with av.open(path, "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "20"}
        for i in range(n):
            k = i % (2 * len(frames) - 2)  # play forwards then backwards: no jump at the loop
            img = frames[k] if k < len(frames) else frames[2 * len(frames) - 2 - k]
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return n


class _NoMatte:
    def __call__(self, frame):
        return None

    def reset(self):
        pass


class _PassThrough:
    """The identity effect: the codec ceiling runs the same threads as the real pipeline."""

    alpha = False
    engine = numpy_engine()

    def apply(self, image, alpha):
        return image

    def reset(self):
        pass


def _file_run(clip: str, out: str, matter, effect, cfg: Config, meter: Optional[StageMeter] = None) -> tuple:
    """One file run: (frames per second, process CPU milliseconds per frame); with ``meter``, its
    stages are timed too (``matter`` and ``effect`` already instrumented by it)."""
    from .api import on_cpu

    from .sinks.video import VideoFileSink
    from .sources.video import VideoFileSource

    meter = meter or StageMeter()
    with VideoFileSource(clip) as source:
        sink = meter.wrap(VideoFileSink(out, crf=cfg.output.crf, preset=cfg.output.preset), "write", "output")
        meter.start()
        stats = run(meter.iterate(source), source.info, matter, effect, [Output(sink)],
                    effect_on_writer=on_cpu(effect))
        meter.stop(stats.frames)
    return stats.fps, meter.report()["cpu_ms_per_frame"]


def _random_weight_path(cfg: Config, live: bool = False):
    """``(matter, effect)`` for modnet / rvm with random weights (``bench --random-weights``)."""
    from .api import frame_path
    from .engine import resolve_engine
    from .models.random_weights import MODELS, random_backend
    from .models.registry import spec

    m = cfg.model
    if not spec(m.name).needs_weights:
        raise LivematteError(f"--random-weights is for {' and '.join(MODELS)}; {m.name} ships with its own weights")
    if m.weights:
        raise LivematteError("--random-weights and --weights exclude each other")
    engine = resolve_engine(m.engine, m.device)
    device = str(engine.device) if engine.name == "torch" else "cpu"
    segmenter = random_backend(m.name, device=device, threads=m.threads, runtime=m.runtime)
    return frame_path(cfg, reuse_output=True, segmenter=segmenter, live=live)


def _cpu_per_frame(matter, effect, frames) -> float:
    """Process CPU milliseconds (all threads) per frame of matte + effect over ``frames``, in this thread."""
    matter.reset()
    t = process_cpu()
    for f in frames:
        for g, alpha in matte_now(matter, f):
            effect.apply(g.image, alpha)
    for g, alpha in matte_rest(matter):
        effect.apply(g.image, alpha)
    return 1000 * (process_cpu() - t) / max(len(frames), 1)


def _against_baseline(matter, effect, frames, threads: int, rounds: int = 3) -> tuple:
    """(ours, baseline) CPU ms per frame, medians of ``rounds`` alternating runs on the same frames
    (the whole clip, as the bench's own CPU figure; each run from a reset, so a shot's start is in
    it once): livematte's matte + effect against the naive recipe (:mod:`livematte.baseline`)."""
    from .baseline import NaiveBlur, NaiveMatter

    naive, blur = NaiveMatter(threads=threads), NaiveBlur()
    ours, theirs = [], []
    for _ in range(rounds):
        ours.append(_cpu_per_frame(matter, effect, frames))
        theirs.append(_cpu_per_frame(naive, blur, frames))
    return float(np.median(ours)), float(np.median(theirs))


def bench(config: Optional[Config] = None, *, size=(1280, 720), seconds: float = 10.0,
          clip: Optional[str] = None, random_weights: bool = False, baseline: bool = False,
          live: bool = False) -> BenchResult:
    """Run the three measurements on one clip (made from the sample unless ``clip`` is given).

    ``random_weights``: run ``modnet`` / ``rvm`` with random weights instead of their checkpoint
    (LivematteError for other models, or with ``config.model.weights`` set). ``baseline``: also
    measure the naive recipe's CPU per frame on the same frames, alternately (``cpu_vs_baseline``).
    ``live``: measure ``cam``'s matter instead of the file path's (``path``; a copy of the config
    goes through :func:`~livematte.profiles.for_live`: ``best`` runs as ``balanced``).
    """
    from .checkout import sample_path
    from .models.registry import spec
    from .sources.video import VideoFileSource

    cfg = config or Config()
    if live:
        from .config import config_copy
        from .profiles import for_live

        cfg = config_copy(cfg)
        for_live(cfg)
    if clip is not None and not os.path.isfile(clip):
        raise LivematteError(f"{clip}: no such file")
    sample = sample_path("person.mp4", hint="give --clip FILE") if clip is None else None  # before the model loads
    if random_weights:
        weights = "random"
        matter, effect = _random_weight_path(cfg, live)
    else:
        weights = "checkpoint" if spec(cfg.model.name).needs_weights else "shipped"
        matter, effect = frame_path(cfg, reuse_output=True, live=live)
    if effect.alpha:
        raise LivematteError("bench encodes H.264: pick a background without transparency")
    meter = StageMeter()
    matter = meter.instrument_matter(matter)
    meter.wrap(effect, "apply", "effect")
    with tempfile.TemporaryDirectory(prefix="livematte-bench-") as tmp:
        if clip is None:
            clip = os.path.join(tmp, "clip.mp4")
            make_clip(clip, size, seconds, source=sample)
        out = os.path.join(tmp, "out.mp4")
        codec, codec_cpu = _file_run(clip, out, _NoMatte(), _PassThrough(), cfg)
        matter.reset()
        pipeline, pipeline_cpu = _file_run(clip, out, matter, effect, cfg, meter)
        in_pipeline = meter.report()
        with VideoFileSource(clip) as source:
            info = source.info
            frames = [f for _, f in zip(range(300), source)]
        matter.reset()
        for f in frames[:5]:  # warm-up
            effect.apply(f.image, matter(f))
        matter.reset()
        times = []
        meter.start()
        for f in frames:  # the effect's picture is back on the host: synchronised every frame
            t = time.perf_counter()
            for g, alpha in matte_now(matter, f):  # a look-ahead (--quality best) hands frames out later
                effect.apply(g.image, alpha)
            times.append(time.perf_counter() - t)
        for g, alpha in matte_rest(matter):
            effect.apply(g.image, alpha)
        meter.stop(len(frames))
        in_loop = meter.report()
        cpu_ms = in_loop["cpu_ms_per_frame"]
        naive_ms = 0.0
        if baseline:
            cpu_ms, naive_ms = _against_baseline(matter, effect, frames, cfg.model.threads or 1)
    ms = np.array(times) * 1000
    device = f"{matter.engine.device} ({matter.describe()})"
    return BenchResult(
        width=info.width, height=info.height, frames=len(frames), model=cfg.model.name,
        background=cfg.effect.background, device=str(device), weights=weights,
        codec_only_fps=round(codec, 1), pipeline_fps=round(pipeline, 1),
        matte_fps=round(1000 / float(np.median(ms)), 1),
        latency_ms_p50=round(float(np.percentile(ms, 50)), 2), latency_ms_p95=round(float(np.percentile(ms, 95)), 2),
        pipeline_vs_codec=round(pipeline / codec, 3) if codec else 0.0,
        codec_cpu_ms=round(codec_cpu, 2), pipeline_cpu_ms=round(pipeline_cpu, 2),
        cpu_ms_per_frame=round(cpu_ms, 2),
        stage_cpu_ms_p50=in_loop["stage_cpu_ms_p50"], stage_cpu_ms_mean=in_loop["stage_cpu_ms_mean"],
        unattributed_cpu_ms=in_loop["unattributed_cpu_ms"],
        pipeline_stage_cpu_ms_p50=in_pipeline["stage_cpu_ms_p50"],
        pipeline_stage_cpu_ms_mean=in_pipeline["stage_cpu_ms_mean"],
        pipeline_unattributed_cpu_ms=in_pipeline["unattributed_cpu_ms"],
        quality=cfg.quality.profile, path="live" if live else "file", baseline_cpu_ms_per_frame=round(naive_ms, 2),
        cpu_vs_baseline=round(cpu_ms / naive_ms, 3) if naive_ms else 0.0,
        versions=_versions(), machine=_machine(),
    )
