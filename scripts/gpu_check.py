#!/usr/bin/env python3
"""The one device check (issue #15): everything a lent GPU machine should measure, in one command.

    bash scripts/gpu-check.sh                  # on the device machine (see docs/gpu.md)
    bash scripts/gpu-check.sh --device cpu     # the stand-in here: every step, small and quick

Writes ``OUT/gpu-check.json`` (rewritten after every step, so a run cut short still leaves the steps
that finished) and ``OUT/gpu-check.log`` (every command and its whole output). Steps, each in its own
subprocess with its own timeout, inside one overall budget; a failing step is recorded and the next
one runs:

1. ``nvidia_smi``  ``nvidia-smi`` and its GPU query
2. ``install``     the carried wheels (``.whl/``: PyAV, ai-edge-litert, backports.strenum) installed
                   with ``pip --no-index --no-deps --target``; the model files (``.gpu-site/``) found
3. ``versions``    python / torch / CUDA / cuDNN / numpy / OpenCV / PyAV / LiteRT, the GPU torch sees,
                   and where the mediapipe model files were found (``find_spec``, no import)
4. ``codecs``      whether PyAV opens ``h264_cuvid``, NVDEC through ``hwaccel``, and ``h264_nvenc``,
                   and their speed beside libx264's on one small clip
5. ``pytest_gpu``  ``pytest -m gpu`` over the test modules that mark gpu tests (:func:`gpu_test_files`), with the failures' tracebacks
6. ``engines``     the torch engine against the numpy engine on the same frames of samples/person.mp4
                   (:func:`compare_engines`)
7. ``bench_*``     ``livematte bench`` (selfie 1920x1080 and 3840x2160; modnet and rvm with random
                   weights at 1920x1080), its JSON merged in

The stand-in (``--device cpu`` or ``GPU_CHECK_DEVICE=cpu``) runs the same steps with small sizes and
short clips on the CPU; the gpu tests skip there. The summary at the end compares the figures with
the targets of issue #15 (only meaningful on the device).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import glob
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import xml.etree.ElementTree as ET
from typing import Callable, Dict, List, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE = os.path.join(ROOT, "samples", "person.mp4")
WHEELS = os.path.join(ROOT, ".whl")
MODELS = os.path.join(ROOT, ".gpu-site")
MODEL_FILES = (("selfie_segmentation", "selfie_segmentation.tflite"),
               ("selfie_segmentation", "selfie_segmentation_landscape.tflite"),
               ("pose_landmark", "pose_landmark_full.tflite"))
TEXT_CAP = 6000  # characters of a command's output kept in the JSON (the log has all of it)

#: (name, model, size, seconds, random weights) on the device; the stand-in shrinks size and seconds
BENCHES = (
    ("bench_selfie_1080", "selfie", "1920x1080", 10, False),
    ("bench_rvm_1080", "rvm", "1920x1080", 10, True),
    ("bench_modnet_1080", "modnet", "1920x1080", 10, True),
    ("bench_selfie_2160", "selfie", "3840x2160", 5, False),
)
#: modnet brings a frame smaller than 512 a side up to 512 (its reference size): 640x96 is kept as it
#: is (~0.1 s a frame on CPU torch, against ~1 s at 128x72)
STANDIN_SIZES = {("selfie", "1920x1080"): "320x180", ("selfie", "3840x2160"): "640x360",
                 ("modnet", "1920x1080"): "640x96"}  # rvm: 128x72

#: issue #15's targets: (label, step, field, op, value)
TARGETS = (
    ("selfie 1080p matte_fps >= 1000", "bench_selfie_1080", "matte_fps", ">=", 1000),
    ("selfie 1080p latency_ms_p95 <= 2", "bench_selfie_1080", "latency_ms_p95", "<=", 2.0),
    ("selfie 2160p matte_fps >= 400", "bench_selfie_2160", "matte_fps", ">=", 400),
    ("rvm 1080p matte_fps >= 400", "bench_rvm_1080", "matte_fps", ">=", 400),
    ("modnet 1080p matte_fps >= 300", "bench_modnet_1080", "matte_fps", ">=", 300),
    ("selfie 1080p pipeline_vs_codec >= 0.8", "bench_selfie_1080", "pipeline_vs_codec", ">=", 0.8),
    ("torch vs numpy engine max |d alpha| <= 2/255", "engines", "max_abs", "<=", 2 / 255),
)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _tail(text: str, cap: int = TEXT_CAP) -> str:
    return text if len(text) <= cap else f"[... {len(text) - cap} characters cut; the log has them]\n" + text[-cap:]


# --------------------------------------------------------------------------------------------------
# the driver


class Check:
    """Runs the steps, each with its own timeout inside one budget, and keeps the JSON and log."""

    def __init__(self, out: str, device: str, budget: float, site: str):
        self.out, self.device, self.budget, self.site = out, device, budget, site
        self.standin = device != "cuda"
        os.makedirs(out, exist_ok=True)
        self.json_path = os.path.join(out, "gpu-check.json")
        self.log = open(os.path.join(out, "gpu-check.log"), "w", buffering=1)
        self.t0 = time.monotonic()
        self.tmp = tempfile.mkdtemp(prefix="gpu-check-")
        self.pythonpath = [ROOT]  # what the children import from (install adds the carried paths)
        self.report: Dict = {
            "schema": 1, "mode": "device" if not self.standin else "stand-in", "device": device,
            "started": _now(), "finished": None, "wall_s": None, "budget_s": budget,
            "python": sys.executable, "root": ROOT, "commit": _commit(), "notes": [], "steps": {},
        }
        self.write()

    # ---- bookkeeping
    def left(self) -> float:
        return self.budget - (time.monotonic() - self.t0)

    def say(self, text: str) -> None:
        print(text, flush=True)
        self.log.write(text + "\n")

    def write(self) -> None:
        self.report["wall_s"] = round(time.monotonic() - self.t0, 1)
        tmp = self.json_path + ".part"
        with open(tmp, "w") as fh:
            json.dump(self.report, fh, indent=1, default=str)
        os.replace(tmp, self.json_path)

    def env(self) -> dict:
        env = dict(os.environ)
        inherited = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        env["PYTHONPATH"] = os.pathsep.join(self.pythonpath + inherited)
        env["PYTHONUNBUFFERED"] = "1"
        env.setdefault("OPENCV_LOG_LEVEL", "OFF")
        return env

    # ---- running things
    def command(self, argv: List[str], timeout: float, cwd: str = ROOT) -> dict:
        """Run ``argv`` (stdout and stderr together) in its own process group; kill it at ``timeout``."""
        timeout = max(1.0, min(timeout, self.left() - 3))
        self.log.write(f"$ {' '.join(argv)}    # timeout {timeout:.0f} s\n")
        t = time.monotonic()
        try:
            proc = subprocess.Popen(argv, cwd=cwd, env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as err:
            self.log.write(f"[could not start: {err}]\n")
            return {"rc": None, "output": str(err), "seconds": 0.0, "timed_out": False, "error": str(err)}
        timed_out = False
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            output, _ = proc.communicate()
        text = output.decode("utf-8", "replace")
        seconds = round(time.monotonic() - t, 2)
        self.log.write(text + ("" if text.endswith("\n") or not text else "\n"))
        self.log.write(f"[rc {proc.returncode}{', TIMED OUT' if timed_out else ''}, {seconds} s]\n\n")
        return {"rc": proc.returncode, "output": text, "seconds": seconds, "timed_out": timed_out}

    def worker(self, name: str, args: List[str], timeout: float) -> dict:
        """This script's own ``--worker NAME`` in a subprocess; its JSON result merged into the step."""
        path = os.path.join(self.tmp, f"{name}.json")
        res = self.command([sys.executable, os.path.abspath(__file__), "--worker", name, "--result", path,
                            "--device", self.device] + args, timeout)
        step = _status_of(res)
        step["seconds"] = res["seconds"]
        if os.path.isfile(path):
            with open(path) as fh:
                step.update(json.load(fh))
            if step.get("error") and step["status"] == "ok":
                step["status"] = "failed"
        if step["status"] != "ok":
            step["output_tail"] = _tail(res["output"], 3000)
        return step

    def step(self, name: str, fn: Callable[[], dict], min_seconds: float = 10) -> None:
        self.say(f"== {name} ({self.left():.0f} s of the budget left)")
        self.log.write(f"---- step {name} at {_now()}\n")
        t = time.monotonic()
        if self.left() < min_seconds:
            result = {"status": "skipped", "reason": f"out of budget ({self.left():.0f} s left)"}
        else:
            try:
                result = fn()
            except Exception as err:  # the driver's own mistake: recorded, the next step still runs
                result = {"status": "failed", "error": f"{type(err).__name__}: {err}",
                          "traceback": traceback.format_exc()}
                self.log.write(result["traceback"])
        result.setdefault("seconds", round(time.monotonic() - t, 2))
        self.report["steps"][name] = result
        extra = result.get("reason") or result.get("error") or ""
        first = str(extra).splitlines()[0][:200] if extra else ""
        self.say(f"   {result['status']} in {result['seconds']} s" + (f" - {first}" if first else ""))
        self.write()

    def finish(self) -> dict:
        self.report["targets"] = targets(self.report["steps"]) if not self.standin else "not compared (stand-in)"
        self.report["summary"] = summary(self.report)
        self.report["finished"] = _now()
        self.write()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
        return self.report


def _status_of(res: dict) -> dict:
    if res.get("error"):
        return {"status": "failed", "error": res["error"]}
    if res["timed_out"]:
        return {"status": "timeout", "rc": res["rc"]}
    return {"status": "ok" if res["rc"] == 0 else "failed", "rc": res["rc"]}


def _commit() -> Optional[str]:
    try:
        out = subprocess.run(["git", "-C", ROOT, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None  # the device copy has no .git


# --------------------------------------------------------------------------------------------------
# the steps


def step_nvidia_smi(c: Check) -> dict:
    if shutil.which("nvidia-smi") is None:
        return {"status": "skipped" if c.standin else "failed", "reason": "no nvidia-smi on PATH"}
    full = c.command(["nvidia-smi"], 30)
    query = c.command(["nvidia-smi", "--query-gpu=name,memory.total,driver_version,clocks.max.sm,power.limit,"
                       "compute_cap", "--format=csv"], 30)
    step = _status_of(full)
    step.update(output=_tail(full["output"]), query=query["output"].strip())
    return step


def step_install(c: Check) -> dict:
    """pip-install the carried wheels into a target folder; put it and the model folder on the path."""
    wheels = sorted(glob.glob(os.path.join(WHEELS, "*.whl")))
    step: Dict = {"wheels": [os.path.basename(w) for w in wheels], "target": c.site,
                  "models_dir": MODELS if os.path.isdir(MODELS) else None}
    if os.path.isdir(MODELS):
        c.pythonpath.append(MODELS)  # a namespace package `mediapipe` holding only the .tflite files
        tflite = glob.glob(os.path.join(MODELS, "**", "*.tflite"), recursive=True)
        step["model_files"] = sorted(os.path.relpath(p, MODELS) for p in tflite)
    step["davis"] = _link_davis(c)
    if not wheels:
        step.update(status="skipped" if c.standin else "failed",
                    reason=f"no wheels in {WHEELS} (run scripts/gpu-carry.sh here and carry .whl)")
        return step
    argv = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
            "--no-cache-dir", "--upgrade", "--disable-pip-version-check", "--target", c.site]
    native = sys.version_info[:2] == (3, 12)  # the wheels are cp312, the device's Python
    if not native:  # the stand-in on another Python: unpack them all the same (a broken wheel shows), don't use them
        argv += ["--python-version", "3.12", "--implementation", "cp", "--only-binary=:all:"] + \
                [a for p in ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64",
                             "manylinux2014_x86_64") for a in ("--platform", p)]
    res = c.command(argv + wheels, 240)
    step.update(_status_of(res))
    step["seconds"] = res["seconds"]
    if res["output"].strip():
        step["output"] = _tail(res["output"], 3000)
    if step["status"] == "ok":
        if native:
            c.pythonpath.append(c.site)
        else:
            step["note"] = (f"installed for cp312 into {c.site} to check the wheels; not put on the path: this is "
                            f"Python {platform.python_version()}, which keeps its own packages")
        step["installed"] = sorted(d for d in os.listdir(c.site) if d.endswith(".dist-info"))
    return step


def _link_davis(c: Check) -> str:
    """On the device, point ../shared/data/davis2016 (tests/helpers.py's SHARED) at the carried frames."""
    carried = os.path.join(MODELS, "davis2016")
    shared = os.path.join(os.path.dirname(ROOT), "shared", "data", "davis2016")
    if os.path.isdir(shared):
        return f"{shared} is there"
    if not os.path.isdir(carried):
        return "no DAVIS frames carried: the whole-body gpu test skips"
    if c.standin:
        return f"stand-in: {shared} left alone (no link made outside the repo here)"
    try:
        os.makedirs(os.path.dirname(shared), exist_ok=True)
        os.symlink(carried, shared)
        return f"linked {shared} -> {carried}"
    except OSError as err:
        return f"could not link {shared}: {err} (the whole-body gpu test skips)"


def step_versions(c: Check) -> dict:
    return c.worker("versions", [], 90)


def step_codecs(c: Check) -> dict:
    args = ["--size", "320x240", "--frames", "30"] if c.standin else ["--size", "1920x1080", "--frames", "240"]
    return c.worker("codecs", args, 120)


def step_pytest_gpu(c: Check) -> dict:
    junit = os.path.join(c.tmp, "pytest-gpu.xml")
    files = gpu_test_files()
    argv = [sys.executable, "-m", "pytest", "-m", "gpu", "-q", "--tb=long", "-rfEs", "-p", "no:cacheprovider",
            "--continue-on-collection-errors", f"--junitxml={junit}", *files]
    res = c.command(argv, 240)
    step = _status_of(res)
    step["seconds"] = res["seconds"]
    step["command"] = "python -m pytest -m gpu -q --tb=long -rfEs --continue-on-collection-errors " + " ".join(files)
    step.update(_junit(junit))
    if step["status"] != "timeout":  # the verdict from the tests themselves, not pytest's exit code
        bad = len(step.get("failed_tests", []))
        step["status"] = "failed" if bad or "junit" in step else "ok"
    if step.get("collection_errors"):
        step["note"] = ("test modules that did not import there (a gpu test inside one would not have run): "
                        + ", ".join(e["module"] for e in step["collection_errors"]))
    if res["rc"] == 5 or step.get("tests") == 0:
        step["status"] = "failed" if not c.standin else step["status"]
        step["note"] = "no gpu-marked test was collected"
    lines = [ln for ln in res["output"].splitlines() if ln.strip()]
    step["last_line"] = lines[-1] if lines else ""
    if not c.standin and step["status"] == "ok" and step.get("passed", 0) == 0:
        step["status"] = "failed"
        step["note"] = "no gpu test passed: all skipped (no CUDA seen?)"
    if c.standin and step["status"] == "ok" and step.get("passed", 0) == 0:
        step["note"] = (step.get("note", "") + "; stand-in: no CUDA here, the gpu tests skip").lstrip("; ")
    if step["status"] != "ok" or step.get("collection_errors"):
        step["output_tail"] = _tail(res["output"], 8000)
    return step


def gpu_test_files() -> List[str]:
    """The test modules (paths relative to the root) that mark a test ``gpu``: a marker is written in
    the module itself (the conftest adds none), so collecting only these finds every gpu test without
    importing the other ~60 modules (~10 s of the stand-in); ``["tests"]`` when none is found."""
    found = []
    for name in sorted(os.listdir(os.path.join(ROOT, "tests"))):
        if name.startswith("test_") and name.endswith(".py"):
            with open(os.path.join(ROOT, "tests", name), encoding="utf-8") as fh:
                if "mark.gpu" in fh.read():
                    found.append(f"tests/{name}")
    return found or ["tests"]


def _junit(path: str) -> dict:
    if not os.path.isfile(path):
        return {"junit": "missing"}
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as err:
        return {"junit": f"unreadable: {err}"}
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    problems, skips, passed, collection = [], [], [], []
    for suite in root.iter("testsuite"):
        for k in counts:
            counts[k] += int(suite.get(k, 0))
    for case in root.iter("testcase"):
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        bad = case.find("failure") if case.find("failure") is not None else case.find("error")
        skip = case.find("skipped")
        if bad is not None and "collection failure" in (bad.get("message") or ""):
            lines = [ln for ln in (bad.text or "").splitlines() if ln.startswith("E ")]
            if all(e["module"] != case.get("name", "") for e in collection):  # doctest's collector: twice
                collection.append({"module": case.get("name", ""), "error": (lines[-1] if lines else "")[:300]})
        elif bad is not None:
            problems.append({"test": name, "kind": bad.tag, "message": (bad.get("message") or "")[:500],
                             "traceback": _tail(bad.text or "", 6000)})
        elif skip is not None:
            skips.append({"test": name, "reason": (skip.get("message") or "")[:300]})
        else:
            passed.append(name)
    counts["passed"] = len(passed)
    return dict(counts, passed_tests=passed, failed_tests=problems, skipped_tests=skips,
                collection_errors=collection)


def step_engines(c: Check) -> dict:
    args = ["--frames", "4" if c.standin else "30"]
    return c.worker("engines", args, 90 if c.standin else 150)


def step_bench(c: Check, model: str, size: str, seconds: float, random_weights: bool) -> dict:
    path = os.path.join(c.tmp, f"bench-{model}-{size}.json")
    if c.standin:
        # the matting networks are slow on CPU torch: 3 frames show the step runs
        size, seconds = STANDIN_SIZES.get((model, size), "128x72"), (0.2 if model == "selfie" else 0.1)
    argv = [sys.executable, "-m", "livematte", "bench", "--device", c.device, "--size", size,
            "--seconds", str(seconds), "--json", path]
    if model != "selfie":
        argv += ["--model", model]
    if random_weights:
        argv += ["--random-weights"]
    res = c.command(argv, 120 if c.standin else 150)
    step = _status_of(res)
    step["seconds"] = res["seconds"]
    step["command"] = "livematte " + " ".join(argv[3:]).replace(path, "FILE.json")
    if os.path.isfile(path):
        with open(path) as fh:
            step["result"] = json.load(fh)
    elif step["status"] == "ok":
        step.update(status="failed", error="bench wrote no JSON")
    if step["status"] != "ok":
        step["output_tail"] = _tail(res["output"], 4000)
    return step


def steps(c: Check) -> List[tuple]:
    out = [("nvidia_smi", lambda: step_nvidia_smi(c), 5), ("install", lambda: step_install(c), 10),
           ("versions", lambda: step_versions(c), 10), ("codecs", lambda: step_codecs(c), 15),
           ("pytest_gpu", lambda: step_pytest_gpu(c), 30), ("engines", lambda: step_engines(c), 20)]
    for name, model, size, seconds, rnd in BENCHES:
        out.append((name, (lambda m=model, s=size, t=seconds, r=rnd: step_bench(c, m, s, t, r)), 20))
    return out


def targets(step_results: dict) -> list:
    rows = []
    for label, name, key, op, value in TARGETS:
        step = step_results.get(name, {})
        got = (step.get("result") or {}).get(key) if name.startswith("bench") else step.get(key)
        met = None if got is None else (got >= value if op == ">=" else got <= value)
        rows.append({"target": label, "value": got, "met": met})
    return rows


def summary(report: dict) -> dict:
    s: Dict = {"statuses": {k: v.get("status") for k, v in report["steps"].items()}}
    v = report["steps"].get("versions", {})
    s["gpu"] = v.get("gpu")
    s["torch"], s["cuda"] = v.get("torch"), v.get("torch_cuda")
    p = report["steps"].get("pytest_gpu", {})
    s["pytest_gpu"] = {k: p.get(k) for k in ("passed", "failures", "errors", "skipped")}
    s["pytest_gpu"]["collection_errors"] = len(p.get("collection_errors") or [])
    e = report["steps"].get("engines", {})
    s["engines"] = {k: e.get(k) for k in ("how", "max_abs", "mean_abs", "max_levels_8bit", "mean_levels_8bit")}
    s["bench"] = {}
    for name, *_ in BENCHES:
        r = report["steps"].get(name, {}).get("result") or {}
        s["bench"][name] = {k: r.get(k) for k in ("width", "height", "device", "matte_fps", "latency_ms_p50",
                                                  "latency_ms_p95", "pipeline_fps", "codec_only_fps",
                                                  "pipeline_vs_codec")} if r else None
    cd = report["steps"].get("codecs", {})
    s["codecs"] = {k: (cd.get(k) or {}).get("opens") for k in ("h264_cuvid", "hwaccel_cuda", "h264_nvenc")}
    return s


# --------------------------------------------------------------------------------------------------
# workers: run in their own subprocess (a crash or hang there costs one step, not the run)


def worker_versions(device: str) -> dict:
    import importlib.util

    out: Dict = {"python": platform.python_version(), "executable": sys.executable, "platform": platform.platform(),
                 "cpu_count": os.cpu_count()}
    for mod, attr in (("numpy", "__version__"), ("cv2", "__version__"), ("av", "__version__"),
                      ("torch", "__version__")):
        try:
            out[mod if mod != "cv2" else "opencv"] = getattr(__import__(mod), attr)
        except Exception as err:
            out[mod if mod != "cv2" else "opencv"] = f"missing: {type(err).__name__}: {err}"
    try:
        from importlib.metadata import version

        out["ai_edge_litert"] = version("ai-edge-litert")
        from ai_edge_litert.interpreter import Interpreter  # noqa: F401  (it imports)
    except Exception as err:
        out["ai_edge_litert"] = f"missing: {type(err).__name__}: {err}"
    spec = importlib.util.find_spec("mediapipe")
    where = list(spec.submodule_search_locations or []) if spec else []
    out["mediapipe_location"] = where
    out["mediapipe_is_namespace"] = bool(spec) and spec.origin in (None, "namespace")
    found = {}
    for module, name in MODEL_FILES:
        paths = [os.path.join(w, "modules", module, name) for w in where]
        found[name] = next((p for p in paths if os.path.isfile(p)), None)
    out["model_files"] = found
    try:
        import torch

        out["torch_cuda"] = torch.version.cuda
        out["cudnn"] = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
        out["cuda_available"] = torch.cuda.is_available()
        if torch.cuda.is_available():
            p = torch.cuda.get_device_properties(0)
            out["gpu"] = p.name
            out["gpu_memory_gib"] = round(p.total_memory / 2 ** 30, 1)
            out["capability"] = f"{p.major}.{p.minor}"
            out["gpu_count"] = torch.cuda.device_count()
            x = torch.ones(1024, 1024, device="cuda")
            out["cuda_matmul_ok"] = bool(torch.isfinite(x @ x).all().item())
        out["torch_threads"] = torch.get_num_threads()
    except Exception as err:
        out["torch_error"] = f"{type(err).__name__}: {err}"
    if device == "cuda" and not out.get("cuda_available"):
        out["error"] = "torch sees no CUDA device"
    missing = [n for n, p in found.items() if p is None]
    if missing:
        out["error"] = (out.get("error", "") + f"; model files not found: {', '.join(missing)}").lstrip("; ")
    return out


def _sample_frames(n: int, size=None) -> tuple:
    """The first ``n`` RGB frames of samples/person.mp4 (PyAV, else OpenCV), optionally resized to (W, H)."""
    import cv2

    frames = []
    try:
        import av

        with av.open(SAMPLE) as container:
            for frame in container.decode(video=0):
                frames.append(frame.to_ndarray(format="rgb24"))
                if len(frames) >= n:
                    break
        how = f"PyAV {av.__version__}"
    except ImportError:
        cap = cv2.VideoCapture(SAMPLE)
        while len(frames) < n:
            ok, bgr = cap.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        cap.release()
        how = "OpenCV (no PyAV)"
    if size is not None:
        frames = [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]
    return frames, how


def worker_codecs(device: str, size: tuple, n: int) -> dict:
    """Software H.264 decode/encode against h264_cuvid, NVDEC (hwaccel) and h264_nvenc, through PyAV."""
    import av

    tmp = tempfile.mkdtemp(prefix="gpu-check-codecs-")
    clip = os.path.join(tmp, "clip.mp4")
    base, _ = _sample_frames(60, size)
    frames = [base[i % len(base)] for i in range(n)]
    out: Dict = {"size": f"{size[0]}x{size[1]}", "frames": n,
                 "available": sorted(c for c in av.codecs_available if "cuvid" in c or "nvenc" in c)}
    try:
        from av.codec.hwaccel import hwdevices_available

        out["hwdevices"] = list(hwdevices_available())
    except Exception as err:
        out["hwdevices"] = f"{type(err).__name__}: {err}"

    def encode(codec: str, path: str, options: dict) -> dict:
        t = time.perf_counter()
        packets = 0
        with av.open(path, "w") as container:
            stream = container.add_stream(codec, rate=30, options=options)
            stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
            for img in frames:
                for p in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                    container.mux(p)
                    packets += 1
            for p in stream.encode():
                container.mux(p)
                packets += 1
        dt = time.perf_counter() - t
        return {"opens": True, "packets": packets, "fps": round(n / dt, 1), "bytes": os.path.getsize(path)}

    def attempt(name: str, fn: Callable[[], dict]) -> None:
        try:
            out[name] = fn()
        except Exception as err:
            out[name] = {"opens": False, "error": f"{type(err).__name__}: {err}"[:500]}

    attempt("libx264_ultrafast", lambda: encode("libx264", clip, {"preset": "ultrafast", "crf": "20"}))
    attempt("h264_nvenc", lambda: encode("h264_nvenc", os.path.join(tmp, "nvenc.mp4"), {"preset": "p1"}))

    def decode_software() -> dict:
        t, count = time.perf_counter(), 0
        with av.open(clip) as container:
            container.streams.video[0].thread_type = "AUTO"
            for frame in container.decode(video=0):
                frame.to_ndarray(format="rgb24")
                count += 1
        return {"opens": True, "frames": count, "fps": round(count / (time.perf_counter() - t), 1)}

    def decode_cuvid() -> dict:
        t, count = time.perf_counter(), 0
        with av.open(clip) as container:
            stream = container.streams.video[0]
            ctx = av.CodecContext.create("h264_cuvid", "r")
            ctx.extradata = stream.codec_context.extradata
            ctx.width, ctx.height = stream.codec_context.width, stream.codec_context.height
            ctx.open()
            for packet in container.demux(stream):
                for frame in ctx.decode(packet):
                    frame.to_ndarray(format="rgb24")
                    count += 1
        if count == 0:
            raise RuntimeError("opened but decoded no frame")
        return {"opens": True, "frames": count, "fps": round(count / (time.perf_counter() - t), 1)}

    def decode_hwaccel() -> dict:
        from av.codec.hwaccel import HWAccel

        t, count, fmt = time.perf_counter(), 0, None
        with av.open(clip, hwaccel=HWAccel(device_type="cuda", allow_software_fallback=False)) as container:
            stream = container.streams.video[0]
            for frame in container.decode(stream):
                fmt = frame.format.name
                frame.to_ndarray(format="rgb24")
                count += 1
            used = bool(getattr(stream.codec_context, "is_hwaccel", False))
        if count == 0:
            raise RuntimeError("opened but decoded no frame")
        return {"opens": used, "hw_used": used, "frames": count, "frame_format": fmt,
                "fps": round(count / (time.perf_counter() - t), 1)}

    if out.get("libx264_ultrafast", {}).get("opens"):
        attempt("software_decode", decode_software)
        attempt("h264_cuvid", decode_cuvid)
        attempt("hwaccel_cuda", decode_hwaccel)
    else:
        out["error"] = "could not write the test clip with libx264"
    shutil.rmtree(tmp, ignore_errors=True)
    if device == "cuda" and not out.get("h264_nvenc", {}).get("opens"):
        out["note"] = "h264_nvenc did not open (see its error)"
    return out


def _is_torch_engine(matter) -> bool:
    """Whether ``matter`` runs the torch engine (however build_matter ends up spelling it)."""
    try:
        import torch
    except ImportError:
        return False
    engine = getattr(matter, "engine", None)  # a name, or an engine object with a .name (livematte.engine)
    name = engine if isinstance(engine, str) else getattr(engine, "name", None)
    if isinstance(name, str):
        return name == "torch"
    if isinstance(getattr(matter, "device", None), torch.device):
        return True
    return type(matter).__module__.startswith(("livematte.gpu", "livematte.engine.torch"))


def compare_engines(device: str = "cuda", frames=None, n: int = 30, config=None) -> dict:
    """The torch engine against the numpy engine on the same frames: |d alpha| as float and on 8 bits.

    Both come from ``livematte.matter.build_matter(config)`` with ``config.model.engine`` = ``numpy``
    (``model.device`` = ``cpu``) and = ``torch`` (``model.device`` = ``device``). While build_matter does
    not honour ``engine`` yet (it returns the numpy matter for both), the torch side falls back to
    ``livematte.gpu.matter.TorchMatter(config, device=device)``, and ``how`` / ``notes`` say so.
    ``frames``: RGB uint8 arrays (default: the first ``n`` frames of samples/person.mp4).
    """
    import copy

    import numpy as np

    from livematte.config import Config
    from livematte.matter import build_matter

    notes: List[str] = []
    decoder = "given"
    if frames is None:
        frames, decoder = _sample_frames(n)
    base = config or Config()
    cfg_np, cfg_t = copy.deepcopy(base), copy.deepcopy(base)
    if not hasattr(base.model, "engine"):
        notes.append("config.model has no `engine` field")
    cfg_np.model.engine, cfg_np.model.device = "numpy", "cpu"
    cfg_t.model.engine, cfg_t.model.device = "torch", device
    numpy_matter = build_matter(cfg_np)
    if _is_torch_engine(numpy_matter):
        notes.append("build_matter(engine='numpy') gave a torch-engine matter")
    how = "build_matter(engine=torch)"
    torch_matter = None
    try:
        torch_matter = build_matter(cfg_t)
    except Exception as err:
        notes.append(f"build_matter(engine='torch', device={device!r}) raised {type(err).__name__}: {err}")
    if torch_matter is not None and not _is_torch_engine(torch_matter):
        notes.append(f"build_matter does not honour config.model.engine yet (engine='torch' gave "
                     f"{type(torch_matter).__module__}.{type(torch_matter).__name__})")
        torch_matter = None
    if torch_matter is None:
        from livematte.gpu.matter import TorchMatter

        how = f"TorchMatter(config, device={device!r}) vs build_matter(config) (fallback)"
        torch_matter = TorchMatter(cfg_t, device=device)

    def as_numpy(alpha):
        if hasattr(alpha, "detach"):
            alpha = alpha.detach().float().cpu().numpy()
        return np.asarray(alpha, np.float32)

    def sync():
        if device == "cuda":
            import torch

            torch.cuda.synchronize()

    per_frame, t_np, t_t, crops_equal = [], [], [], 0
    for i, image in enumerate(frames):
        t = time.perf_counter()
        a = as_numpy(numpy_matter(image))
        t_np.append(time.perf_counter() - t)
        t = time.perf_counter()
        b = as_numpy(torch_matter(image))
        sync()
        t_t.append(time.perf_counter() - t)
        d = np.abs(a - b)
        levels = np.abs(np.rint(a * 255).astype(np.int16) - np.rint(b * 255).astype(np.int16))
        crop_a, crop_b = getattr(numpy_matter, "last_crop", None), getattr(torch_matter, "last_crop", None)
        crops_equal += int(str(crop_a) == str(crop_b))
        per_frame.append({"frame": i, "max_abs": float(d.max()), "mean_abs": float(d.mean()),
                          "max_levels_8bit": int(levels.max()), "mean_levels_8bit": float(levels.mean()),
                          "frac_over_2_levels": float((levels > 2).mean()),
                          "crop_numpy": str(crop_a), "crop_torch": str(crop_b)})
    if not per_frame:
        return {"error": "no frames to compare", "how": how, "notes": notes}
    identical = all(f["max_abs"] == 0 for f in per_frame)
    if identical and type(numpy_matter) is type(torch_matter):
        notes.append("bit-identical outputs from the same class: the two engines may be one code path")

    def ms(ts):
        return round(1000 * float(np.median(ts[1:] if len(ts) > 1 else ts)), 2)

    return {
        "how": how, "notes": notes, "device": device, "frames": len(per_frame), "decoder": decoder,
        "size": f"{frames[0].shape[1]}x{frames[0].shape[0]}",
        "numpy_matter": f"{type(numpy_matter).__module__}.{type(numpy_matter).__name__}",
        "torch_matter": f"{type(torch_matter).__module__}.{type(torch_matter).__name__}",
        "numpy_describe": numpy_matter.describe() if hasattr(numpy_matter, "describe") else None,
        "torch_describe": torch_matter.describe() if hasattr(torch_matter, "describe") else None,
        "max_abs": max(f["max_abs"] for f in per_frame),
        "mean_abs": float(np.mean([f["mean_abs"] for f in per_frame])),
        "max_levels_8bit": max(f["max_levels_8bit"] for f in per_frame),
        "mean_levels_8bit": float(np.mean([f["mean_levels_8bit"] for f in per_frame])),
        "frac_over_2_levels": float(np.mean([f["frac_over_2_levels"] for f in per_frame])),
        "within_2_of_255": max(f["max_levels_8bit"] for f in per_frame) <= 2,
        "crops_equal": f"{crops_equal}/{len(per_frame)}",
        "ms_per_frame_numpy": ms(t_np), "ms_per_frame_torch": ms(t_t),
        "per_frame": per_frame,
    }


def run_worker(args) -> int:
    result: Dict
    try:
        if args.worker == "versions":
            result = worker_versions(args.device)
        elif args.worker == "codecs":
            w, h = (int(v) for v in args.size.split("x"))
            result = worker_codecs(args.device, (w, h), args.frames)
        elif args.worker == "engines":
            result = compare_engines(args.device, n=args.frames)
        else:
            result = {"error": f"unknown worker {args.worker!r}"}
    except Exception as err:
        result = {"error": f"{type(err).__name__}: {err}", "traceback": traceback.format_exc()}
        traceback.print_exc()
    with open(args.result, "w") as fh:
        json.dump(result, fh, indent=1, default=str)
    print(json.dumps({k: v for k, v in result.items() if k not in ("per_frame", "traceback")}, default=str)[:3000])
    return 0


# --------------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", choices=("cuda", "cpu"), default=os.environ.get("GPU_CHECK_DEVICE", "cuda"),
                    help="cuda: the device check; cpu: the quick stand-in (also GPU_CHECK_DEVICE=cpu)")
    ap.add_argument("--out", default=os.environ.get("OUT") or os.path.join(ROOT, "out", "gpu-check"),
                    help="folder for gpu-check.json and gpu-check.log (default $OUT, else out/gpu-check)")
    ap.add_argument("--budget", type=float, default=None,
                    help="seconds for the whole run (default 450 on cuda, 480 for the stand-in on 2 busy cores)")
    ap.add_argument("--steps", default="", help="comma-separated step names to run (default: all), for a rerun")
    ap.add_argument("--site", default=None, help="pip --target for the carried wheels (default: a temporary folder)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    ap.add_argument("--size", default="320x240", help=argparse.SUPPRESS)
    ap.add_argument("--frames", type=int, default=30, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return run_worker(args)

    budget = args.budget or (450.0 if args.device == "cuda" else 480.0)
    site = args.site or tempfile.mkdtemp(prefix="gpu-check-site-")
    c = Check(os.path.abspath(args.out), args.device, budget, site)
    wanted = [s for s in args.steps.split(",") if s]
    all_steps = steps(c)
    unknown = set(wanted) - {name for name, *_ in all_steps}
    if unknown:
        c.report["notes"].append(f"unknown steps asked for: {', '.join(sorted(unknown))}")
    c.say(f"gpu-check: {c.report['mode']} on {args.device}, budget {budget:.0f} s, writing {c.out}")
    for name, fn, min_seconds in all_steps:
        if wanted and name not in wanted and name != "install":  # install: the others need its path
            continue
        c.step(name, fn, min_seconds)
    report = c.finish()
    c_sum = report["summary"]
    print(json.dumps(c_sum, indent=1, default=str))
    if isinstance(report.get("targets"), list):
        for row in report["targets"]:
            verdict = {True: "met", False: "NOT met", None: "n/a"}[row["met"]]
            print(f"  target {row['target']}: {row['value']} -> {verdict}")
    if not args.site:
        shutil.rmtree(site, ignore_errors=True)
    bad = [k for k, v in c_sum["statuses"].items() if v not in ("ok", "skipped")]
    print(f"gpu-check: done in {report['wall_s']} s; {'all steps ok' if not bad else 'not ok: ' + ', '.join(bad)}")
    return 0  # the JSON holds the verdicts; a non-zero exit would only hide them behind the tool's rc


if __name__ == "__main__":
    sys.exit(main())
