"""scripts/gpu_check.py, the one device check (issue #15): its stand-in runs every step on the CPU.

The slow test runs the whole stand-in (``--device cpu``) as the device would run the real thing, so
a typo or an API change that would waste a device run shows here first. The quick ones check the
driver's own pieces: pytest's JUnit report read back, the targets, a step killed at its timeout.
"""
import importlib.util
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "scripts", "gpu_check.py")
STEPS = ["nvidia_smi", "install", "versions", "codecs", "pytest_gpu", "engines",
         "bench_selfie_1080", "bench_rvm_1080", "bench_modnet_1080", "bench_selfie_2160"]


@pytest.fixture(scope="module")
def gc():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_step_list_is_the_documented_one(gc, tmp_path):
    check = gc.Check(str(tmp_path), "cpu", 60, str(tmp_path / "site"))
    assert [name for name, *_ in gc.steps(check)] == STEPS
    check.finish()
    report = json.loads((tmp_path / "gpu-check.json").read_text())
    assert report["mode"] == "stand-in" and report["finished"]
    assert (tmp_path / "gpu-check.log").is_file()


def test_a_step_past_its_timeout_is_killed_and_recorded(gc, tmp_path):
    check = gc.Check(str(tmp_path), "cpu", 60, str(tmp_path / "site"))
    res = check.command([sys.executable, "-c", "import time; print('started', flush=True); time.sleep(60)"], 2)
    assert res["timed_out"] and res["seconds"] < 10 and "started" in res["output"]
    assert gc._status_of(res)["status"] == "timeout"
    check.step("boom", lambda: 1 / 0)  # the driver's own error: recorded, nothing raised
    assert check.report["steps"]["boom"]["status"] == "failed"
    assert "ZeroDivisionError" in check.report["steps"]["boom"]["error"]
    check.finish()


def test_junit_report_is_read_back(gc, tmp_path):
    xml = tmp_path / "j.xml"
    xml.write_text("""<?xml version="1.0" encoding="utf-8"?><testsuites>
<testsuite name="pytest" errors="2" failures="1" skipped="1" tests="5">
<testcase classname="" name="tests.test_live" time="0">
  <error message="collection failure">E   ModuleNotFoundError: x</error></testcase>
<testcase classname="" name="tests.test_live" time="0">
  <error message="collection failure">E   ModuleNotFoundError: x</error></testcase>
<testcase classname="tests.test_gpu" name="test_ok" time="1"/>
<testcase classname="tests.test_gpu" name="test_bad" time="1">
  <failure message="assert 1 == 2">tb here</failure></testcase>
<testcase classname="tests.test_gpu" name="test_skip" time="0"><skipped message="needs a CUDA device"/></testcase>
</testsuite></testsuites>""")
    r = gc._junit(str(xml))
    assert r["passed"] == 1 and r["passed_tests"] == ["tests.test_gpu::test_ok"]
    assert [f["test"] for f in r["failed_tests"]] == ["tests.test_gpu::test_bad"]
    assert r["failed_tests"][0]["traceback"] == "tb here"
    assert r["collection_errors"] == [{"module": "tests.test_live", "error": "E   ModuleNotFoundError: x"}]
    assert r["skipped_tests"][0]["reason"] == "needs a CUDA device"
    assert gc._junit(str(tmp_path / "missing.xml")) == {"junit": "missing"}


def test_targets_compare_the_figures(gc):
    steps = {"bench_selfie_1080": {"result": {"matte_fps": 1200.0, "latency_ms_p95": 2.5, "pipeline_vs_codec": 0.9}},
             "engines": {"max_abs": 1 / 255}}
    rows = {r["target"]: r["met"] for r in gc.targets(steps)}
    assert rows["selfie 1080p matte_fps >= 1000"] is True
    assert rows["selfie 1080p latency_ms_p95 <= 2"] is False
    assert rows["torch vs numpy engine max |d alpha| <= 2/255"] is True
    assert rows["rvm 1080p matte_fps >= 400"] is None  # not measured


@pytest.mark.slow
def test_the_stand_in_runs_every_step(tmp_path):
    """The whole check with --device cpu (small sizes, short clips): ~2 minutes on 2 busy cores."""
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("OUT", None)
    proc = subprocess.run([sys.executable, SCRIPT, "--device", "cpu", "--out", str(out), "--budget", "560"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((out / "gpu-check.json").read_text())
    log = (out / "gpu-check.log").read_text()
    assert list(report["steps"]) == STEPS, report["steps"].keys()
    statuses = {name: step["status"] for name, step in report["steps"].items()}
    detail = json.dumps({k: {kk: vv for kk, vv in v.items() if kk in ("error", "reason", "output_tail")}
                         for k, v in report["steps"].items() if v["status"] != "ok"})[:4000]
    assert statuses["nvidia_smi"] in ("ok", "skipped")
    assert statuses["install"] in ("ok", "skipped"), detail  # skipped without .whl (CI)
    for name in STEPS[2:]:
        assert statuses[name] == "ok", f"{name}: {detail}"
    s = report["steps"]
    assert s["versions"]["torch"] and all(s["versions"]["model_files"].values())
    assert s["codecs"]["libx264_ultrafast"]["opens"] and "h264_nvenc" in s["codecs"]
    assert s["pytest_gpu"]["tests"] >= 1 and not s["pytest_gpu"]["failed_tests"]
    e = s["engines"]
    assert e["frames"] >= 1 and 0 <= e["mean_abs"] <= e["max_abs"] <= 1 and e["max_levels_8bit"] <= 255
    for name in STEPS[6:]:
        r = s[name]["result"]
        assert r["matte_fps"] > 0 and r["codec_only_fps"] > 0 and r["latency_ms_p95"] >= r["latency_ms_p50"] > 0
    assert report["summary"]["statuses"] == statuses
    assert "$ " in log and "bench" in log


def test_the_gpu_step_collects_the_modules_with_gpu_tests_only(gc):
    files = gc.gpu_test_files()
    assert "tests/test_gpu.py" in files and "tests/test_live.py" not in files
    for path in files:
        with open(os.path.join(ROOT, path)) as fh:
            assert "mark.gpu" in fh.read()
