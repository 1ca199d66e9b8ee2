"""Segments of a long video: decode a window with its warm-up, write only the window, join the parts.

* :class:`SegmentSource`: a :class:`~livematte.sources.video.VideoFileSource` that seeks to the
  keyframe before ``warm_pts`` and yields frames ``warm_pts <= pts < end_pts``.
* :class:`WindowSink`: wraps a sink, passing on only frames with ``pts >= start_pts`` (the warm-up
  is matted, so smoothing and the tracker are primed, but not written).
* :func:`join_parts`: remuxes the parts' packets into one file (no re-encoding), the audio of the
  input copied once, refusing parts whose codec parameters differ.
"""
from __future__ import annotations

import os
from typing import Callable, List, Optional

import av

from ..atomic import AtomicPath
from ..sinks.base import Sink
from ..sources.video import VideoFileSource, video_stream, open_container
from ..types import LivematteError


class SegmentSource(VideoFileSource):
    """Frames of ``path`` with ``warm_pts <= pts < end_pts`` (None: from the start / to the end)."""

    def __init__(self, path: str, *, warm_pts: Optional[int], end_pts: Optional[int], threads: int = 0) -> None:
        super().__init__(path, threads=threads)
        self.warm_pts, self.end_pts = warm_pts, end_pts

    def _decode(self):
        if self.warm_pts:
            self._container.seek(self.warm_pts, backward=True, any_frame=False, stream=self._stream)
        for frame in super()._decode():
            if frame.pts is None:
                raise LivematteError(f"{self.path}: frames without timestamps cannot be split into segments")
            if self.warm_pts is not None and frame.pts < self.warm_pts:
                continue  # decoded from the keyframe on, before the warm-up starts
            if self.end_pts is not None and frame.pts >= self.end_pts:
                return
            yield frame


class WindowSink(Sink):
    """Passes to ``sink`` the pictures of frames with ``pts >= start_pts`` (all when None);
    ``on_written(n)`` is called with the running count after each one written."""

    def __init__(self, sink: Sink, start_pts: Optional[int], on_written: Optional[Callable[[int], None]] = None):
        self.sink, self.start_pts, self.on_written = sink, start_pts, on_written
        self.written = 0

    def open(self, info, alpha: bool = False) -> None:
        self.sink.open(info, alpha)

    def write(self, picture, frame) -> None:
        if self.start_pts is not None and frame is not None and frame.pts is not None and frame.pts < self.start_pts:
            return
        self.sink.write(picture, frame)
        self.written += 1
        if self.on_written is not None:
            self.on_written(self.written)

    def close(self) -> None:
        self.sink.close()

    def abort(self) -> None:
        self.sink.abort()

    def describe(self) -> str:
        return self.sink.describe()


def _first_pts(path: str) -> int:
    """The smallest video pts of a part, as its demuxer gives it (containers may shift timestamps)."""
    container = open_container(path)
    try:
        stream = video_stream(container, path)
        return min(p.pts for p in container.demux(stream) if p.size and p.pts is not None)
    finally:
        container.close()


def join_parts(parts: List[str], starts: List[int], output: str, *, audio_from: Optional[str]) -> int:
    """Remux the video packets of ``parts`` (in order) into ``output``; returns the frames joined.

    ``starts[i]``: the input pts (in part 0's video time base) of part ``i``'s first frame, so the
    output keeps the input's timestamps whatever offset a container applied. The audio and subtitle tracks
    of ``audio_from`` are copied (or converted where the container needs it) once for the whole file.
    The output appears under its name only when complete.
    """
    from ..sinks.tracks import SourceTracks

    out = AtomicPath(output)
    ext = os.path.splitext(output)[1].lower()
    options = {"movflags": "+faststart"} if ext in (".mp4", ".m4v") else {}
    container = av.open(str(out.temp), mode="w", options=options)
    audio = None
    frames = 0
    try:
        first = open_container(parts[0])
        template = video_stream(first, parts[0])
        extradata = template.codec_context.extradata
        video = container.add_stream_from_template(template)
        video.time_base = template.time_base
        base = template.time_base
        first.close()
        if audio_from is not None:
            audio = SourceTracks.create(audio_from, container, ext)
        container.start_encoding()  # output time bases are final from here
        if audio is not None:
            audio.start()
        end = 0.0
        for path, start in zip(parts, starts):
            offset = start - _first_pts(path)
            part = open_container(path)
            try:
                stream = video_stream(part, path)
                if stream.codec_context.extradata != extradata or stream.time_base != base:
                    raise LivematteError(f"{path}: codec parameters differ from the first segment; cannot join")
                for packet in part.demux(stream):
                    if not packet.size:
                        continue
                    packet.pts = packet.pts + offset if packet.pts is not None else None
                    packet.dts = packet.dts + offset if packet.dts is not None else None
                    packet.stream = video
                    end = max(end, float((packet.pts + (packet.duration or 0)) * base))
                    container.mux(packet)
                    frames += 1
                    if audio is not None:
                        audio.pump(end)
            finally:
                part.close()
        if audio is not None:
            audio.finish(end)
        container.close()
    except BaseException:
        container.close()
        if audio is not None:
            audio.close()
        out.discard()
        raise
    if audio is not None:
        audio.close()
    out.commit()
    return frames
