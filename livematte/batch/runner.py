"""Running a batch on Ray: one actor per worker (models load once), tasks pulled as workers free up.

The driver plans (:mod:`.plan`), hands each idle actor the next task (largest first), polls a
progress actor for the frames written, joins a long video's parts when its last one is done, and
fills a :class:`~.report.BatchReport`. Tasks carry file paths, not pixels: every worker must see
the inputs and OUTDIR at the same paths (one machine, or shared storage). A worker process that
dies is restarted by Ray and its task retried (``max_restarts`` / ``max_task_retries``).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from typing import Callable, Dict, List, Optional

from ..io import check_output
from ..types import LivematteError
from .plan import Item, Task, collect, plan_item
from .report import BatchReport
from .worker import BatchWorker

INSTALL_HINT = "livematte batch needs Ray: pip install 'livematte[cluster]' (or pip install ray)"
WORK_DIR = ".livematte-batch"  #: parts of long videos wait here, under OUTDIR, until joined
RETRIES = 3


def require_ray():
    """The ``ray`` module, or LivematteError saying what to install."""
    try:
        import ray
    except ImportError:
        raise LivematteError(INSTALL_HINT) from None
    return ray


@dataclass
class BatchOptions:
    """How to run: ``ray`` is ``local``, ``auto`` or an address; ``workers`` None = one per CPU."""

    outdir: str
    ray: Optional[str] = None
    workers: Optional[int] = None
    gpus_per_task: Optional[float] = None
    segment_s: float = 60.0
    warmup_s: float = 2.0
    skip_existing: bool = True
    recursive: bool = False
    video_ext: Optional[str] = None
    image_ext: str = "png"


def connect(ray, address: Optional[str], workers: Optional[int]) -> tuple:
    """Start or join Ray; ``(we started it, worker count)``. ``None`` joins ``RAY_ADDRESS`` when set."""
    import logging

    if ray.is_initialized():
        return False, workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    if address is None:
        address = "auto" if os.environ.get("RAY_ADDRESS") else "local"
    quiet = dict(logging_level=logging.WARNING, log_to_driver=False)
    try:
        if address == "local":
            n = workers or os.cpu_count() or 1
            # address="local": a new instance here even when RAY_ADDRESS names a cluster
            ray.init(address="local", num_cpus=max(n, os.cpu_count() or 1), include_dashboard=False, **quiet)
            return True, n
        ray.init(address=address, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as err:
        raise LivematteError(f"cannot start or join Ray at {address}: {str(err).splitlines()[0]}") from None
    return True, workers or max(1, int(ray.cluster_resources().get("CPU", 1)))


class Progress:
    """Frames written per task key (a Ray actor: workers ``set``, the driver reads ``total``)."""

    def __init__(self) -> None:
        self.done: Dict[str, int] = {}

    def set(self, key: str, frames: int) -> None:
        self.done[key] = frames

    def total(self) -> int:
        return sum(self.done.values())


class RayWorker(BatchWorker):
    """The actor: :class:`BatchWorker` reporting to a :class:`Progress` actor."""

    def run_task(self, task: Task, progress) -> dict:
        progress.set.remote(task.key, 0)  # a retried task starts from nothing
        return self.run(task, report=lambda key, n: progress.set.remote(key, n))


def config_hash(cfg, options: BatchOptions) -> str:
    """A short hash of what decides a part's content (config, segment and warm-up lengths)."""
    text = json.dumps([asdict(cfg), options.segment_s, options.warmup_s], sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:10]


class _Joins:
    """The parts of each segmented item still to come; joins an item when its last part is in."""

    def __init__(self) -> None:
        self.waiting: Dict[str, set] = {}
        self.items: Dict[str, Item] = {}

    def expect(self, item: Item, keys: List[str]) -> None:
        self.items[item.output] = item
        self.waiting[item.output] = set(keys)

    def part_done(self, output: str, key: str) -> Optional[Item]:
        left = self.waiting.get(output)
        if left is None:
            return None
        left.discard(key)
        return self.items[output] if not left else None


def _join(item: Item, work_dir: str) -> int:
    from .segments import join_parts

    tasks = sorted(item.tasks, key=lambda t: t.index)
    first = tasks[0].start_pts if tasks[0].start_pts is not None else 0
    starts = [first] + [t.start_pts for t in tasks[1:]]
    os.makedirs(os.path.dirname(item.output) or ".", exist_ok=True)
    frames = join_parts([t.target for t in tasks], starts, item.output, audio_from=item.input)
    if frames != item.frames:
        raise LivematteError(f"{item.input}: joined {frames} of {item.frames} frames")
    shutil.rmtree(work_dir, ignore_errors=True)
    return frames


def run_batch(inputs: List[str], cfg, options: BatchOptions,
              on_progress: Optional[Callable[[int, int, int], None]] = None) -> BatchReport:
    """Process ``inputs`` into ``options.outdir``; ``on_progress(frames done, frames total, failures)``
    is called as it goes. Returns the report; a failing input is in it, not raised."""
    ray = require_ray()
    started = time.perf_counter()
    os.makedirs(options.outdir, exist_ok=True)
    items = collect(inputs, options.outdir, recursive=options.recursive, video_ext=options.video_ext,
                    image_ext=options.image_ext)
    report = BatchReport()
    alpha = _effect_alpha(cfg)
    tasks: List[Task] = []
    joins = _Joins()
    owner: Dict[str, Item] = {}
    base = os.path.join(options.outdir, WORK_DIR, config_hash(cfg, options))
    work_dirs: Dict[str, str] = {}
    for item in items:
        rep = report.add(item.input, item.output)
        if options.skip_existing and os.path.exists(item.output):
            rep.status = "skipped"
            continue
        work_dirs[item.output] = os.path.join(base, os.path.relpath(item.output, options.outdir))
        if not options.skip_existing:
            shutil.rmtree(work_dirs[item.output], ignore_errors=True)
        try:
            os.makedirs(os.path.dirname(item.output), exist_ok=True)
            check_output(item.output, alpha and item.kind == "video")
            plan_item(item, segment_s=options.segment_s, warmup_s=options.warmup_s, work_dir=work_dirs[item.output])
        except LivematteError as err:
            rep.status, rep.errors = "failed", [str(err)]
            continue
        rep.segments = len(item.tasks)
        todo = [t for t in item.tasks if not (len(item.tasks) > 1 and os.path.exists(t.target))]
        if len(item.tasks) > 1:
            joins.expect(item, [t.key for t in todo])
            rep.frames = sum(t.frames for t in item.tasks if t not in todo)  # parts kept from a run cut short
        for t in todo:
            owner[t.key] = item
        tasks += todo
        rep.status = "running"
    total = sum(i.frames for i in items if report.inputs[i.output].status == "running")
    reused = sum(r.frames for r in report.inputs.values() if r.status == "running")
    if tasks:
        _run_tasks(ray, tasks, cfg, options, report, owner, joins, work_dirs, total, reused, on_progress)
    for out, item in joins.items.items():  # every part was already there
        rep = report.inputs[out]
        if rep.status == "running" and not joins.waiting[out]:
            _finish_join(item, rep, work_dirs[out])
    for rep in report.inputs.values():
        if rep.status == "running":
            rep.status = "failed" if rep.errors else "done"
    _prune(os.path.join(options.outdir, WORK_DIR))
    report.seconds = time.perf_counter() - started
    return report


def _effect_alpha(cfg) -> bool:
    """Whether the configured effect's pictures carry transparency (the outputs must hold it)."""
    from ..effects import make_effect

    return bool(make_effect(cfg.effect.background, blur_strength=cfg.effect.blur_strength).alpha)


def _prune(folder: str) -> None:
    """Remove the empty folders under ``folder`` (and it, when empty); parts still waiting stay."""
    for path, _, _ in sorted(os.walk(folder), key=lambda t: -len(t[0])):
        try:
            os.rmdir(path)
        except OSError:
            pass


def _finish_join(item: Item, rep, work_dir: str) -> None:
    t0 = time.perf_counter()
    try:
        rep.frames = _join(item, work_dir)
        rep.status = "done"
    except LivematteError as err:
        rep.status, rep.errors = "failed", rep.errors + [str(err)]
    except Exception as err:  # a container error while remuxing: this input fails, the batch goes on
        rep.status, rep.errors = "failed", rep.errors + [f"join: {type(err).__name__}: {err}".splitlines()[0]]
    rep.seconds += time.perf_counter() - t0


def _run_tasks(ray, tasks, cfg, options, report, owner, joins, work_dirs, total, reused, on_progress) -> None:
    owned, n = connect(ray, options.ray, options.workers)
    try:
        gpus = options.gpus_per_task
        if gpus is None:
            gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
        env = {k: v for k, v in os.environ.items() if k.startswith("LIVEMATTE_")}
        # the CPUs shared out among the workers (Ray sets a worker's thread pools from its share)
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)) // max(1, n))
        actor_options = dict(num_cpus=cpus, num_gpus=gpus, max_restarts=RETRIES, max_task_retries=RETRIES)
        if env:
            actor_options["runtime_env"] = {"env_vars": env}
        cls = ray.remote(RayWorker).options(**actor_options)
        progress = ray.remote(Progress).options(num_cpus=0).remote()
        actors = [cls.remote(cfg) for _ in range(min(n, len(tasks)))]
        pending = sorted(tasks, key=lambda t: -t.frames)
        running: Dict[object, tuple] = {}
        idle = list(actors)
        while pending or running:
            while idle and pending:
                actor, task = idle.pop(), pending.pop(0)
                running[actor.run_task.remote(task, progress)] = (task, actor)
            ready, _ = ray.wait(list(running), num_returns=1, timeout=0.5)
            for ref in ready:
                task, actor = running.pop(ref)
                alive = _collect(ray, ref, task, report.inputs[owner[task.key].output], joins, work_dirs)
                idle.append(actor if alive else cls.remote(cfg))
            if on_progress is not None:
                done = ray.get(progress.total.remote())
                on_progress(reused + done, total, len([r for r in report.inputs.values() if r.errors]))
    finally:
        if owned:
            ray.shutdown()


def _collect(ray, ref, task: Task, rep, joins: _Joins, work_dirs) -> bool:
    """Record one finished task in its input's report; join the input when it was its last part.
    Returns False when the task's actor is gone (it died more often than the retries allow)."""
    alive = True
    try:
        result = ray.get(ref)
    except ray.exceptions.RayError as err:
        alive = False
        result = {"error": f"worker lost: {str(err).splitlines()[0]}", "frames": 0, "seconds": 0.0,
                  "warnings": [], "worker": "?"}
    rep.seconds += result["seconds"]
    if result["worker"] not in rep.workers:
        rep.workers.append(result["worker"])
    rep.warnings += result["warnings"]
    if result["error"]:
        rep.errors.append(result["error"] if not task.segmented else f"segment {task.index}: {result['error']}")
        return alive
    rep.frames += result["frames"]
    if task.segmented and not any(rep.errors):
        item = joins.part_done(rep.output, task.key)
        if item is not None:
            _finish_join(item, rep, work_dirs[rep.output])
    return alive
