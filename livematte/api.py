"""The Python API: a few lines process one frame, one image or one file.

>>> import numpy as np, livematte
>>> lm = livematte.Livematte(background="white")
>>> out = lm.process(np.zeros((120, 160, 3), np.uint8))   # RGB uint8 in, RGB uint8 out
>>> out.shape, out.dtype
((120, 160, 3), dtype('uint8'))
"""
from __future__ import annotations

import os
from typing import Callable, List, Optional

import numpy as np

from .atomic import remove_stale
from .config import Config, config_copy
from .effects import make_effect
from .io import check_not_input, check_output, is_still_image, open_source, video_sink
from .engine import as_numpy, resolve_engine
from .lookahead import with_lookahead
from .matter import Matter, build_matter
from .pipeline import Output, RunStats, run
from .types import Frame, LivematteError


def _effect(cfg: Config):
    return make_effect(cfg.effect.background, blur_strength=cfg.effect.blur_strength)


def on_cpu(effect) -> bool:
    """Whether ``effect`` (an effect stage) runs on the numpy engine (so it may run on another
    thread than the matter)."""
    return effect.engine.name == "numpy"


def live_matter(cfg: Config):
    """The matter for the live path, on the engine ``cfg`` picks (``--engine``, ``--device``): its
    alpha comes back as numpy, so the live effects switchable from the preview window stay numpy."""
    return build_matter(cfg)


def frame_path(cfg: Config, *, reuse_output: bool = False, segmenter=None, still: bool = False, live: bool = False):
    """``(matter, effect)`` for ``cfg`` on the engine it picks (``auto``: torch on CUDA, numpy on the
    CPU). The matter hands the effect its engine's alpha (a device tensor on CUDA: no round trip);
    the effect returns numpy pictures (``reuse_output``: views of pinned buffers reused 8 frames
    later, for the file pipeline). ``segmenter``: a backend already built (random weights).
    ``still``: the full-quality path for still images (:class:`~livematte.still_matter.StillMatter`).
    ``live``: the live path's matter (``cam``'s: no look-ahead, presence decided frame by frame;
    ``cfg`` should have been through :func:`~livematte.profiles.for_live`)."""
    engine = resolve_engine(cfg.model.engine, cfg.model.device)
    if still:
        from .still_matter import StillMatter

        matter = StillMatter(segmenter, cfg, engine=engine, output="engine")
    else:
        matter = Matter(segmenter, cfg, engine=engine, output="engine")
        if not live:  # files: the look-ahead (--quality best) and the presence window
            matter = with_lookahead(matter)
    effect = make_effect(cfg.effect.background, blur_strength=cfg.effect.blur_strength, engine=engine,
                         reuse_output=reuse_output)
    return matter, effect


class Livematte:
    """Matte and composite frames one at a time, carrying temporal state between calls.

    Args:
        background: the effect (``blur``, a colour, an image path, ``transparent``, ...).
        config: a :class:`~livematte.config.Config`, a preset name, or None for defaults.
    """

    def __init__(self, background: Optional[str] = None, config=None):
        self.config = config_copy(config, background)
        self.matter, self.effect = frame_path(self.config)
        self._index = 0

    def matte(self, image: np.ndarray) -> np.ndarray:
        """RGB uint8 ``(H, W, 3)`` -> alpha float32 ``(H, W)`` in [0, 1]."""
        frame = Frame(image=np.ascontiguousarray(image), index=self._index)
        self._index += 1
        alpha = self.matter(frame)
        return as_numpy(alpha)

    def process(self, image: np.ndarray) -> np.ndarray:
        """RGB uint8 ``(H, W, 3)`` -> the effect's picture (RGB, or RGBA for ``transparent``)."""
        frame = Frame(image=np.ascontiguousarray(image), index=self._index)
        self._index += 1
        return self.effect.apply(frame.image, self.matter(frame))

    def reset(self) -> None:
        """Start afresh (a new scene or source)."""
        self.matter.reset()
        self.effect.reset()
        self._index = 0


def _progress_bar(progress, total):
    return progress(total) if progress is not None else None


def _run_source(source, matter, effect, outputs: List[Output], progress: Optional[Callable]) -> RunStats:
    """Run an opened source through the pipeline with a progress bar; the source's warning is kept."""
    bar = _progress_bar(progress, source.info.frames)
    try:
        stats = run(source, source.info, matter, effect, outputs, on_frame=bar.update if bar is not None else None,
                    effect_on_writer=on_cpu(effect))
    finally:
        if bar is not None:
            bar.close()
    if source.warning:
        stats.warnings.append(source.warning)
    stats.warnings.extend(note for out in outputs for note in out.sink.notes)
    return stats


def process_file(input: str, output: str, *, config=None, background: Optional[str] = None,
                 alpha_out: Optional[str] = None, progress: Optional[Callable] = None,
                 on_event: Optional[Callable[[str], None]] = None, fps: Optional[float] = None) -> RunStats:
    """Process a video file (or a folder of frames, at ``fps``, default 30) into ``output``; returns
    :class:`RunStats`.

    ``output`` ``-`` writes raw RGBA frames to stdout (:mod:`livematte.sinks.pipe`); ``on_event``
    is then called once with their size and rate.

    The output is written under a temporary name and renamed when complete; Ctrl-C finishes it
    with the frames processed so far. ``alpha_out`` also writes the matte (a video file, or a
    folder of PNGs when it ends with a path separator or is an existing folder).
    """
    if os.path.isfile(input) and is_still_image(input):
        raise LivematteError(f"{input}: a still image, not a video; use `livematte image {input} -o OUT.png` "
                             "(a video is made from a video file or a folder of frames)")
    cfg = config_copy(config, background)
    matter, effect = frame_path(cfg, reuse_output=True)
    check_output(output, effect.alpha)
    check_not_input(output, [input])
    if alpha_out is not None and output != "-" and os.path.abspath(alpha_out) == os.path.abspath(output):
        raise LivematteError(f"{alpha_out}: --alpha-out is the same file as the output")
    outputs: List[Output] = []
    if alpha_out is not None and (alpha_out.endswith(os.sep) or os.path.isdir(alpha_out)):
        from .sinks.images import MatteSequenceSink

        alpha_output = Output(MatteSequenceSink(alpha_out), "alpha")
    elif alpha_out is not None:
        check_output(alpha_out, False)
        check_not_input(alpha_out, [input])
        alpha_output = Output(video_sink(alpha_out, audio_from=None, crf=cfg.output.crf, preset=cfg.output.preset), "alpha_rgb")
    else:
        alpha_output = None
    for target in (output, alpha_out):
        if target is not None and target != "-" and on_event is not None:
            for name in remove_stale(target):
                on_event(f"removed {name}, a partial file left by a run that was killed")
    with open_source(input, fps=fps) as source:
        info = source.info
        audio = info.path  # its audio and subtitle tracks, where the output can hold them
        if output == "-":
            from .sinks.pipe import PipeSink

            outputs.append(Output(PipeSink(on_event=on_event)))
        else:
            outputs.append(Output(video_sink(output, audio_from=audio, crf=cfg.output.crf, preset=cfg.output.preset)))
        if alpha_output is not None:
            outputs.append(alpha_output)
        stats = _run_source(source, matter, effect, outputs, progress)
    check_ids(matter, cfg, input)
    return stats


def write_mattes(input: str, out_dir: str, *, config=None, progress: Optional[Callable] = None) -> RunStats:
    """Write one 8-bit alpha PNG per input frame into ``out_dir``, named after the frame's stem.

    The processing is exactly that of :func:`process_file` (same Matter).
    """
    from .sinks.images import MatteSequenceSink

    cfg = config_copy(config, None)
    matter, _ = frame_path(cfg)
    with open_source(input) as source:
        outputs = [Output(MatteSequenceSink(out_dir), "alpha")]
        stats = _run_source(source, matter, make_effect("matte"), outputs, progress)
    check_ids(matter, cfg, input)
    return stats


def write_layers(input: str, out_dir: str, *, config=None, progress: Optional[Callable] = None) -> RunStats:
    """Write one matte sequence per tracked person, ``out_dir/person-<id>/<frame>.png``, and
    ``out_dir/tracks.json`` (:mod:`livematte.sinks.layers`). The subject is ``all`` unless the
    config chose one (``[subject] choice`` / ``--subject``)."""
    from collections import deque

    from .sinks.layers import LayersSink

    cfg = config_copy(config, None)
    if "subject.choice" not in cfg.given and cfg.subject.choice == "auto":
        cfg.subject.choice = "all"
    matter, _ = frame_path(cfg)
    inner = getattr(matter, "matter", matter)  # a look-ahead matter's own (presence window, best)
    if inner.planner.people is None:
        raise LivematteError(f"--layers: the people are tracked on the crop pass, which {inner.spec.name}"
                             f"{' with --raw' if cfg.quality.raw else ''} does not take (use the selfie model)")
    people: deque = deque()
    inner.on_people = people.append
    with open_source(input) as source:
        outputs = [Output(LayersSink(out_dir, people, cfg.subject.choice), "alpha")]
        stats = _run_source(source, matter, make_effect("matte"), outputs, progress)
    check_ids(matter, cfg, input)
    return stats


def check_ids(matter, cfg: Config, input: str) -> None:
    """After a run with ``--subject ID,...``: a one-line LivematteError when an id was never tracked."""
    from .subject.choice import parse_subject

    choice = parse_subject(cfg.subject.choice)
    planner = getattr(getattr(matter, "matter", matter), "planner", None)  # a look-ahead matter's own
    if choice.kind != "ids" or planner is None:
        return
    seen = planner.rule.seen_ids
    missing = [i for i in choice.ids if i not in seen]
    if missing:
        listed = ", ".join(str(i) for i in sorted(seen)) or "none"
        raise LivematteError(f"--subject {cfg.subject.choice}: no person {', '.join(map(str, missing))} was tracked in "
                             f"{input} (ids tracked: {listed}; `livematte matte IN --layers --out DIR` lists them); "
                             "the output was written without them")


def process_image(input: str, output: str, *, config=None, background: Optional[str] = None) -> str:
    """Process one still image file into ``output`` (.png/.webp keep alpha; .jpg is flattened)."""
    return process_images([input], output, config=config, background=background)[0]


def process_images(inputs: List[str], output: Optional[str] = None, *, config=None, background: Optional[str] = None,
                   fmt: Optional[str] = None, progress: Optional[Callable] = None, **tools) -> List[str]:
    """Process still images as ``livematte image`` does (:func:`livematte.stills.process_images`):
    ``inputs`` files or folders, ``output`` a file for one input, a folder, or None (beside each
    input); a transparent cut-out where the format holds alpha unless ``background`` (or the
    config) names one. ``tools``: ``shadow``, ``crop``, ``size``, ``place`` (the CLI's texts),
    ``recursive``, ``skip_existing``, ``on_written``. Returns the paths written; when an image
    failed (the others are written) raises LivematteError naming it.
    """
    from . import stills

    stats = stills.process_images(inputs, output, config=config_copy(config, None), background=background, fmt=fmt,
                                  progress=progress, **tools)
    if stats.failed:
        message = stats.failed[0][1]
        more = f" ({len(stats.failed)} of {len(stats.failed) + len(stats.written)} images failed)" \
            if len(stats.failed) > 1 else ""
        raise LivematteError(f"{message}{more}")
    return stats.written
