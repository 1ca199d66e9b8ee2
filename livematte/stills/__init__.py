"""Still images: the image command's job (:mod:`.job`), its tools (:mod:`.options`,
:mod:`.geometry`) and batches (:mod:`.batch`).

>>> import os, tempfile, numpy as np, cv2
>>> d = tempfile.mkdtemp()
>>> cup = np.full((120, 160, 3), 235, np.uint8); _ = cv2.circle(cup, (80, 60), 30, (40, 60, 170), -1)
>>> _ = cv2.imwrite(os.path.join(d, "cup.png"), cup)  # an object on a plain backdrop
>>> _ = cv2.imwrite(os.path.join(d, "dark.png"), np.zeros((48, 64, 3), np.uint8))  # nothing to cut out
>>> stats = process_images([d])
>>> [os.path.basename(p) for p in stats.written], [os.path.basename(p) for p, _ in stats.failed]
(['cup.out.png'], ['dark.png'])
"""
from __future__ import annotations

from typing import Callable, List, Optional

from .batch import BatchStats, Item, plan, run_items
from .job import StillJob, StillResult, background_for
from .options import StillOptions

__all__ = ["BatchStats", "Item", "StillJob", "StillOptions", "StillResult", "background_for", "plan",
           "prepare", "process_images", "run_items"]


def prepare(cfg, options: StillOptions, inputs: List[str], output: Optional[str], *, fmt: Optional[str] = None,
            recursive: bool = False):
    """``(job, items)`` for a batch, every option and output checked (LivematteError) before any image is read."""
    items = plan(list(inputs), output, fmt=fmt, recursive=recursive)
    job = StillJob(cfg, options)
    for f in sorted({i.fmt for i in items}):
        job.check(f)
    return job, items


def process_images(inputs: List[str], output: Optional[str] = None, *, config=None,
                   background: Optional[str] = None, shadow: Optional[str] = None, crop: Optional[str] = None,
                   size: Optional[str] = None, place: Optional[str] = None, fmt: Optional[str] = None,
                   recursive: bool = False, skip_existing: bool = False,
                   on_written: Optional[Callable[[str], None]] = None,
                   on_error: Optional[Callable[[str, str], None]] = None,
                   progress: Optional[Callable] = None) -> BatchStats:
    """Process still images (files, folders, ``-``) into ``output`` (see :func:`.batch.plan`).

    The tools take the CLI's texts (``shadow=""`` for the default shadow, ``crop="face:0.5"``,
    ``size="400x400:cover"``, ``place="0.8@0.5,0.6"``). A failing image is reported through
    ``on_error`` and skipped (``stats.failed``); a bad option or output raises LivematteError
    before any image is read. ``progress(total)`` returns a bar with ``update(n)`` and ``close()``.
    """
    from ..config import config_copy

    options = StillOptions.parse(background=background, shadow=shadow, crop=crop, size=size, place=place)
    job, items = prepare(config_copy(config, None), options, inputs, output, fmt=fmt, recursive=recursive)
    bar = progress(len(items)) if progress is not None else None
    try:
        return run_items(job, items, skip_existing=skip_existing, on_written=on_written, on_error=on_error,
                         on_step=(lambda: bar.update(1)) if bar is not None else None)
    finally:
        if bar is not None:
            bar.close()
