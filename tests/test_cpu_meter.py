"""CPU per output frame, in all and per stage, as bench and cam report it (issue #17)."""
from __future__ import annotations

import json

import pytest

from livematte import cli
from livematte.cpu_meter import STAGES, StageMeter

from .helpers import small_clip


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """1.5 s of the sample (a real person) at 480x270."""
    return small_clip(str(tmp_path_factory.mktemp("cpu") / "person.mp4"), 480, 270, 45)


def _check_stages(report: dict, ran: tuple, prefix: str = "") -> None:
    p50, mean = report[prefix + "stage_cpu_ms_p50"], report[prefix + "stage_cpu_ms_mean"]
    assert set(p50) == set(mean) == set(STAGES)
    for stage in STAGES:
        assert (mean[stage] > 0) == (stage in ran), stage
        assert (p50[stage] > 0) == (stage in ran), stage


def test_nested_stages_count_once():
    meter = StageMeter()

    def inner(n):
        return sum(i * i for i in range(n))

    timed_inner = meter.timed("smooth", inner)
    outer = meter.timed("refine", lambda n: timed_inner(n) + inner(n))
    meter.start()
    for _ in range(3):
        outer(200_000)
    meter.stop(3)
    r = meter.report()
    assert len(meter.samples["refine"]) == len(meter.samples["smooth"]) == 3
    assert r["stage_cpu_ms_mean"]["smooth"] > 0 and r["stage_cpu_ms_mean"]["refine"] > 0
    # the outer stage's own time excludes the inner one's: about half each, never both whole
    total = r["stage_cpu_ms_mean"]["smooth"] + r["stage_cpu_ms_mean"]["refine"]
    assert total <= r["cpu_ms_per_frame"] * 1.05 + 2 * 10 / 3  # os.times counts in 10 ms ticks
    assert r["unattributed_cpu_ms"] == pytest.approx(r["cpu_ms_per_frame"] - r["stage_cpu_ms_sum"], abs=1e-2)
    with pytest.raises(ValueError):
        meter.timed("nope", inner)


def test_bench_reports_cpu_per_stage(clip, tmp_path):
    report = tmp_path / "b.json"
    assert cli.main(["bench", "--clip", clip, "--json", str(report)]) == 0
    r = json.loads(report.read_text())
    # the matte loop: frames already decoded, one thread; the model, refinement, smoothing and effect ran
    _check_stages(r, ("model", "refine", "smooth", "effect"))
    attributed = sum(r["stage_cpu_ms_mean"].values())
    assert 0.75 * r["cpu_ms_per_frame"] <= attributed <= 1.02 * r["cpu_ms_per_frame"] + 1.0  # + os.times ticks
    assert r["unattributed_cpu_ms"] == pytest.approx(r["cpu_ms_per_frame"] - attributed, abs=0.05)
    # the file run: decoding and encoding too (their codec threads are the unattributed part)
    _check_stages(r, STAGES, "pipeline_")
    attributed = sum(r["pipeline_stage_cpu_ms_mean"].values())
    assert attributed <= 1.02 * r["pipeline_cpu_ms"] + 1.0
    assert r["pipeline_unattributed_cpu_ms"] == pytest.approx(r["pipeline_cpu_ms"] - attributed, abs=0.05)
    assert r["quality"] == "balanced"


def test_cam_stats_json_reports_cpu_per_stage(clip, tmp_path, capfd):
    stats = tmp_path / "s.json"
    assert cli.main(["cam", "--source", clip, "--to", "null", "--frames", "25", "--stats-json", str(stats)]) == 0
    d = json.loads(stats.read_text())
    _check_stages(d, STAGES)  # the null sink's write is counted too: output > 0
    assert d["cpu_ms_per_frame"] > 0
    attributed = sum(d["stage_cpu_ms_mean"].values())
    assert 0.6 * d["cpu_ms_per_frame"] <= attributed <= 1.02 * d["cpu_ms_per_frame"] + 1.0
    assert d["stage_cpu_ms_sum"] == pytest.approx(attributed, abs=0.05)
    assert "CPU" in capfd.readouterr().err  # and the summary line says it
