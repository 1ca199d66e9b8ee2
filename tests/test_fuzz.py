"""A short, derandomized fuzz run over image and video headers (the long run: scripts/fuzz_inputs.py,
figures in docs/reliability.md): mutated bytes of small real files never raise anything but a
one-line LivematteError."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings

from tests.fuzz_cases import IMAGE_KINDS, VIDEO_KINDS, edits, mutate, read, seed_files


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    return folder, seed_files(folder)


@pytest.mark.parametrize("ext", IMAGE_KINDS + VIDEO_KINDS)
def test_mutated_files_are_read_or_refused_in_one_line(seeds, ext):
    folder, files = seeds
    assert read(str(_write(folder, ext, files[ext]))) == "ok"  # the unmutated seed reads

    @settings(max_examples=15 if ext in IMAGE_KINDS else 8, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(edits())
    @example([(0.8125, -1)])  # found by the long run: an .mp4 cut there has a stream without a codec context
    def check(changes):
        read(str(_write(folder, ext, mutate(files[ext], changes))))

    check()


def _write(folder, ext, data):
    path = folder / f"case{ext}"
    path.write_bytes(data)
    return path
