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
