"""Every sink in livematte.sinks keeps the contract of livematte.sinks.base, and the runners rely on it.

The sink classes are found by walking the package, so a new sink without an entry in MAKERS
fails here. Each one is made for real (a tmp file, a tmp folder, a pipe, a loopback socket);
the virtual camera goes through a pyvirtualcam backend registered for the test (no device can
exist here), and the preview is run without a display (its documented skip path).
"""
from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import socket
import threading
import time
from collections import deque

import numpy as np
import pyvirtualcam
import pyvirtualcam.camera
import pytest
from pyvirtualcam.util import decode_fourcc

import livematte.sinks
from livematte.live import EffectControls, run_live
from livematte.sinks.base import LiveSink, Sink
from livematte.sinks.recorder import Recorder
from livematte.sinks.video import VideoFileSink
from livematte.sources.base import Source
from livematte.types import Frame, StreamInfo

W, H = 64, 48
INFO = StreamInfo(width=W, height=H)


class ContractBackend:
    """A pyvirtualcam backend standing in for the loopback device: keeps what it is sent."""

    def __init__(self, *, width, height, fps, fourcc, device, **kw):
        self.size, self.fmt, self.frames, self.closed = (width, height), decode_fourcc(fourcc), [], False

    def send(self, frame):
        self.frames.append(frame.copy())

    def close(self):
        self.closed = True

    def device(self):
        return "/dev/video-contract"

    def native_fourcc(self):
        return None


@pytest.fixture
def contract_backend():
    """``ContractBackend`` registered for this test only (other tests look for what this OS offers)."""
    pyvirtualcam.register_backend("lm-test-contract", ContractBackend)
    yield "lm-test-contract"
    pyvirtualcam.camera.BACKENDS.pop("lm-test-contract", None)


def _sink_classes():
    """Every concrete class defined in a livematte.sinks module that has ``write`` (a sink)."""
    found = {}
    for info in pkgutil.iter_modules(livematte.sinks.__path__):
        module = importlib.import_module(f"livematte.sinks.{info.name}")
        for name, cls in vars(module).items():
            if inspect.isclass(cls) and cls.__module__ == module.__name__ and hasattr(cls, "write") \
                    and not inspect.isabstract(cls):
                found[name] = cls
    return found


CLASSES = _sink_classes()


@pytest.fixture
def udp_reader():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    yield sock
    sock.close()


@pytest.fixture
def pipe():
    """``(received bytes, write end)``: a pipe drained by a thread (a real reader, so writes never block)."""
    r, w = os.pipe()
    received = bytearray()
    reader = threading.Thread(target=lambda: [received.extend(c) for c in iter(lambda: os.read(r, 1 << 16), b"")])
    reader.start()
    yield received, w
    os.close(w)
    reader.join(timeout=10)
    os.close(r)


@pytest.fixture
def no_display(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr("livematte.sinks.preview._checked", None)


def _maker(name, tmp_path, request):
    """``(make, picture kind, files abort may keep)`` for sink class ``name``; ``make()`` builds a fresh one."""
    from livematte.sinks.browser import BrowserSink
    from livematte.sinks.gif import GifSink
    from livematte.sinks.images import ImageFilesSink, MatteSequenceSink
    from livematte.sinks.layers import LayersSink
    from livematte.sinks.pipe import PipeSink
    from livematte.sinks.preview import PreviewSink
    from livematte.sinks.recorder import NullSink
    from livematte.sinks.sequence import ImageSequenceSink, sequence_target
    from livematte.sinks.stream import StreamSink
    from livematte.sinks.vcam import VirtualCameraSink

    n = iter(range(100))
    makers = {
        "VideoFileSink": (lambda: VideoFileSink(tmp_path / f"out{next(n)}.mp4"), "rgb", False),
        "ImageFilesSink": (lambda: ImageFilesSink(tmp_path / f"frames{next(n)}"), "rgba", True),
        "MatteSequenceSink": (lambda: MatteSequenceSink(tmp_path / f"mattes{next(n)}"), "grey", True),
        "PipeSink": (lambda: PipeSink(request.getfixturevalue("pipe")[1]), "rgba", False),
        "StreamSink": (lambda: StreamSink(f"udp://127.0.0.1:{request.getfixturevalue('udp_reader').getsockname()[1]}"),
                       "rgba", False),
        "NullSink": (NullSink, "rgb", False),
        "Recorder": (lambda: Recorder(VideoFileSink(tmp_path / f"rec{next(n)}.mp4")), "rgb", False),
        "PreviewSink": (lambda: (request.getfixturevalue("no_display"), PreviewSink())[1], "rgb", False),
        "VirtualCameraSink": (lambda: VirtualCameraSink(backend=request.getfixturevalue("contract_backend")), "rgba", False),
        "BrowserSink": (lambda: BrowserSink("http://127.0.0.1:0"), "rgba", False),
        "ImageSequenceSink": (lambda: ImageSequenceSink(sequence_target(f"{tmp_path}/seq{next(n)}/")), "rgba", True),
        "GifSink": (lambda: GifSink(str(tmp_path / f"anim{next(n)}.gif")), "rgba", False),
        # frames with nobody tracked (the matter's deque holds None for them): the lifecycle only
        "LayersSink": (lambda: LayersSink(tmp_path / f"layers{next(n)}", deque([None] * 64)), "grey", False),
    }
    return makers.get(name)


def _picture(kind: str, i: int = 0) -> np.ndarray:
    ramp = ((np.arange(W)[None, :] * 4 + np.arange(H)[:, None] + 9 * i) % 256).astype(np.uint8)  # (H, W)
    if kind == "grey":
        return ramp
    planes = [ramp, 255 - ramp, np.full_like(ramp, 90)] + ([np.full_like(ramp, 200)] if kind == "rgba" else [])
    return np.ascontiguousarray(np.stack(planes, axis=2))


def _files(root) -> set:
    return {os.path.join(d, f) for d, _, names in os.walk(root) for f in names}


def test_the_walk_finds_the_sinks():
    assert {"VideoFileSink", "ImageFilesSink", "PipeSink", "Recorder", "VirtualCameraSink", "BrowserSink"} <= set(CLASSES)


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_every_sink_inherits_the_contract_and_keeps_it(name, tmp_path, request):
    cls = CLASSES[name]
    assert issubclass(cls, Sink), f"{name} does not inherit livematte.sinks.base.Sink"
    entry = _maker(name, tmp_path, request)
    assert entry is not None, f"{name}: add a maker to this test"
    make, kind, keeps_finished = entry
    alpha = kind == "rgba"

    # open, write, close twice, abort after close: all quiet; describe names it at every stage
    sink = make()
    assert isinstance(sink.describe(), str) and sink.describe()
    sink.open(INFO, alpha)
    assert isinstance(sink.describe(), str) and sink.describe().strip()
    for i in range(3):
        sink.write(_picture(kind, i), Frame(image=_picture("rgb", i), index=i, name=f"{i:05d}"))
    if isinstance(sink, LiveSink):
        assert sink.take_keys() == [] and sink.error is None
        assert isinstance(sink.keepalive, bool) and isinstance(sink.dropped, int) and sink.dropped >= 0
        assert sink.problem is None or (isinstance(sink.problem, str) and sink.problem in sink.describe())
    sink.close()
    sink.close()
    sink.abort()
    if isinstance(sink, LiveSink):
        assert sink.error is None
    if name == "VideoFileSink":
        assert sink.path.is_file() and sink.frames_written == 3  # close published it
    if name == "PreviewSink":  # no display: opened anyway, says why, shows nothing
        assert sink.problem and sink.describe() == f"preview skipped: {sink.problem}"
    if name == "VirtualCameraSink":
        assert sink.sent == 3 and "/dev/video-contract" in sink.describe()

    # abort after writing (enough frames that encoders have written to disk): nothing partial stays
    # (image sinks keep only the images they finished)
    before = _files(tmp_path)
    sink = make()
    sink.open(INFO, alpha)
    for i in range(40):
        sink.write(_picture(kind, i), Frame(image=_picture("rgb", i), index=i, name=f"{i:05d}"))
    sink.abort()
    sink.abort()
    sink.close()
    left = _files(tmp_path) - before
    kept = {os.fspath(p) for p in sink.written} if keeps_finished else set()
    assert left == kept, f"{name}.abort left {sorted(left - kept)}"


def test_context_manager_closes_on_success_and_aborts_on_error(tmp_path):
    with VideoFileSink(tmp_path / "ok.mp4") as sink:
        sink.open(INFO, False)
        sink.write(_picture("rgb"), Frame(image=_picture("rgb")))
    assert (tmp_path / "ok.mp4").is_file()
    with pytest.raises(RuntimeError):
        with VideoFileSink(tmp_path / "bad.mp4") as sink:
            sink.open(INFO, False)
            sink.write(_picture("rgb"), Frame(image=_picture("rgb")))
            raise RuntimeError("boom")
    assert os.listdir(tmp_path) == ["ok.mp4"]


def test_defaults_of_a_minimal_live_sink():
    class Minimal(LiveSink):
        def write(self, picture, frame):
            pass

    sink = Minimal()
    sink.open(INFO, False)
    assert (sink.keepalive, sink.problem, sink.error, sink.dropped, sink.take_keys()) == (False, None, None, 0, [])
    assert sink.describe() == "Minimal"
    sink.abort()
    sink.close()
    with pytest.raises(TypeError):
        Sink()  # write is the one thing every sink must say


def test_recorder_describes_and_reports_its_sink(tmp_path):
    rec = Recorder(VideoFileSink(tmp_path / "call.mp4"))
    assert rec.describe() == str(tmp_path / "call.mp4")
    rec.open(INFO, False)
    rec.write(_picture("rgb")[:10], Frame(image=_picture("rgb")))  # wrong size: the encoder thread fails
    for _ in range(200):
        if rec.error is not None:
            break
        time.sleep(0.01)
    assert isinstance(rec.error, ValueError)
    rec.abort()
    assert not (tmp_path / "call.mp4").exists()


class _OneFrameSource:
    """A live source of one black frame (the runner's open/read/close contract)."""

    def __init__(self):
        self.opened = False

    def open(self):
        self.opened = True
        return StreamInfo(width=W, height=H)

    def read(self):
        return None

    def close(self):
        pass


def test_run_live_refuses_a_sink_without_the_live_contract(tmp_path):
    source = _OneFrameSource()
    with pytest.raises(TypeError, match="VideoFileSink is not a livematte.sinks.base.LiveSink"):
        run_live(source, lambda frame: None, EffectControls("white"), [VideoFileSink(tmp_path / "x.mp4")])
    assert not source.opened and os.listdir(tmp_path) == []


def test_file_sources_inherit_the_source_contract():
    from livematte.sources.images import FrameDirectorySource, ImageFilesSource
    from livematte.sources.video import VideoFileSource

    for cls in (VideoFileSource, ImageFilesSource, FrameDirectorySource):
        assert issubclass(cls, Source)
    assert ImageFilesSource(["x.png"]).warning is None and ImageFilesSource(["x.png"]).stills
    assert VideoFileSource("x.mp4").warning is None and not VideoFileSource("x.mp4").stills
