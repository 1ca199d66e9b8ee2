"""The fuzz harness shared by ``tests/test_fuzz.py`` (a short derandomized run) and
``scripts/fuzz_inputs.py`` (a longer one): small real files, byte mutations, and the readers that
must answer any bytes with a picture or one ``LivematteError``, never another exception."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Tuple

import cv2
import numpy as np
from hypothesis import strategies as st

from livematte.sources.images import load_image
from livematte.sources.video import VideoFileSource
from livematte.types import LivematteError

IMAGE_KINDS = (".png", ".jpg", ".webp", ".bmp", ".tif", ".gif")
VIDEO_KINDS = (".mp4", ".webm", ".mkv")


def seed_files(folder: Path) -> Dict[str, bytes]:
    """Small valid files of every kind read, by extension: 24x16 images, 6-frame 32x24 videos."""
    from PIL import Image

    from tests.conftest import write_video

    y, x = np.mgrid[0:16, 0:24]
    picture = np.dstack([y * 10, x * 10, (x + y) * 5]).astype(np.uint8)  # (16, 24, 3)
    files: Dict[str, bytes] = {}
    for ext in IMAGE_KINDS[:-1]:
        ok, data = cv2.imencode(ext, picture)
        assert ok
        files[ext] = data.tobytes()
    Image.fromarray(picture).save(folder / "seed.gif")
    files[".gif"] = (folder / "seed.gif").read_bytes()
    for ext in VIDEO_KINDS:
        path = write_video(folder / f"seed{ext}", n=6, size=(32, 24), audio=ext != ".mkv",
                           codec="libvpx-vp9" if ext == ".webm" else "libx264")
        files[ext] = path.read_bytes()
    return files


def edits(max_edits: int = 8):
    """A strategy for mutations: (position fraction, how) pairs, how = a byte value, or -1 to cut the
    file there; positions favour the first 256 bytes (the headers)."""
    position = st.one_of(st.integers(0, 255), st.floats(0.0, 1.0, allow_nan=False))
    return st.lists(st.tuples(position, st.integers(-1, 255)), min_size=1, max_size=max_edits)


def mutate(data: bytes, changes: List[Tuple[object, int]]) -> bytes:
    """``data`` with ``changes`` applied (see :func:`edits`)."""
    out = bytearray(data)
    for where, value in changes:
        if not out:
            break
        at = where if isinstance(where, int) else int(where * (len(out) - 1))
        at = min(at, len(out) - 1)
        if value < 0:
            del out[at:]
        else:
            out[at] = value
    return bytes(out)


def read(path: str) -> str:
    """Read ``path`` as its extension says: "ok", or "refused" for a LivematteError; any other
    exception propagates (a fuzz failure)."""
    try:
        if os.path.splitext(path)[1] in VIDEO_KINDS:
            with VideoFileSource(path) as source:
                for frame in source:
                    assert frame.image.dtype == np.uint8 and frame.image.ndim == 3
        else:
            image = load_image(path)
            assert image.dtype == np.uint8 and image.shape[2] == 3
    except LivematteError as err:
        assert "\n" not in str(err)
        return "refused"
    return "ok"
