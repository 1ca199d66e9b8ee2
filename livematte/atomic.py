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
from typing import List, Optional, Union

from livematte.types import LivematteError

PathLike = Union[str, "os.PathLike[str]"]


def temp_path_for(path: PathLike) -> Path:
    """A fresh hidden temporary name beside ``path`` that ends with the same extension.

    ``out/clip.mp4`` -> ``out/.clip.lm-4242-1a2b3c4d.part.mp4`` (the writer's process id, then a
    random token), so two writers of the same target never collide and a file left by a killed
    process can be recognised (:func:`remove_stale`); nothing is created on disk.
    """
    p = Path(path)
    token = secrets.token_hex(4)
    return p.with_name(f".{p.stem}.lm-{os.getpid()}-{token}.part{p.suffix}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_stale(path: PathLike) -> List[Path]:
    """Delete the temporary files of ``path`` left by writers that no longer run (SIGKILL, a crash).

    Only names made by :func:`temp_path_for` for this very target whose process id is not alive
    are removed; returns them (for one line saying so). Never raises for an unreadable folder.
    """
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    prefix, suffix = f".{p.stem}.lm-", f".part{p.suffix}"
    removed: List[Path] = []
    try:
        names = os.listdir(parent)
    except OSError:
        return removed
    for name in names:
        if not (name.startswith(prefix) and name.endswith(suffix)):
            continue
        middle = name[len(prefix):len(name) - len(suffix)].split("-")
        if len(middle) != 2 or not middle[0].isdigit() or int(middle[0]) == os.getpid() or _alive(int(middle[0])):
            continue
        try:
            (parent / name).unlink()
            removed.append(parent / name)
        except OSError:
            pass
    return removed


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
