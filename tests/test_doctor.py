"""`livematte doctor`: what it finds and explains, and its exit code.

This machine has no camera and no loopback device, so the real run must fail (exit 1) with the
fixes; the "ready" case replaces camera discovery and uses a registered pyvirtualcam test backend.
"""
from __future__ import annotations

import cv2
import numpy as np
import pyvirtualcam

from livematte import doctor

from .test_live import RecordingBackend, SmallBackend, _main  # noqa: F401  (registers the test backends)

V4L2_CTL = """ioctl: VIDIOC_ENUM_FMT
\tType: Video Capture

\t[0]: 'MJPG' (Motion-JPEG, compressed)
\t\tSize: Discrete 1280x720
\t\t\tInterval: Discrete 0.033s (30.000 fps)
\t\t\tInterval: Discrete 0.067s (15.000 fps)
\t\tSize: Discrete 640x480
\t\t\tInterval: Discrete 0.033s (30.000 fps)
\t[1]: 'YUYV' (YUYV 4:2:2)
\t\tSize: Discrete 640x480
\t\t\tInterval: Discrete 0.033s (30.000 fps)
"""


def test_real_machine_is_not_ready_and_says_how_to_fix_it(monkeypatch, capsys):
    import pyvirtualcam.camera

    real = {k: v for k, v in pyvirtualcam.camera.BACKENDS.items() if not k.startswith("lm-test")}
    monkeypatch.setattr(pyvirtualcam.camera, "BACKENDS", real)
    rc = _main(["doctor", "--no-measure"], monkeypatch)
    out = capsys.readouterr().out
    assert rc == 1
    assert "sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label=livematte" in out
    assert "why exclusive_caps=1" in out and "Chrome" in out and "Zoom" in out
    assert "[FAIL] camera: no camera found" in out and "--source VIDEO_FILE" in out
    assert "[  ok] segmenter backends" in out and "selfie: usable" in out
    assert "selfie_segmentation.tflite" in out  # the model file, found
    assert "CPU: usable" in out and "CUDA:" in out
    assert out.strip().splitlines()[-1] == "live path: NOT ready (virtual camera, camera)"


def test_ready_when_camera_vcam_and_model_are_there(monkeypatch, capsys):
    monkeypatch.setattr(doctor, "find_cameras", lambda: ["/dev/video0"])
    monkeypatch.setattr(doctor, "probe_camera", lambda spec: doctor.CameraInfo(
        spec, "Integrated Webcam", modes=doctor.parse_v4l2_formats(V4L2_CTL)))
    rc = _main(["doctor", "--vcam-backend", "lm-test", "--no-measure"], monkeypatch)
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "[  ok] virtual camera: /dev/video-test accepts 1280x720" in out
    assert "/dev/video0 'Integrated Webcam': MJPG 1280x720 @ 30, 15 fps; MJPG 640x480 @ 30 fps" in out
    assert out.strip().splitlines()[-1] == "live path: ready"


def test_busy_camera_and_refusing_vcam_fail(monkeypatch, capsys):
    monkeypatch.setattr(doctor, "find_cameras", lambda: ["/dev/video0"])
    monkeypatch.setattr(doctor, "probe_camera", lambda spec: doctor.CameraInfo(
        spec, usable=False, problem="camera /dev/video0: cannot be opened: it is busy"))
    rc = _main(["doctor", "--vcam-backend", "lm-test-small", "--no-measure"], monkeypatch)
    out = capsys.readouterr().out
    assert rc == 1
    assert "[FAIL] virtual camera" in out and "does not accept 1280x720" in out
    assert "[FAIL] camera: found, but none can be opened" in out and "busy" in out


def test_v4l2_ctl_output_is_parsed():
    assert doctor.parse_v4l2_formats(V4L2_CTL) == [
        "MJPG 1280x720 @ 30, 15 fps", "MJPG 640x480 @ 30 fps", "YUYV 640x480 @ 30 fps"]
    assert doctor.parse_v4l2_formats("") == []


class ModeCapture:
    """cv2.VideoCapture of a camera offering 640x480 and 1280x720 only."""

    def __init__(self, *args):
        self.size = [640, 480]

    def isOpened(self):
        return True

    def set(self, prop, value):
        if prop == cv2.CAP_PROP_FRAME_WIDTH:
            self.size[0] = int(value)
        elif prop == cv2.CAP_PROP_FRAME_HEIGHT:
            self.size[1] = int(value)
            if tuple(self.size) not in ((640, 480), (1280, 720)):
                self.size = [1280, 720]
        return True

    def get(self, prop):
        return {cv2.CAP_PROP_FRAME_WIDTH: self.size[0], cv2.CAP_PROP_FRAME_HEIGHT: self.size[1],
                cv2.CAP_PROP_FPS: 30.0}.get(prop, 0.0)

    def read(self):
        return True, np.zeros((self.size[1], self.size[0], 3), np.uint8)

    def release(self):
        pass


def test_probe_lists_modes_through_opencv_without_v4l2_ctl(monkeypatch):
    monkeypatch.setattr(cv2, "VideoCapture", ModeCapture)
    monkeypatch.setattr(doctor.shutil, "which", lambda name: None)
    info = doctor.probe_camera("/dev/video5")
    assert info.usable and info.modes == ["640x480 @ 30 fps", "1280x720 @ 30 fps"]


def test_doctor_says_which_quality_profile_suits_the_machine():
    from livematte.profile_advice import FRAME_MS, Cost, advise

    frames = [cv2.resize(f, (320, 180)) for f in _sample_frames()]
    check = doctor.check_profile(frames, cores=2)  # a real, short measurement
    assert not check.required and check.detail.startswith("--quality ")
    assert [i.split(":")[0] for i in check.items[:2]] == ["balanced", "fast"]
    assert all(" ms CPU" in i and "320x180" in i for i in check.items[:2])
    # the rule: balanced while it leaves room; fast when only fast fits; fast and a smaller camera else
    cheap, dear = Cost("balanced", 20, 21, 30), Cost("balanced", 0.9 * FRAME_MS, FRAME_MS, 30)
    fast = Cost("fast", 12, 13, 30)
    assert advise([cheap, fast], 2)[0] == "balanced"
    assert advise([dear, fast], 2)[0] == "fast" and "%" in advise([dear, fast], 2)[1]
    assert advise([cheap, fast], 1)[0] == "fast"  # one core: balanced would take too much of the machine
    slow = Cost("fast", 2 * FRAME_MS, 2 * FRAME_MS, 30)
    assert "--size 640x360" in advise([dear, slow], 2)[1]


def _sample_frames():
    from livematte.profile_advice import sample_frames

    return sample_frames(8, (640, 360))
