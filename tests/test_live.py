"""The live path (`livematte cam`), end to end with the real runner.

No camera and no loopback device can exist here, so two seams stand in for hardware: a video
file played in real time as a camera (FileCameraSource, with a simulated unplug), and a
pyvirtualcam backend registered through ``pyvirtualcam.register_backend`` that records what it
receives.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import av
import cv2
import numpy as np
import pyvirtualcam
import pytest
from pyvirtualcam.util import decode_fourcc

from livematte import cli
from livematte.config import Config
from livematte.effects import Transparent
from livematte.live import EffectControls, LiveStats, NullSink, run_live
from livematte.matter import Matter
from livematte.models import create
from livematte.sinks.preview import PreviewSink
from livematte.sinks.vcam import VirtualCameraSink
from livematte.sources.camera import CameraSource, FileCameraSource, SimulatedDisconnect
from livematte.types import LivematteError, StreamInfo

from .conftest import write_video
from .helpers import REPO, SAMPLES, x264_options

W, H = 320, 180  # the test clip: real frames of samples/person.mp4, scaled down


class RecordingBackend:
    """A pyvirtualcam backend that keeps every frame it is sent, and when."""

    instances: list = []
    accepts = None  # FourCC strings this "device" takes (None: all)
    max_size = None  # (w, h) beyond which it refuses, like a device with limits

    def __init__(self, *, width, height, fps, fourcc, device, **kw):
        fmt = decode_fourcc(fourcc)
        if self.accepts is not None and fmt not in self.accepts:
            raise RuntimeError("Unsupported image format.")
        if self.max_size and (width > self.max_size[0] or height > self.max_size[1]):
            raise RuntimeError(f"Virtual camera device could not be configured: size {width}x{height} not supported")
        self.width, self.height, self.fps, self.fmt, self._device = width, height, fps, fmt, device
        self.frames, self.times, self.closed = [], [], False
        type(self).instances.append(self)

    def send(self, frame):
        self.frames.append(frame.copy())
        self.times.append(time.perf_counter())

    def close(self):
        self.closed = True

    def device(self):
        return self._device or "/dev/video-test"

    def native_fourcc(self):
        return None


class YuyvOnlyBackend(RecordingBackend):
    instances: list = []
    accepts = {"YUY2"}


class SmallBackend(RecordingBackend):
    instances: list = []
    max_size = (640, 480)


pyvirtualcam.register_backend("lm-test", RecordingBackend)
pyvirtualcam.register_backend("lm-test-yuyv", YuyvOnlyBackend)
pyvirtualcam.register_backend("lm-test-small", SmallBackend)


@pytest.fixture(autouse=True)
def _fresh_backends():
    for cls in (RecordingBackend, YuyvOnlyBackend, SmallBackend):
        cls.instances = []


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A 1.5 s, 30 fps, 320x180 clip of a real person (from samples/person.mp4)."""
    frames = []
    with av.open(os.path.join(SAMPLES, "person.mp4")) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i >= 45:
                break
            frames.append(cv2.resize(f.to_ndarray(format="rgb24"), (W, H), interpolation=cv2.INTER_AREA))
    return str(write_video(tmp_path_factory.mktemp("live") / "person.mp4", frames=frames, size=(W, H), audio=False))


@pytest.fixture(scope="module")
def short_clip(clip, tmp_path_factory):
    """The first 9 frames of ``clip`` (0.3 s), for looping."""
    with av.open(clip) as c:
        frames = [f.to_ndarray(format="rgb24") for _, f in zip(range(9), c.decode(video=0))]
    return str(write_video(tmp_path_factory.mktemp("live") / "short.mp4", frames=frames, size=(W, H), audio=False))


@pytest.fixture(scope="module")
def segmenter():
    return create("selfie", runtime="litert", threads=1)


class SlowSegmenter:
    """The real selfie model, made artificially slow."""

    def __init__(self, inner, delay):
        self.inner, self.delay, self.name = inner, delay, "slow"
        self.input_size = inner.input_size

    def predict_model_input(self, x):
        time.sleep(self.delay)
        return self.inner.predict_model_input(x)

    def predict(self, image):
        time.sleep(self.delay)
        return self.inner.predict(image)

    def reset(self):
        self.inner.reset()


class CountingMatter(Matter):
    resets = 0

    def reset(self):
        self.resets += 1
        super().reset()


class ProbeSink(NullSink):
    """Notes each frame's capture stamp and the moment it was handed over; can press keys."""

    def __init__(self, keys=None):
        super().__init__()
        self.seen, self.keys = [], dict(keys or {})

    def write(self, picture, frame):
        super().write(picture, frame)
        self.seen.append((frame.timestamp, time.perf_counter(), picture.shape))

    def take_keys(self):
        key = self.keys.pop(self.frames, None)
        return [key] if key else []


def _main(argv, monkeypatch=None):
    """`livematte ARGV` in-process."""
    return cli.main(argv)


# `livematte ARGV` in a child process
_SCRIPT = "import sys; from livematte import cli; sys.exit(cli.main(sys.argv[1:]))\n"


def _matter(segmenter, delay=0.0):
    cfg = Config()
    return CountingMatter(SlowSegmenter(segmenter, delay) if delay else segmenter, cfg)


# ------------------------------------------------------------------------------ virtual camera
def test_vcam_gets_frames_at_requested_size_and_rate(clip, tmp_path, monkeypatch, capsys):
    stats_path = tmp_path / "stats.json"
    rc = _main(["cam", "--source", clip, "--size", "256x144", "--to", "vcam", "--vcam-backend", "lm-test",
                "--vcam-device", "/dev/video42", "--frames", "20", "--stats-json", str(stats_path)], monkeypatch)
    assert rc == 0
    (cam,) = RecordingBackend.instances
    assert (cam.width, cam.height, cam.fmt, cam.device()) == (256, 144, "raw ", "/dev/video42")
    assert cam.fps == pytest.approx(30.0)
    assert len(cam.frames) == 20 and cam.closed
    assert all(f.size == 144 * 256 * 3 for f in cam.frames)
    picture = cam.frames[-1].reshape(144, 256, 3)
    assert picture.std() > 10  # a real picture, not a blank
    stats = json.loads(stats_path.read_text())
    assert stats["frames_out"] == 20 and stats["size"] == [256, 144]
    err = capsys.readouterr().err
    assert "20 frames out" in err and "\r" not in err  # no status line when stderr is not a terminal


def test_vcam_uses_the_format_the_device_takes(clip, monkeypatch):
    rc = _main(["cam", "--source", clip, "--to", "vcam", "--vcam-backend", "lm-test-yuyv", "--frames", "5",
                "--background", "white"], monkeypatch)
    assert rc == 0
    (cam,) = YuyvOnlyBackend.instances
    assert cam.fmt == "YUY2" and len(cam.frames) == 5
    assert all(f.size == W * H * 2 for f in cam.frames)


def test_vcam_yuv_conversion_round_trips():
    rng = np.random.default_rng(0)
    picture = cv2.resize(rng.integers(0, 256, (3, 4, 3), dtype=np.uint8), (64, 36), interpolation=cv2.INTER_LINEAR)
    decode = {"yuyv": cv2.COLOR_YUV2RGB_YUY2, "uyvy": cv2.COLOR_YUV2RGB_UYVY, "i420": cv2.COLOR_YUV2RGB_I420,
              "nv12": cv2.COLOR_YUV2RGB_NV12}
    for fmt, code in decode.items():
        sink = VirtualCameraSink(backend="lm-test", fmt=fmt)
        sink.open(StreamInfo(width=64, height=36))
        sink.write(picture)
        sink.close()
        sent = RecordingBackend.instances[-1].frames[-1]
        packed = sent.reshape(36, 64, 2) if fmt in ("yuyv", "uyvy") else sent.reshape(54, 64)
        back = cv2.cvtColor(packed, code)
        assert np.abs(back.astype(int) - picture).mean() < 4, fmt


def test_vcam_shows_transparency_on_a_checkerboard():
    sink = VirtualCameraSink(backend="lm-test", fmt="rgb")
    sink.open(StreamInfo(width=64, height=32))
    rgba = np.zeros((32, 64, 4), np.uint8)
    sink.write(rgba)
    sent = RecordingBackend.instances[-1].frames[-1].reshape(32, 64, 3)
    assert set(np.unique(sent)) == {153, 204}


def test_no_virtual_camera_is_a_one_line_error(clip, monkeypatch, capsys):
    import pyvirtualcam.camera

    real = {k: v for k, v in pyvirtualcam.camera.BACKENDS.items() if not k.startswith("lm-test")}
    monkeypatch.setattr(pyvirtualcam.camera, "BACKENDS", real)  # only this OS's own backends, as in use
    rc = _main(["cam", "--source", clip, "--to", "vcam", "--frames", "3"], monkeypatch)
    err = capsys.readouterr().err
    assert rc == 2
    assert "modprobe v4l2loopback" in err and "exclusive_caps=1" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_unsupported_vcam_size_is_a_one_line_error(clip, monkeypatch, capsys):
    rc = _main(["cam", "--source", clip, "--size", "1280x720", "--to", "vcam", "--vcam-backend", "lm-test-small",
                "--frames", "3"], monkeypatch)
    err = capsys.readouterr().err
    assert rc == 2 and "does not accept 1280x720" in err and len(err.strip().splitlines()) == 1


# -------------------------------------------------------------------------------- cameras
class FakeCapture:
    """What cv2.VideoCapture gives for a camera that exists but is busy / offers one mode only."""

    def __init__(self, *args, frames=True, shape=(480, 640, 3)):
        self.frames, self.shape = frames, shape

    def isOpened(self):
        return True

    def set(self, *args):
        return True

    def get(self, prop):
        return 30.0 if prop == cv2.CAP_PROP_FPS else 0.0

    def read(self):
        return (True, np.zeros(self.shape, np.uint8)) if self.frames else (False, None)

    def release(self):
        pass


def test_missing_busy_and_unsupported_camera_errors(tmp_path, monkeypatch, capsys):
    assert _main(["cam", "--source", "0", "--to", "null"], monkeypatch) == 2
    assert "camera 0: not found" in capsys.readouterr().err
    device = tmp_path / "video7"  # stands in for /dev/video7
    device.write_bytes(b"")
    monkeypatch.setattr("livematte.sources.camera.device_path", lambda spec: str(device))
    monkeypatch.setattr(cv2, "VideoCapture", lambda *a: FakeCapture(frames=False))
    with pytest.raises(LivematteError, match="busy"):
        CameraSource("/dev/video7").open()
    monkeypatch.setattr(cv2, "VideoCapture", lambda *a: FakeCapture())
    rc = _main(["cam", "--source", "/dev/video7", "--size", "1280x720", "--to", "null"], monkeypatch)
    err = capsys.readouterr().err
    assert rc == 2 and "does not offer 1280x720 (it gave 640x480)" in err and "Traceback" not in err
    rc = _main(["cam", "--source", "/dev/video7", "--fps", "60", "--to", "null"], monkeypatch)
    err = capsys.readouterr().err
    assert rc == 2 and "does not offer 60 fps at 640x480 (it gave 30)" in err and len(err.strip().splitlines()) == 1
    source = CameraSource("/dev/video7", mirror=True)
    assert source.open().width == 640 and source.read().image.shape == (480, 640, 3)


# -------------------------------------------------------------------------------- runner
def test_slow_segmenter_drops_frames_and_never_builds_a_backlog(clip, segmenter):
    matter = _matter(segmenter, delay=0.08)  # 2 model passes per frame: ~6 frames/s at most
    probe = ProbeSink()
    stats = run_live(FileCameraSource(clip), matter, EffectControls("blur"), [probe], duration=1.5,
                     handle_sigint=False)
    assert stats.frames_in >= 35  # the camera kept its 30 fps
    assert stats.frames_out < stats.frames_in / 2
    assert stats.frames_in - stats.frames_out - 1 <= stats.dropped <= stats.frames_in - stats.frames_out
    assert stats.max_backlog == 1
    waits = stats.stages["wait"]
    processing = np.median(stats.stages["matte"]) + np.median(stats.stages["effect"])
    longest = max(m + e for m, e in zip(stats.stages["matte"], stats.stages["effect"]))
    assert max(waits) < longest + 40  # a frame never waits behind more than the one in progress
    # (the budget's levels make frames shorter as it goes: the longest frame, not the median)
    late = stats.latency[len(stats.latency) // 2:]
    early = stats.latency[1:len(stats.latency) // 2]
    assert np.mean(late) < np.mean(early) + 40  # latency does not grow with time
    gaps = np.diff([t for _, t, _ in probe.seen])
    assert np.median(gaps) < processing / 1000 + 0.05  # output keeps pace with processing
    # the live budget saw the loop fall behind and shed work (every frame out counted at its level)
    assert stats.shed_changes >= 1 and sum(v for k, v in stats.shed_frames.items() if k > 0) > 0
    assert sum(stats.shed_frames.values()) == stats.frames_out and matter.shed > 0


def test_the_live_budget_sheds_when_behind_and_gives_back_when_there_is_room():
    """:class:`LiveBudget`: a level up after UP_AFTER frames behind the period (or dropping), then
    HOLD frames without a change; a level down only after DOWN_AFTER frames with room; never past
    its levels; ``levels=0`` (``--no-live-budget``, or a matter that cannot shed) never changes."""
    from livematte import live_budget as lb

    period = 1 / 30
    b = lb.LiveBudget(period, levels=4)
    levels = [b.update(1.2 * period, False) for _ in range(lb.UP_AFTER + lb.HOLD + lb.UP_AFTER)]
    assert levels[lb.UP_AFTER - 2] == 0 and levels[lb.UP_AFTER - 1] == 1  # shed on the UP_AFTER-th frame
    assert set(levels[lb.UP_AFTER - 1:lb.UP_AFTER + lb.HOLD]) == {1} and levels[-1] == 2  # held, then again
    for _ in range(200):
        b.update(1.5 * period, False)
    assert b.level == 4  # no further than its levels
    quiet = [b.update(0.3 * period, False) for _ in range(lb.DOWN_AFTER + 10)]
    assert quiet[lb.DOWN_AFTER - 5] == 4 and quiet[-1] == 3  # room for a while: one level back
    behind = [b.update(1.5 * period, False) for _ in range(lb.HOLD + lb.UP_AFTER + 2)]
    assert behind[-1] == 4 and b.down_after == 2 * lb.DOWN_AFTER  # shed again at once: it waits longer
    later = [b.update(0.3 * period, False) for _ in range(lb.HOLD + lb.DOWN_AFTER + 5)]
    assert later[-1] == 4  # not yet: twice as long now
    far = lb.LiveBudget(period, levels=4)  # far behind: no hold, a level every UP_AFTER frames
    assert [far.update(2 * period, False) for _ in range(2 * lb.UP_AFTER)][-2:] == [1, 2]
    b2 = lb.LiveBudget(period, levels=3)
    assert [b2.update(0.5 * period, True) for _ in range(lb.UP_AFTER)][-1] == 1  # drops alone are behind
    b3 = lb.LiveBudget(period, levels=0)
    assert {b3.update(5 * period, True) for _ in range(50)} == {0} and b3.frames == {0: 50}
    assert sum(b.frames.values()) == len(levels) + 200 + len(quiet) + len(behind) + len(later)
    parser = cli.build_parser()
    assert parser.parse_args(["cam", "--to", "null"]).live_budget is None
    assert parser.parse_args(["cam", "--to", "null", "--no-live-budget"]).live_budget is False
    assert Config().quality.live_budget is True


def test_latency_figures_match_wall_clock(clip, segmenter, tmp_path):
    probe = ProbeSink()
    stats_path = tmp_path / "stats.json"
    t0 = time.perf_counter()
    # looped: on a loaded machine frames are dropped and 45 could give fewer than 30 out
    stats = run_live(FileCameraSource(clip), _matter(segmenter), EffectControls("blur"), [NullSink(), probe],
                     loop=True, max_frames=30, stats_json=str(stats_path), handle_sigint=False)
    wall = time.perf_counter() - t0
    data = json.loads(stats_path.read_text())
    for key in ("fps_in", "fps_out", "frames_out", "dropped", "latency_ms_p50", "latency_ms_p95"):
        assert key in data
    assert data["frames_out"] == 30 == len(probe.seen) == stats.frames_out  # the file says what run_live returned
    own = [(handed - captured) * 1000 for captured, handed, _ in probe.seen]
    assert data["latency_ms_p50"] == pytest.approx(np.median(own), abs=2.0)
    assert data["latency_ms_p95"] == pytest.approx(np.percentile(own, 95), abs=3.0)
    stamps = [captured for captured, _, _ in probe.seen]
    assert (stamps[-1] - stamps[0]) / (data["frames_in"] - 1) >= 0.8 / 30  # frames captured in real time
    assert data["seconds"] <= wall and data["seconds"] > (data["frames_in"] - 1) / 30 * 0.9
    assert data["fps_in"] == pytest.approx(30, rel=0.2)
    assert data["frames_in"] == data["frames_out"] + data["dropped"] + (1 if data["frames_in"] > 30 + data["dropped"] else 0)


def test_camera_loss_keeps_the_virtual_camera_fed_and_recovers(clip, segmenter):
    vcam = VirtualCameraSink(backend="lm-test")
    matter = _matter(segmenter)
    statuses = []
    source = FileCameraSource(clip, disconnect=SimulatedDisconnect(after_frames=10, seconds=0.6))
    # until 20 frames are out (10 before the loss): a count, not a time, so a loaded machine that
    # drops frames still gets there; looped so the clip cannot run out first; 30 s only as a stop
    stats = run_live(source, matter, EffectControls("blur"), [vcam], loop=True, max_frames=20, duration=30,
                     handle_sigint=False, on_status=lambda s: statuses.append(s.status_line()), status_every=0.1)
    (cam,) = RecordingBackend.instances
    assert stats.losses == 1 and stats.reconnects == 1 and stats.lost is None
    assert stats.keepalive_frames >= 10  # ~0.6 s at 30 fps while the camera was away
    assert any("SOURCE LOST (person.mp4: simulated disconnect)" in line for line in statuses)
    gaps = np.diff(cam.times)
    # the virtual camera never went quiet: no gap beyond 150 ms, or beyond one frame's own processing
    # after the first (measured in this run: a loaded machine slows it) plus a frame period and 50 ms
    busiest = max(sum(ms) for ms in list(zip(*(stats.stages[k] for k in ("matte", "effect", "output"))))[1:]) / 1000
    assert gaps.max() < max(0.15, busiest + 1 / 30 + 0.05), (gaps.max(), busiest)
    assert stats.stopped_by == "frames" and stats.frames_out == 20  # frames flowed again after the reconnect
    assert matter.resets >= 2  # warm-up, then the restart after the reconnect
    # while lost it repeated the last good picture
    repeated = [i for i in range(1, len(cam.frames)) if np.array_equal(cam.frames[i], cam.frames[i - 1])]
    assert len(repeated) >= 10


def test_loop_restarts_the_file_and_resets_temporal_state(short_clip, segmenter):
    matter = _matter(segmenter)
    stats = run_live(FileCameraSource(short_clip), matter, EffectControls("white"), [NullSink()], loop=True,
                     duration=1.0, handle_sigint=False)
    assert stats.loops >= 2 and stats.frames_in >= 24  # played on in real time across the loops
    assert matter.resets >= 1 + stats.loops - 1  # warm-up, then every restart whose frames were processed
    assert stats.fps_in == pytest.approx(30, rel=0.2)


def test_keys_switch_effect_and_q_quits(clip, segmenter, tmp_path):
    probe = ProbeSink(keys={3: "t", 6: "r", 8: "g", 10: "q"})
    controls = EffectControls("blur")
    record = tmp_path / "rec.mp4"
    from livematte.live import make_sink

    recorder = make_sink(str(record))
    stats = run_live(FileCameraSource(clip), _matter(segmenter), controls, [probe, recorder], handle_sigint=False)
    assert stats.stopped_by == "key q" and stats.frames_out == 10
    shapes = [shape for _, _, shape in probe.seen]
    assert shapes[2] == (H, W, 3) and shapes[4] == (H, W, 4)  # t: transparent (RGBA)
    assert controls.spec == "chroma" and controls.effect.effect.color == (0, 255, 0)
    with av.open(str(record)) as c:
        # the RGBA frames were flattened into the recording (on a loaded machine its nicer thread may
        # leave some out: counted)
        assert sum(1 for _ in c.decode(video=0)) == 10 - recorder.dropped >= 8  # its queue holds 8
    x264 = x264_options(record)  # a live recording: superfast (subme 1), zero latency, one thread
    assert (x264["subme"], x264["bframes"], x264["threads"], x264.get("rc_lookahead", "0")) == ("1", "0", "1", "0")
    assert recorder.niced == sys.platform.startswith("linux")  # its thread is nicer than the live loop's
    assert isinstance(EffectControls("transparent").effect.effect, Transparent)
    white = EffectControls("white")
    white.handle("r")
    assert white.spec != "white" and white.spec in white.backgrounds  # r moves on to another background


def test_preview_without_display_is_skipped_not_fatal(clip, monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr("livematte.sinks.preview._checked", None)
    rc = _main(["cam", "--source", clip, "--to", "preview", "--to", "null", "--frames", "3"], monkeypatch)
    err = capsys.readouterr().err
    assert rc == 0 and "preview skipped: no display" in err
    sink = PreviewSink()
    sink.open(StreamInfo(width=W, height=H))
    assert not sink.available


def test_status_line_says_rates_drops_latency_and_loss():
    stats = LiveStats(dropped=3, latency=[20.0, 22.0])
    stats.stages["matte"] = [12.0]
    stats.lost = "unplugged"
    line = stats.status_line()
    assert "fps" in line and "dropped 3" in line and "latency 21 ms" in line and "matte 12" in line
    assert "SOURCE LOST (unplugged)" in line and "lighter" not in line
    stats.shed_level = 2  # the live budget sheds work: the line says so
    assert "lighter work: level 2" in stats.status_line()


def test_ctrl_c_leaves_a_playable_recording(clip, tmp_path):
    out, stats_path = tmp_path / "call.mp4", tmp_path / "stats.json"
    proc = subprocess.Popen([sys.executable, "-c", _SCRIPT, "cam", "--source", clip, "--loop", "--to", str(out),
                             "--stats-json", str(stats_path)], cwd=REPO, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 30
    while time.time() < deadline and not any(n.endswith(".part.mp4") for n in os.listdir(tmp_path)):
        time.sleep(0.05)
    time.sleep(1.5)  # recording
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    stats = json.loads(stats_path.read_text())
    assert stats["interrupted"] and stats["frames_out"] >= 20
    with av.open(str(out)) as c:
        frames = [f for f in c.decode(video=0)]
        duration = float(frames[-1].pts * frames[-1].time_base)
    assert len(frames) >= 20 and frames[0].width == W
    assert duration == pytest.approx(stats["seconds"], abs=0.5)  # stamped with capture time
    assert not [n for n in os.listdir(tmp_path) if ".part" in n]


@pytest.mark.skipif(not shutil.which("Xvfb") or not sys.platform.startswith("linux"), reason="needs Xvfb")
def test_preview_window_opens_on_a_display(clip, tmp_path):
    display = f":{90 + os.getpid() % 9}"
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "800x600x24"], stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        env = dict(os.environ, DISPLAY=display)
        stats_path = tmp_path / "stats.json"
        done = subprocess.run([sys.executable, "-c", _SCRIPT, "cam", "--source", clip, "--to", "preview", "--frames", "15",
                               "--stats-json", str(stats_path)], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        stats = json.loads(stats_path.read_text())
        assert stats["frames_out"] == 15 and stats["warnings"] == []
        assert stats["outputs"][0]["output"].startswith("preview window (b blur")
    finally:
        xvfb.terminate()
        xvfb.wait(timeout=10)
