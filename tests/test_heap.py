"""Per-frame arrays come from a heap that stays (issue #17: ~8 ms of CPU a 720p frame in page faults)."""
import sys

import pytest

from livematte.heap import keep_heap


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_the_heap_is_tuned_unless_the_user_chose_the_thresholds():
    assert keep_heap({}) is True
    assert keep_heap({"MALLOC_TRIM_THRESHOLD_": "131072"}) is False
    assert keep_heap({"MALLOC_MMAP_THRESHOLD_": "131072"}) is False
    assert keep_heap({"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=131072"}) is False
    assert keep_heap({"GLIBC_TUNABLES": "glibc.malloc.tcache_count=0"}) is True


FRAME = """
import resource, sys
import numpy as np
if sys.argv[1] == "keep":
    from livematte.heap import keep_heap
    keep_heap()
def frame():  # a 720p frame's temporaries: thirty float32 maps alive at once, ~110 MB
    maps = [np.ones((720, 1280), np.float32) for _ in range(30)]
    return sum(float(m[0, 0]) for m in maps)
frame()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    frame()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 5)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_a_frames_temporaries_reuse_memory_instead_of_faulting_it_in_again():
    import os
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}

    def faults(mode):
        out = subprocess.run([sys.executable, "-c", FRAME, mode], env=env, capture_output=True, text=True, check=True)
        return float(out.stdout)

    plain, kept = faults("plain"), faults("keep")
    assert plain > 5000  # glibc alone gives the memory back and the kernel zeroes it again each frame
    assert kept < 0.05 * plain
