"""``livematte doctor``: can the live path (camera -> matte -> virtual camera) work here, and if not, how to fix it;
and which quality profile suits this machine (a ~2-second measurement).

:func:`run_checks` returns a list of :class:`Check`; the ``required`` ones decide the exit code
(0 when all pass). Nothing here prints; :func:`format_report` makes the text. Camera discovery
goes through :func:`find_cameras` and :func:`probe_camera`, the seams tests replace.
"""
from __future__ import annotations

import glob
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from typing import List, Optional

from .sinks.vcam import MODPROBE

EXCLUSIVE_CAPS_WHY = ("why exclusive_caps=1: Chrome (so Google Meet and Teams in the browser) and Zoom only list "
                      "devices that announce video capture alone; without it a loopback device announces output and "
                      "capture together and those apps do not offer it")
PERSIST = ("to load it at every boot: `echo v4l2loopback | sudo tee /etc/modules-load.d/livematte.conf` and "
           "`echo 'options v4l2loopback devices=1 exclusive_caps=1 card_label=livematte' | "
           "sudo tee /etc/modprobe.d/livematte.conf`")


@dataclass
class Check:
    """One line of the report.

    Attributes:
        name: what was checked.
        ok: whether it passed.
        detail: what was found.
        fix: what to do when it failed (several lines allowed).
        required: whether ``cam`` needs it (decides the exit code); others are informative.
        items: sub-lines (one per camera, backend, ...).
    """

    name: str
    ok: bool
    detail: str
    fix: List[str] = field(default_factory=list)
    required: bool = True
    items: List[str] = field(default_factory=list)


@dataclass
class CameraInfo:
    """A capture device found on the system."""

    spec: str  # what --source takes: /dev/videoN or an index
    name: str = ""
    usable: bool = True
    problem: str = ""
    modes: List[str] = field(default_factory=list)


# ----------------------------------------------------------------------------------- loopback
def loopback_devices() -> List[str]:
    """``/dev/videoN`` of every v4l2loopback device (Linux; they live under /sys/devices/virtual)."""
    return sorted(f"/dev/{os.path.basename(p)}" for p in glob.glob("/sys/devices/virtual/video4linux/video*"))


def _exclusive_caps() -> Optional[str]:
    try:
        with open("/sys/module/v4l2loopback/parameters/exclusive_caps") as fh:
            return fh.read().strip()
    except OSError:
        return None


def _try_vcam(device: Optional[str], backend: Optional[str]) -> Check:
    from .sinks.vcam import VirtualCameraSink
    from .types import LivematteError, StreamInfo

    sink = VirtualCameraSink(device, backend=backend)
    try:
        sink.open(StreamInfo(width=1280, height=720))
    except LivematteError as err:
        return Check("virtual camera", False, str(err))
    try:
        return Check("virtual camera", True, f"{sink.device} accepts 1280x720 ({sink.native_fmt})")
    finally:
        sink.close()


def check_vcam(device: Optional[str] = None, backend: Optional[str] = None) -> List[Check]:
    """The virtual camera: loopback driver and devices (Linux), then a real open of the device."""
    if backend is not None or not sys.platform.startswith("linux"):
        check = _try_vcam(device, backend)
        if not check.ok and not sys.platform.startswith("linux"):
            check.fix = ["install OBS Studio (26 or later; macOS 13+: OBS 30 or later), start its Virtual Camera "
                         "once and stop it again, then run livematte"]
        return [check]
    devices = loopback_devices()
    if not devices:
        fix = [f"`{MODPROBE}`", EXCLUSIVE_CAPS_WHY, PERSIST]
        if not os.path.isdir("/sys/module/v4l2loopback"):
            fix.insert(0, "install the driver: `sudo apt install v4l2loopback-dkms` (Debian/Ubuntu; Fedora: "
                          "`sudo dnf install v4l2loopback`; needs the kernel headers), then load it:")
        if not os.path.isdir("/sys/class/video4linux"):
            fix.append("this kernel has no video4linux support at all (a container or VM?): run livematte on the host")
        return [Check("virtual camera", False, "no v4l2loopback device (nothing under /sys/devices/virtual/video4linux)", fix)]
    checks = []
    items = []
    for dev in devices:
        label = _sysfs(dev, "name")
        access = "writable" if os.access(dev, os.W_OK) else "NOT writable"
        items.append(f"{dev} '{label}' ({access})")
    target = device or devices[0]
    if not os.access(target, os.W_OK):
        checks.append(Check("virtual camera", False, f"{target} is not writable by you", [
            "`sudo usermod -aG video $USER`, then log out and in again"], items=items))
    else:
        check = _try_vcam(target, None)
        check.items = items
        if not check.ok:
            check.fix = ["close the program using it, or reload the driver: `sudo modprobe -r v4l2loopback` then "
                         f"`{MODPROBE}`"]
        checks.append(check)
    caps = _exclusive_caps()
    if caps is not None:
        on = caps.split(",")[0].strip().upper() in ("Y", "1")
        checks.append(Check("exclusive_caps", on, f"v4l2loopback exclusive_caps={caps.split(',')[0]}",
                            [] if on else [f"reload: `sudo modprobe -r v4l2loopback` then `{MODPROBE}`", EXCLUSIVE_CAPS_WHY],
                            required=False))
    return checks


# ------------------------------------------------------------------------------------ cameras
def _sysfs(dev: str, name: str) -> str:
    try:
        with open(f"/sys/class/video4linux/{os.path.basename(dev)}/{name}") as fh:
            return fh.read().strip()
    except OSError:
        return ""


def find_cameras() -> List[str]:
    """What ``--source`` can take for each capture device: ``/dev/videoN`` on Linux, else indices 0..4 that open."""
    if sys.platform.startswith("linux"):
        loop = set(loopback_devices())
        found = sorted(glob.glob("/dev/video*"), key=lambda p: int(re.sub(r"\D", "", p) or 0))
        return [p for p in found if p not in loop]
    import cv2

    specs = []
    for i in range(5):
        cap = cv2.VideoCapture(i)
        if cap.isOpened():
            specs.append(str(i))
        cap.release()
    return specs


def _v4l2_ctl_modes(dev: str) -> List[str]:
    """Modes from ``v4l2-ctl --list-formats-ext`` (empty when it cannot run)."""
    try:
        out = subprocess.run(["v4l2-ctl", "-d", dev, "--list-formats-ext"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    return parse_v4l2_formats(out)


def parse_v4l2_formats(out: str) -> List[str]:
    """``v4l2-ctl --list-formats-ext`` output -> ``['MJPG 1280x720 @ 30, 15 fps', ...]``."""
    modes, fourcc, size, rates = [], "", "", []

    def flush():
        if size:
            modes.append(f"{fourcc} {size}" + (f" @ {', '.join(rates)} fps" if rates else ""))

    for line in out.splitlines():
        m = re.search(r"\[\d+\]: '(\w+)'", line)
        if m:
            flush()
            fourcc, size, rates = m.group(1), "", []
            continue
        m = re.search(r"Size: \w+ (\d+x\d+)", line)
        if m:
            flush()
            size, rates = m.group(1), []
            continue
        m = re.search(r"\(([\d.]+) fps\)", line)
        if m:
            rates.append(f"{float(m.group(1)):g}")
    flush()
    return modes


def probe_camera(spec: str) -> CameraInfo:
    """Open one camera and list its modes (v4l2-ctl when installed, else by asking OpenCV for common sizes)."""
    import cv2

    from .sources.camera import CameraSource
    from .types import LivematteError

    info = CameraInfo(spec, name=_sysfs(spec, "name") if spec.startswith("/dev/") else "")
    try:
        src = CameraSource(spec)
        src.open()
    except LivematteError as err:
        info.usable, info.problem = False, str(err)
        return info
    try:
        if spec.startswith("/dev/") and shutil.which("v4l2-ctl"):
            info.modes = _v4l2_ctl_modes(spec)
        if not info.modes:
            cap = src._cap
            seen = []
            for w, h in ((640, 480), (1280, 720), (1920, 1080), (3840, 2160)):
                cap.set(cv2.CAP_PROP_FRAME_WIDTH, w)
                cap.set(cv2.CAP_PROP_FRAME_HEIGHT, h)
                got = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
                if got == (w, h) and got not in seen:
                    seen.append(got)
                    info.modes.append(f"{w}x{h} @ {cap.get(cv2.CAP_PROP_FPS):g} fps")
    finally:
        src.close()
    return info


def check_cameras(only: Optional[str] = None, verbose: bool = False) -> Check:
    specs = [only] if only else find_cameras()
    if not specs:
        fix = ["plug in a webcam; on Linux `ls /dev/video*` should list it (the uvcvideo driver handles USB webcams)"]
        if sys.platform.startswith("linux") and not os.path.isdir("/sys/class/video4linux"):
            fix.append("this kernel has no video4linux support (a container or VM without camera passthrough)")
        fix.append(f"to try livematte without a camera: `livematte cam --source VIDEO_FILE --loop --to {_try_output()}`")
        return Check("camera", False, "no camera found", fix)
    cams = [probe_camera(s) for s in specs]
    items = []
    for c in cams:
        head = f"{c.spec}" + (f" '{c.name}'" if c.name else "")
        if not c.usable:
            items.append(f"{head}: {c.problem}")
            continue
        modes = c.modes if verbose else c.modes[:6] + ([f"... {len(c.modes) - 6} more (-v)"] if len(c.modes) > 6 else [])
        items.append(f"{head}: " + ("; ".join(modes) if modes else "opens (modes unknown)"))
    usable = [c for c in cams if c.usable]
    if usable:
        return Check("camera", True, f"{len(usable)} usable: " + ", ".join(c.spec for c in usable), items=items)
    return Check("camera", False, "found, but none can be opened", [c.problem for c in cams], items=items)


# ----------------------------------------------------------------------------- models, devices
def _model_file(row) -> str:
    if row.spec.family == "selfie":  # its file ships inside mediapipe
        from .models.bundled import selfie_model_path
        from .types import LivematteError

        try:
            return f"{row.name}: {selfie_model_path(row.name)}"
        except LivematteError as err:
            return f"{row.name}: {err}"
    return f"{row.name}: " + ("checkpoint found" if row.available else f"no checkpoint ({row.reason})")


def _pose_file() -> str:
    from .models.bundled import path
    from .types import LivematteError

    try:
        return f"pose (whole-body crop pass, quality.pose): {path('pose')}"
    except LivematteError as err:
        return f"pose (whole-body crop pass, quality.pose): {err}"


def check_backends() -> List[Check]:
    from .config import Config
    from .models import list_backends
    from .models.registry import names

    default = Config().model.name
    rows = list_backends()
    items = [f"{r.name}: " + ("usable" if r.available else f"unavailable: {r.reason}") for r in rows]
    usable = [r.name for r in rows if r.available]
    main = next((r for r in rows if r.name == default), None)
    ok = main is not None and main.available
    backends = Check("segmenter backends", ok, f"usable: {', '.join(usable) or 'none'} (default {default})",
                     [] if ok else [main.reason if main else f"the default backend {default} is not registered"], items=items)
    for module, what in (("mediapipe", "mediapipe 0.10.21 (selfie models and runtime)"),
                         ("ai_edge_litert", "LiteRT (fast selfie runtime)"), ("torch", f"PyTorch ({', '.join(names('matting'))}, GPU)")):
        backends.items.append(f"runtime {module}: {'installed' if importlib.util.find_spec(module) else 'missing'} - {what}")
    files = Check("model files", ok, "present" if ok else f"the {default} model is missing",
                  [] if ok else ["pip install mediapipe==0.10.21 (later releases ship no model files)"],
                  items=[_model_file(r) for r in rows] + [_pose_file()])
    return [backends, files]


def check_devices() -> Check:
    items = [f"CPU: usable ({os.cpu_count()} cores)"]
    from .engine import cuda_possible

    if importlib.util.find_spec("torch") is None:
        items.append("CUDA: PyTorch is not installed")
    elif not cuda_possible():  # no driver: torch's ~3 s import would only say the same
        items.append("CUDA: not usable (no NVIDIA driver on this machine)")
    else:
        try:
            import torch

            if torch.cuda.is_available():
                items.append(f"CUDA: usable ({torch.cuda.get_device_name(0)})")
            else:
                why = "PyTorch is a CPU-only build" if torch.version.cuda is None else "no NVIDIA GPU or driver found"
                items.append(f"CUDA: not usable ({why})")
        except Exception as err:  # a broken install must not stop the report
            items.append(f"CUDA: not usable (torch failed: {err})")
    return Check("devices", True, "where the model can run", required=False, items=items)


def _try_output() -> str:
    """The ``--to`` to suggest for a first try: a window where there is a display, else a file."""
    from .sinks.preview import display_problem

    return "preview" if display_problem() is None else "try.mp4"


def check_display(vcam_ok: bool = False) -> Check:
    """The preview window; without a display, the outputs that still work (vcam only if ``vcam_ok``)."""
    from .sinks.preview import display_problem

    problem = display_problem()
    others = "the virtual camera, " if vcam_ok else ""
    return Check("preview window", problem is None, "a display is available" if problem is None else problem,
                 [] if problem is None else [f"`--to preview` needs a display; {others}files (--to out.mp4), "
                                             "--to http://127.0.0.1:8765 (a page) and --to - still work"],
                 required=False)


def check_profile(frames: Optional[list] = None, cores: Optional[int] = None) -> Check:
    """The quality profile for ``cam`` here, from ~2 s of frames through balanced and fast
    (:mod:`livematte.profile_advice`); informative, never required."""
    from .profile_advice import advise, measure, sample_frames
    from .types import LivematteError

    cores = cores or os.cpu_count() or 1
    try:
        frames = frames if frames is not None else sample_frames()
        costs = [measure(p, frames) for p in ("balanced", "fast")]
    except LivematteError as err:
        return Check("quality profile", True, f"not measured ({err})", required=False)
    name, why = advise(costs, cores)
    items = [f"{c.profile}: {c.cpu_ms:.1f} ms CPU, {c.wall_ms:.1f} ms per {w}x{h} frame ({c.frames} frames)"
             for c in costs for h, w in [frames[0].shape[:2]]]
    items.append("files: --quality best (look-ahead smoothing; slower, not live)")
    return Check("quality profile", True, f"--quality {name} suits cam here: {why}", required=False, items=items)


def run_checks(camera: Optional[str] = None, vcam_device: Optional[str] = None,
               vcam_backend: Optional[str] = None, verbose: bool = False, measure: bool = True) -> List[Check]:
    """Every check, in report order (``measure``: also the profile measurement, ~2 s)."""
    vcam = check_vcam(vcam_device, vcam_backend)
    return [*vcam, check_cameras(camera, verbose), *check_backends(), check_devices(),
            check_display(vcam_ok=all(c.ok for c in vcam if c.name == "virtual camera")),
            *([check_profile()] if measure else [])]


def format_report(checks: List[Check], verbose: bool = False) -> str:
    """The text ``livematte doctor`` prints, ending with the verdict."""
    lines = []
    for c in checks:
        tag = "ok" if c.ok else ("FAIL" if c.required else "warn")
        lines.append(f"[{tag:>4}] {c.name}: {c.detail}")
        lines += [f"         - {item}" for item in c.items]
        lines += [f"         fix: {fix}" if i == 0 else f"              {fix}" for i, fix in enumerate(c.fix)]
    failed = [c.name for c in checks if c.required and not c.ok]
    lines.append("live path: ready" if not failed else f"live path: NOT ready ({', '.join(failed)})")
    return "\n".join(lines)
