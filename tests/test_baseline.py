"""The naive baseline recipe and bench's CPU-per-frame figures (issue #17's measuring side)."""
from __future__ import annotations

import json

import numpy as np

from livematte.baseline import NaiveBlur, NaiveMatter

from .helpers import sample_frame


def test_the_naive_recipe_is_a_thresholded_feathered_full_frame_matte():
    img = sample_frame(30)
    alpha = NaiveMatter()(img)
    assert alpha.shape == img.shape[:2] and alpha.dtype == np.float32
    assert alpha.max() == 1.0 and alpha.min() == 0.0
    soft = ((alpha > 0.02) & (alpha < 0.98)).mean()
    assert 0 < soft < 0.05  # a hard mask with a feathered rim, not a soft matte
    out = NaiveBlur().apply(img, alpha)
    assert out.shape == img.shape and out.dtype == np.uint8
    assert np.array_equal(out[alpha == 1.0], img[alpha == 1.0])


def test_bench_reports_cpu_per_frame_against_the_baseline(tmp_path, capsys):
    from livematte import cli

    report = tmp_path / "b.json"
    assert cli.main(["bench", "--size", "256x144", "--seconds", "0.3", "--baseline", "--json", str(report)]) == 0
    r = json.loads(report.read_text())
    assert r["cpu_ms_per_frame"] > 0 and r["baseline_cpu_ms_per_frame"] > 0
    assert abs(r["cpu_vs_baseline"] - r["cpu_ms_per_frame"] / r["baseline_cpu_ms_per_frame"]) < 0.01
    assert "cpu_vs_baseline" in capsys.readouterr().out


def test_bench_live_measures_cams_matter(tmp_path):
    """``bench --live`` measures the matter ``cam`` runs: presence decided frame by frame (no window of
    later frames), no look-ahead (``--quality best`` runs as balanced, as in ``cam``)."""
    from livematte import cli

    report = tmp_path / "b.json"
    args = ["bench", "--size", "256x144", "--seconds", "0.3", "--quality", "best", "--json", str(report)]
    assert cli.main(args + ["--live"]) == 0
    r = json.loads(report.read_text())
    assert r["path"] == "live" and r["quality"] == "balanced"
    assert "later frames" not in r["device"] and r["cpu_ms_per_frame"] > 0
    assert cli.main(args) == 0
    r = json.loads(report.read_text())
    assert r["path"] == "file" and r["quality"] == "best" and "later frames" in r["device"]
