"""Choosing a source or a sink from a path."""
from __future__ import annotations

import os
from typing import Optional

from .types import LivematteError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


def is_image_path(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in IMAGE_EXTENSIONS


def is_still_image(path: str) -> bool:
    """An image file that is not an animation (an animated WebP is a video to ``video``)."""
    if not is_image_path(path):
        return False
    from .sources.animated import is_animated_webp

    return not is_animated_webp(path)


def open_source(path: str, fps: Optional[float] = None):
    """A directory of frames, one image file, or a video file or animation (decided by what ``path`` is).

    ``fps``: the frame rate of a directory of frames (default 30); LivematteError for a video file,
    which has its own.
    """
    if os.path.isdir(path):
        from fractions import Fraction

        from .sources.images import FrameDirectorySource

        return FrameDirectorySource(path, fps=Fraction(fps or 30).limit_denominator(1001))
    if fps is not None and os.path.isfile(path):
        raise LivematteError(f"--fps {fps:g}: only a folder of frames takes a frame rate; {path} has its own")
    if not os.path.exists(path):
        raise LivematteError(f"{path}: no such file or directory")
    if is_still_image(path):
        from .sources.images import ImageFilesSource

        return ImageFilesSource([path])
    from .sources.animated import video_file_source

    return video_file_source(path)  # an animated WebP through Pillow, anything else through FFmpeg


def check_output(path: str, alpha: bool) -> None:
    """Raise LivematteError now, before any work, if ``path`` cannot be written as asked.

    ``-`` (raw RGBA frames on stdout) can always be written. ``DIR/`` and ``NAME%05d.png`` are
    image sequences (:mod:`livematte.sinks.sequence`).
    """
    if path == "-":
        return
    from .sinks.sequence import check_sequence_output, sequence_target

    target = sequence_target(path)
    if target is not None:
        check_sequence_output(target)
        return
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise LivematteError(f"{path}: the folder {parent} does not exist")
    if path.lower().endswith(".gif"):
        from .atomic import check_writable_dir

        check_writable_dir(path)  # GIF keeps (1-bit) transparency: livematte.sinks.gif
    elif is_image_path(path):
        from .sinks.images import check_image_output

        check_image_output(path, alpha)
    else:
        from .sinks.video import check_output as check_video_output

        check_video_output(path, alpha)


def check_not_input(output: str, inputs) -> None:
    """Raise LivematteError when ``output`` names one of ``inputs`` (it would replace the input,
    with only part of it after a Ctrl-C)."""
    if output == "-" or not os.path.exists(output):
        return
    for path in inputs:
        if os.path.exists(path) and os.path.samefile(output, path):
            raise LivematteError(f"{output}: is the input file; write the output to another name")


def video_sink(path: str, *, audio_from: Optional[str], crf: int, preset: str, fragmented: bool = False,
               live: bool = False):
    """The sink for a video output ``path``: a video file, or an image sequence (``DIR/``, ``%05d.png``).
    ``fragmented``: an .mp4/.mov written as fragments, so a failure keeps what was recorded (live).
    ``live``: a recording beside a live run: H.264 tuned for zero latency on one encoder thread
    (:data:`~livematte.sinks.recorder.LIVE_ENCODER`)."""
    from .sinks.sequence import ImageSequenceSink, sequence_target
    from .sinks.video import VideoFileSink

    target = sequence_target(path)
    if target is not None:
        return ImageSequenceSink(target)
    if path.lower().endswith(".gif"):
        from .sinks.gif import GifSink

        return GifSink(path)

    if live:
        from .sinks.recorder import LIVE_ENCODER

        return VideoFileSink(path, audio_from=audio_from, crf=crf, preset=preset, fragmented=fragmented, **LIVE_ENCODER)
    return VideoFileSink(path, audio_from=audio_from, crf=crf, preset=preset, fragmented=fragmented)
