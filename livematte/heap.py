"""A heap that keeps its memory between frames: glibc's malloc tuned for per-frame temporaries.

Every stage makes new full-resolution arrays (a 720p float32 map is 3.7 MB, an image 2.8 MB; some
thirty a frame). glibc serves a block this large with a fresh ``mmap`` and gives it back on
``free`` (or trims the top of its heap), so the next frame's array is mapped again and the kernel
zeroes it page by page: a page fault every 4 kB. On a 2-core machine at 720p that cost the back
half and the effect ~8 ms of CPU a frame, mostly system time (BENCHMARKS.md, issue #17).
:func:`keep_heap` raises the two thresholds so such blocks come from the heap and stay there:
the process keeps the memory it needed at its peak instead of asking the kernel again each frame.
A value the user set (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_`` or either in
``GLIBC_TUNABLES``) wins; on a C library without ``mallopt`` nothing changes.
"""
from __future__ import annotations

import ctypes
import os
import sys
from typing import Mapping, Optional

#: mallopt parameters (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
#: blocks up to this size come from the heap (glibc's largest allowed value on 64-bit: 32 MiB)
MMAP_THRESHOLD = 32 << 20
#: free memory at the heap's top is given back only beyond this
TRIM_THRESHOLD = 256 << 20

_USER_KEYS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


def keep_heap(environ: Optional[Mapping[str, str]] = None) -> bool:
    """Tune glibc's malloc as the module docstring says (once per process is enough; calling it
    again is harmless). Returns whether it was tuned (False: not glibc, or the user chose)."""
    env = os.environ if environ is None else environ
    tunables = env.get("GLIBC_TUNABLES", "")
    if any(k in env for k in _USER_KEYS) or "mmap_threshold" in tunables or "trim_threshold" in tunables:
        return False
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # pragma: no cover - a C library without mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
