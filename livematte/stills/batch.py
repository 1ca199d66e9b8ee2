"""Which files the image command reads and writes, and the loop over them.

:func:`plan` turns the inputs and ``-o`` into :class:`Item` pairs:

* a file and ``-o FILE``: that file (its extension is the format);
* several inputs, a folder input, or ``-o DIR`` (an existing folder or one ending in ``/``):
  ``DIR/<name>.<format>``, a folder's files at the same relative path (``recursive``: its
  sub-folders too; hidden files skipped);
* no ``-o``: ``<stem>.out.<format>`` beside each input (stdin: stdout);
* ``-`` as the input reads stdin, ``-o -`` writes stdout (one image only).

``<format>`` is ``fmt`` or ``png``. :func:`run_items` processes them one by one: a file that
fails is reported through ``on_error`` and skipped, the others are written (each one complete
when it appears: temporary name, then rename).
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

from ..io import check_not_input
from ..types import LivematteError

STDIO = "-"
#: the input files a folder is scanned for (case-insensitive)
INPUT_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif")
OUTPUT_FORMATS = ("png", "webp", "jpg", "jpeg", "tif", "tiff", "bmp")


@dataclass(frozen=True)
class Item:
    """One input (a path or ``-``) and its output (a path or ``-``); ``fmt`` the output's format."""

    input: str
    output: str
    fmt: str


def _format_of(path: str) -> str:
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext not in OUTPUT_FORMATS:
        shown = f"'.{ext}'" if ext else "no extension"
        raise LivematteError(f"{path}: unsupported image format ({shown}); use .png, .webp, .jpg, .tif or .bmp "
                             "(or give a folder)")
    return ext


def _folder_files(folder: str, recursive: bool) -> List[str]:
    """The image files under ``folder`` (relative paths, sorted); hidden files and folders skipped."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if recursive else []
        for name in sorted(files):
            if not name.startswith(".") and name.lower().endswith(INPUT_EXTENSIONS):
                found.append(os.path.relpath(os.path.join(root, name), folder))
    return found


def plan(inputs: List[str], output: Optional[str], *, fmt: Optional[str] = None,
         recursive: bool = False) -> List[Item]:
    """The items for the command line's inputs and ``-o`` (see the module docstring).
    One-line LivematteError for a missing input, an empty folder, two inputs with one output name,
    an output that is an input, or ``-`` with several images."""
    if fmt is not None and fmt.lower() not in OUTPUT_FORMATS:
        raise LivematteError(f"--format {fmt!r}: use one of {', '.join(OUTPUT_FORMATS)}")
    ext = (fmt or "png").lower()
    if not inputs:
        raise LivematteError("no input images given")
    if STDIO in inputs and len(inputs) > 1:
        raise LivematteError("- (stdin) must be the only input")
    sources: List[tuple] = []  # (input path, name relative to the output folder)
    for path in inputs:
        if path == STDIO:
            sources.append((path, "stdin"))
        elif os.path.isdir(path):
            files = _folder_files(path, recursive)
            if not files:
                more = "" if recursive else " (add --recursive for its sub-folders)"
                raise LivematteError(f"{path}: no image files ({', '.join(INPUT_EXTENSIONS)}) in this folder{more}")
            sources += [(os.path.join(path, rel), rel) for rel in files]
        elif os.path.isfile(path):
            sources.append((path, os.path.basename(path)))
        else:
            raise LivematteError(f"{path}: no such file or folder")
    folder_in = len(sources) > 1 or any(os.path.isdir(p) for p in inputs)
    if output == STDIO:
        if len(sources) != 1:
            raise LivematteError("-o - (stdout) takes one image; give a folder for many")
        items = [Item(sources[0][0], STDIO, ext)]
    elif output is None:
        items = [Item(p, STDIO, ext) if p == STDIO else Item(p, os.path.splitext(p)[0] + ".out." + ext, ext)
                 for p, _ in sources]
    elif folder_in or os.path.isdir(output) or output.endswith(("/", os.sep)):
        if os.path.exists(output) and not os.path.isdir(output):
            raise LivematteError(f"{output}: is a file; give a folder for many inputs")
        items = [Item(p, os.path.join(output, os.path.splitext(rel)[0] + "." + ext), ext) for p, rel in sources]
    else:
        items = [Item(sources[0][0], output, _format_of(output))]
    outs: Dict[str, str] = {}
    for item in items:
        if item.output == STDIO:
            continue
        key = os.path.abspath(item.output)
        if key in outs:
            raise LivematteError(f"{outs[key]} and {item.input} would both be written to {item.output}")
        outs[key] = item.input
        check_not_input(item.output, [item.input])
    return items


@dataclass
class BatchStats:
    """What a batch did: outputs written, skipped (``skip_existing``), failed (input, message), and a
    report per processed input in the items' order (a failed one: ``output`` None and its ``error``)."""

    written: List[str] = field(default_factory=list)
    skipped: List[str] = field(default_factory=list)
    failed: List[tuple] = field(default_factory=list)
    reports: List[Dict] = field(default_factory=list)
    #: the inputs among ``failed`` with nothing to cut out (:class:`~.subject.NothingFound`)
    nothing_found: List[str] = field(default_factory=list)


def read_input(path: str) -> bytes:
    """The bytes of ``path`` (``-``: all of stdin)."""
    if path == STDIO:
        return sys.stdin.buffer.read()
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as err:
        raise LivematteError(f"{path}: cannot read ({err.strerror or err})") from None


def write_output(path: str, data: bytes) -> None:
    """``data`` to ``path`` complete or not at all (``-``: stdout); the folder is created."""
    if path == STDIO:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    from ..atomic import AtomicPath

    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with AtomicPath(path) as out:
            out.temp.write_bytes(data)
    except OSError as err:
        raise LivematteError(f"{path}: cannot write ({err.strerror or err})") from None


def _encode_and_write(item: Item, picture, flatten) -> float:
    """Encode ``picture`` for ``item`` and write it; the seconds it took."""
    from ..sinks.images import encode_image

    t = time.perf_counter()
    write_output(item.output, encode_image(item.fmt, picture, flatten_color=flatten))
    return time.perf_counter() - t


def run_items(job, items: List[Item], *, skip_existing: bool = False,
              on_written: Optional[Callable[[str], None]] = None,
              on_error: Optional[Callable[[str, str], None]] = None,
              on_step: Optional[Callable[[], None]] = None) -> BatchStats:
    """Process ``items`` with ``job`` (a :class:`~.job.StillJob`); one failing item is reported
    through ``on_error(input, message)`` and skipped. ``on_step`` after each item (a progress bar).

    Image k is encoded and written on a writer thread while image k+1 is read and matted (PNG and
    JPEG encoding release the GIL); at most one picture waits, and ``on_written`` / ``on_error`` /
    ``on_step`` are called on the calling thread, in the items' order."""
    from concurrent.futures import ThreadPoolExecutor

    from ..colors import parse_color
    from ..sources.images import load_image_bytes

    flatten = parse_color(job.cfg.effect.flatten)
    stats = BatchStats()
    pending = None  # (item, future of the write, report, seconds before the write)

    def step() -> None:
        if on_step is not None:
            on_step()

    def fail(item: Item, err: LivematteError) -> None:
        from .subject import NothingFound

        stats.failed.append((item.input, str(err)))
        stats.reports.append({"input": item.input, "output": None, "error": str(err),
                              "nothing_found": isinstance(err, NothingFound)})
        if isinstance(err, NothingFound):
            stats.nothing_found.append(item.input)
        if on_error is not None:
            on_error(item.input, str(err))

    def finish() -> None:
        """Wait for the pending write and report it."""
        nonlocal pending
        item, future, report, before = pending
        pending = None
        try:
            encode = future.result()
        except LivematteError as err:
            fail(item, err)
        else:
            report["timings_ms"].update(encode=round(1000 * encode, 1), total=round(1000 * (before + encode), 1))
            stats.reports.append(report)
            stats.written.append(item.output)
            if on_written is not None:
                on_written(item.output)
        step()

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="livematte-write") as writer:
        try:
            for item in items:
                if skip_existing and item.output != STDIO and os.path.exists(item.output):
                    if pending is not None:
                        finish()
                    stats.skipped.append(item.output)
                    step()
                    continue
                try:
                    t0 = time.perf_counter()
                    image = load_image_bytes(read_input(item.input), item.input)  # (H, W, 3)
                    t1 = time.perf_counter()
                    result = job.run(image, item.fmt, name=os.path.basename(item.input))
                    del image
                except LivematteError as err:
                    if pending is not None:
                        finish()
                    fail(item, err)
                    step()
                    continue
                report = {"input": item.input, "output": item.output, **result.report}
                report["timings_ms"].update(decode=round(1000 * (t1 - t0), 1))
                future = writer.submit(_encode_and_write, item, result.picture, flatten)
                if pending is not None:
                    finish()  # the previous image, written while this one was matted
                pending = (item, future, report, time.perf_counter() - t0)
        finally:
            if pending is not None:  # also on an interruption: the write under way ends and is reported
                finish()
    return stats
