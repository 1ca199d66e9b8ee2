"""Atomic file output: write under a temporary name, rename onto the real name when done.

A reader (or the user) never sees a half-written file under the requested name: the writer
works on a hidden temporary file in the same directory (so the final rename is atomic on
POSIX and never crosses file systems) that keeps the real extension (so libraries that pick
a format from the name, such as FFmpeg or OpenCV, still do). ``commit()`` renames it onto the
requested path, replacing any file already there; ``discard()`` deletes it.

Example:
    >>> import os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> out = AtomicPath(os.path.join(d, "clip.mp4"))
    >>> out.temp.name.endswith(".mp4") and out.temp.parent == out.path.parent
    True
    >>> _ = out.temp.write_bytes(b"data")
    >>> out.commit()
    >>> sorted(os.listdir(d))
    ['clip.mp4']
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Optional, Union

from livematte.types import LivematteError

PathLike = Union[str, "os.PathLike[str]"]


def temp_path_for(path: PathLike) -> Path:
    """A fresh hidden temporary name beside ``path`` that ends with the same extension.

    ``out/clip.mp4`` -> ``out/.clip.lm-1a2b3c4d.part.mp4``. The name is random, so two
    writers of the same target never collide; nothing is created on disk.
    """
    p = Path(path)
    token = secrets.token_hex(4)
    return p.with_name(f".{p.stem}.lm-{token}.part{p.suffix}")


def check_writable_dir(path: PathLike) -> None:
    """Raise ``LivematteError`` naming ``path`` when its directory is missing or not writable."""
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        raise LivematteError(f"{p}: is a directory, expected a file name")
    if not parent.is_dir():
        raise LivematteError(f"{p}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise LivematteError(f"{p}: directory {parent} is not writable")


def write_text(path: PathLike, text: str) -> None:
    """Write ``text`` to ``path`` completely or not at all; ``LivematteError`` naming it on failure."""
    out = AtomicPath(path)
    try:
        out.temp.write_text(text)
    except OSError as err:
        out.discard()
        raise LivematteError(f"{path}: cannot write ({err.strerror or err})") from None
    out.commit()


class AtomicPath:
    """One pending output file: ``temp`` is written, ``commit()`` publishes it as ``path``.

    Both ``commit()`` and ``discard()`` are idempotent, and whichever runs first wins: a
    ``discard()`` after ``commit()`` leaves the published file alone. As a context manager,
    a normal exit commits and an exception discards.

    Attributes:
        path: the requested output path.
        temp: the temporary path to write to (same directory, same extension).
        state: ``"pending"``, ``"committed"`` or ``"discarded"``.
    """

    def __init__(self, path: PathLike, *, temp: Optional[PathLike] = None) -> None:
        self.path = Path(path)
        self.temp = Path(temp) if temp is not None else temp_path_for(self.path)
        self.state = "pending"

    def commit(self) -> None:
        """Rename ``temp`` onto ``path`` (replacing it). Raises ``LivematteError`` on failure."""
        if self.state != "pending":
            return
        try:
            os.replace(self.temp, self.path)
        except OSError as err:
            self.discard()
            raise LivematteError(f"{self.path}: cannot write ({err.strerror or err})") from err
        self.state = "committed"

    def discard(self) -> None:
        """Delete ``temp`` if it exists; never touches ``path``."""
        if self.state != "pending":
            return
        self.state = "discarded"
        try:
            self.temp.unlink()
        except FileNotFoundError:
            pass

    def __enter__(self) -> "AtomicPath":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()

    def __repr__(self) -> str:
        return f"AtomicPath({str(self.path)!r}, state={self.state!r})"
