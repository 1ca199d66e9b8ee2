"""Planning a batch: which inputs, which outputs, which tasks.

:func:`collect` turns the command line's files, folders and globs into :class:`Item` (one input,
its output under OUTDIR at the same relative path). :func:`plan_item` probes a video (container
metadata and, for a long one, its packets: nothing is decoded) and cuts it at keyframes into
:class:`Task` segments; a still image or a short video is one task.
"""
from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from typing import List, Optional

from ..io import IMAGE_EXTENSIONS
from ..types import LivematteError

#: input video extensions a folder or glob picks up
VIDEO_INPUTS = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v")
#: output extensions whose segments can be joined by remuxing (VP9 alpha side data would be lost)
JOINABLE = (".mp4", ".m4v", ".mkv", ".mov")


@dataclass
class Item:
    """One input and where its output goes; ``kind`` is ``video`` or ``image``."""

    input: str
    output: str
    kind: str
    frames: int = 1
    tasks: List["Task"] = field(default_factory=list)


@dataclass
class Task:
    """A unit of work for one worker: a whole input, or frames ``[start, end)`` of a video.

    ``target`` is the file the task writes (the final output, or a segment part to be joined).
    Timestamps are in the video stream's ``time_base``: frames with ``warm_pts <= pts < start_pts``
    are matted but not written (the warm-up), frames with ``start_pts <= pts < end_pts`` are
    written; ``None`` bounds mean the file's start or end.
    """

    key: str
    input: str
    target: str
    kind: str
    frames: int
    index: int = 0
    start_pts: Optional[int] = None
    end_pts: Optional[int] = None
    warm_pts: Optional[int] = None

    @property
    def segmented(self) -> bool:
        return self.start_pts is not None or self.end_pts is not None


def _kind(path: str) -> Optional[str]:
    ext = os.path.splitext(path)[1].lower()
    if ext in IMAGE_EXTENSIONS:
        return "image"
    return "video" if ext in VIDEO_INPUTS else None


def _glob_root(pattern: str) -> str:
    """The folder part of a glob before its first wildcard (outputs are relative to it)."""
    head = pattern
    for i, ch in enumerate(pattern):
        if ch in "*?[":
            head = pattern[:i]
            break
    return os.path.dirname(head) or "."


def _expand(spec: str, recursive: bool) -> List[tuple]:
    """``(path, path relative to its root)`` for one command-line input."""
    if any(ch in spec for ch in "*?["):
        root = _glob_root(spec)
        found = sorted(p for p in glob.glob(spec, recursive=True) if os.path.isfile(p) and _kind(p))
        if not found:
            raise LivematteError(f"{spec}: no video or image matches")
        return [(p, os.path.relpath(p, root)) for p in found]
    if os.path.isdir(spec):
        found = []
        for folder, dirs, files in os.walk(spec):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if recursive else []
            found += [os.path.join(folder, f) for f in sorted(files) if _kind(f) and not f.startswith(".")]
        if not found:
            raise LivematteError(f"{spec}: no video or image in this folder" + ("" if recursive else " (--recursive looks deeper)"))
        return [(p, os.path.relpath(p, spec)) for p in found]
    if not os.path.exists(spec):
        raise LivematteError(f"{spec}: no such file or directory")
    if not _kind(spec):
        raise LivematteError(f"{spec}: not a video ({', '.join(VIDEO_INPUTS)}) or an image file")
    return [(spec, os.path.basename(spec))]


def output_name(rel: str, kind: str, video_ext: Optional[str], image_ext: str) -> str:
    """The output's relative name: images get ``image_ext``; videos keep a writable extension
    (.mp4 .mkv .mov .webm) or get ``video_ext`` when given (else .mp4)."""
    stem, ext = os.path.splitext(rel)
    if kind == "image":
        return stem + "." + image_ext
    if video_ext:
        return stem + "." + video_ext.lstrip(".")
    return rel if ext.lower() in (".mp4", ".mkv", ".mov", ".webm") else stem + ".mp4"


def collect(inputs: List[str], outdir: str, *, recursive: bool = False, video_ext: Optional[str] = None,
            image_ext: str = "png") -> List[Item]:
    """Every input file as an :class:`Item` with its output path under ``outdir``.

    Raises LivematteError when an input names nothing, or two inputs would write one output.
    """
    items: List[Item] = []
    seen = {}
    for spec in inputs:
        for path, rel in _expand(spec, recursive):
            kind = _kind(path)
            out = os.path.normpath(os.path.join(outdir, output_name(rel, kind, video_ext, image_ext)))
            if out in seen:
                if os.path.abspath(seen[out]) == os.path.abspath(path):
                    continue  # the same file named twice
                raise LivematteError(f"{path} and {seen[out]} would both write {out}; give them other names")
            if os.path.exists(out) and os.path.samefile(out, path):
                raise LivematteError(f"{out}: is an input file; choose another OUTDIR")
            seen[out] = path
            items.append(Item(input=path, output=out, kind=kind))
    return items


def _stream_info(path: str):
    """``(container, video stream)`` of ``path``; LivematteError when it is not a readable video."""
    from ..sources.video import video_stream, open_container

    container = open_container(path)
    try:
        return container, video_stream(container, path)
    except BaseException:
        container.close()
        raise


def _frame_pts(container, stream) -> tuple:
    """``(sorted pts of every frame, pts of the keyframes)`` read from the packets (no decoding)."""
    pts, keys = [], []
    for packet in container.demux(stream):
        if packet.size == 0 or packet.pts is None:
            continue
        pts.append(packet.pts)
        if packet.is_keyframe:
            keys.append(packet.pts)
    return sorted(pts), sorted(keys)


def cut_points(pts: List[int], keys: List[int], every: int) -> List[int]:
    """Indices into ``pts`` where segments start: the first keyframe at or after each multiple of
    ``every`` frames (index 0 always; a cut with no keyframe after it is dropped)."""
    key_set = set(keys)
    starts = [0]
    target = every
    for i, p in enumerate(pts):
        if i >= target and p in key_set and i > starts[-1]:
            starts.append(i)
            target = i + every
    return starts


def plan_item(item: Item, *, segment_s: float, warmup_s: float, work_dir: str) -> Item:
    """Fill ``item.frames`` and ``item.tasks``. A video longer than ``segment_s`` seconds whose
    output can be remuxed is cut at keyframes; each segment but the first is preceded by up to
    ``warmup_s`` seconds of warm-up frames. Parts go to ``work_dir``.

    Raises LivematteError (one line naming the file) when the input cannot be read.
    """
    if item.kind == "image":
        item.frames = 1
        item.tasks = [Task(key=item.output, input=item.input, target=item.output, kind="image", frames=1)]
        return item
    container, stream = _stream_info(item.input)
    try:
        from ..sources.video import stream_duration, stream_fps

        fps = stream_fps(stream)
        duration = stream_duration(container, stream) or 0.0
        frames = stream.frames or max(1, round(duration * fps))
        whole = Task(key=item.output, input=item.input, target=item.output, kind="video", frames=frames)
        ext = os.path.splitext(item.output)[1].lower()
        if duration <= segment_s or ext not in JOINABLE:
            item.frames, item.tasks = frames, [whole]
            return item
        pts, keys = _frame_pts(container, stream)
    finally:
        container.close()
    if not pts:
        raise LivematteError(f"{item.input}: has no video packets")
    starts = cut_points(pts, keys, max(1, round(segment_s * fps)))
    item.frames = len(pts)
    if len(starts) == 1:
        whole.frames = len(pts)
        item.tasks = [whole]
        return item
    warm = max(0, round(warmup_s * fps))
    ends = starts[1:] + [len(pts)]
    item.tasks = []
    for n, (a, b) in enumerate(zip(starts, ends)):
        part = os.path.join(work_dir, f"seg-{n:04d}{ext}")
        item.tasks.append(Task(key=part, input=item.input, target=part, kind="video", frames=b - a, index=n,
                               start_pts=pts[a], end_pts=pts[b] if b < len(pts) else None,
                               warm_pts=pts[max(0, a - warm)]))
    return item

