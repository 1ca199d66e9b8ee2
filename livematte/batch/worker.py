"""What one batch worker does: build the frame path once, then run tasks with it.

:class:`BatchWorker` is plain Python (the Ray runner wraps it as an actor, one per worker): the
models load in ``__init__``, each :meth:`BatchWorker.run` resets the temporal state and processes
one :class:`~livematte.batch.plan.Task`, returning a result dict; errors come back in the dict, so
one bad input never takes the worker down.

Test hook: with ``LIVEMATTE_BATCH_DIE_ONCE=FILE`` set, the first worker that writes its 5th frame
while ``FILE`` does not exist creates it and ends its process at once (``os._exit``), like a node lost
mid-task.
"""
from __future__ import annotations

import glob
import os
import socket
import time
from typing import Callable, Optional

from ..types import LivematteError
from .plan import Task

DIE_ONCE = "LIVEMATTE_BATCH_DIE_ONCE"


def _die_once(written: int) -> None:
    marker = os.environ.get(DIE_ONCE)
    if not marker or written != 5:
        return
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return
    os._exit(17)


def clear_stale_parts(target: str) -> None:
    """Delete temporary files a dead writer left beside ``target`` (``.STEM.lm-*.part.EXT``)."""
    folder, name = os.path.split(target)
    stem, ext = os.path.splitext(name)
    for path in glob.glob(os.path.join(glob.escape(folder or "."), f".{glob.escape(stem)}.lm-*.part{ext}")):
        try:
            os.unlink(path)
        except OSError:
            pass


class BatchWorker:
    """One worker's frame path (built once from ``config``) and the tasks it runs."""

    def __init__(self, config) -> None:
        from ..api import frame_path
        from ..colors import parse_color

        self.config = config
        self.matter, self.effect = frame_path(config, reuse_output=True)
        self.flatten = parse_color(config.effect.flatten)
        self.name = f"{socket.gethostname()}:{os.getpid()}"

    def run(self, task: Task, report: Optional[Callable[[str, int], None]] = None) -> dict:
        """Process ``task``; ``report(key, frames written)`` is called as it goes. Never raises for
        a bad input: the result's ``error`` says what went wrong (one line)."""
        start = time.perf_counter()
        result = {"key": task.key, "worker": self.name, "frames": 0, "warnings": [], "error": None}
        try:
            os.makedirs(os.path.dirname(task.target) or ".", exist_ok=True)
            clear_stale_parts(task.target)
            self.matter.reset()
            self.effect.reset()
            if task.kind == "image":
                result["frames"] = self._image(task)
            else:
                result["frames"], result["warnings"] = self._video(task, report)
        except LivematteError as err:
            result["error"] = str(err)
        except Exception as err:  # reported per input; the batch goes on
            result["error"] = f"{type(err).__name__}: {err}".splitlines()[0]
        result["seconds"] = time.perf_counter() - start
        return result

    def _image(self, task: Task) -> int:
        from ..sinks.images import save_image
        from ..sources.images import load_image
        from ..types import Frame

        image = load_image(task.input)
        alpha = self.matter(Frame(image=image, name=os.path.splitext(os.path.basename(task.input))[0]))
        save_image(task.target, self.effect.apply(image, alpha), flatten_color=self.flatten)
        return 1

    def _video(self, task: Task, report) -> tuple:
        from ..api import on_cpu
        from ..io import check_output, video_sink
        from ..pipeline import Output, run
        from .segments import SegmentSource, WindowSink

        cfg = self.config
        check_output(task.target, self.effect.alpha)
        audio = None if task.segmented else task.input

        def written(n: int) -> None:
            _die_once(n)
            if report is not None and (n % 10 == 0):
                report(task.key, n)

        with SegmentSource(task.input, warm_pts=task.warm_pts, end_pts=task.end_pts) as source:
            sink = video_sink(task.target, audio_from=audio, crf=cfg.output.crf, preset=cfg.output.preset)
            window = WindowSink(sink, task.start_pts, written)
            run(source, source.info, self.matter, self.effect, [Output(window)], effect_on_writer=on_cpu(self.effect))
            warnings = [source.warning] if source.warning and not task.segmented else []
            warnings += list(sink.notes)  # the input's tracks the output cannot hold
        if report is not None:
            report(task.key, window.written)
        if task.segmented and window.written != task.frames:
            raise LivematteError(f"{task.input}: segment {task.index} wrote {window.written} of {task.frames} frames")
        return window.written, warnings
