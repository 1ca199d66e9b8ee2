"""Keeping what a failed recording wrote (a full disk): the pieces :meth:`~livematte.sinks.video.VideoFileSink.salvage` uses.

FFmpeg's muxers do not report a failed write while muxing (measured with PyAV 18 / FFmpeg 8.1 on a
full tmpfs: every packet "muxed", and a fragmented MP4 even closed without an error), so a
recording that must notice the fault writes through :class:`CheckedFile`, which remembers the first
write error. A fragmented MP4/MOV is then cut back to its last complete fragment
(:func:`cut_to_complete_boxes`): everything before it plays.
"""
from __future__ import annotations

import os
import struct
from typing import Optional

import av


class CheckedFile:
    """A binary file PyAV writes into (``av.open(CheckedFile(path), "w")``) that keeps the first
    ``OSError`` of a write in ``error`` (and fails every later write), so the writer can notice it."""

    def __init__(self, path: "str | os.PathLike[str]") -> None:
        self.name = os.fspath(path)  # PyAV picks the container format from it
        self._fd = os.open(self.name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        self.error: Optional[OSError] = None

    def write(self, data) -> int:
        if self.error is not None:
            raise self.error
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view):]
        except OSError as err:
            self.error = err
            raise
        return len(data)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return os.lseek(self._fd, offset, whence)

    def tell(self) -> int:
        return os.lseek(self._fd, 0, os.SEEK_CUR)

    def flush(self) -> None:
        pass  # unbuffered: every write went to the OS

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    @property
    def closed(self) -> bool:
        return self._fd < 0


def cut_to_complete_boxes(path: "str | os.PathLike[str]") -> int:
    """Truncate an MP4/MOV after its last complete top-level box that is not a lone ``moof`` (a
    fragment header whose media never got written); returns the new size."""
    size = os.path.getsize(path)
    pos = good = 0
    with open(path, "r+b") as f:
        while pos + 8 <= size:
            f.seek(pos)
            head = f.read(16)
            box, kind = struct.unpack(">I4s", head[:8])
            if box == 1 and len(head) == 16:
                box = struct.unpack(">Q", head[8:16])[0]
            if box < 8 or pos + box > size:
                break
            pos += box
            if kind != b"moof":
                good = pos
        f.truncate(good)
    return good


def count_video_packets(path: "str | os.PathLike[str]") -> int:
    """The video packets a file holds that the demuxer reads back (nothing is decoded)."""
    from .sources.video import open_container, video_stream

    container = open_container(str(path))
    try:
        stream = video_stream(container, str(path))
        count = 0
        try:
            for packet in container.demux(stream):
                count += bool(packet.size)
        except (av.FFmpegError, OSError):
            pass  # a damaged tail: what came before counts
        return count
    finally:
        container.close()
