"""The live runner: camera in, matted picture out to a virtual camera, a window, a recording.

Threads and hand-offs::

    capture thread --(1-slot mailbox: latest frame wins)--> processing loop --> sinks
                                                                            \\-> recorder thread (bounded queue)

* Capture runs on its own thread and always puts the newest frame in a one-slot mailbox; a frame
  still waiting there when the next one arrives is dropped and counted, so live mode never builds
  a backlog and the output is paced by the camera (at most its frame rate).
* A camera that stops delivering is re-opened with back-off (0.25 s doubling to 4 s) while the
  sinks marked ``keepalive`` (the virtual camera) keep receiving the last good picture at the
  camera's rate. Every (re)start of the source, and every loop of a file, resets the temporal
  state of the matter and the effect.
* Recordings are encoded on their own thread behind a bounded queue; if the encoder cannot keep
  up, frames are dropped from that recording only (counted), never from the live output. The
  encoder is set for live work (``[output] live_preset``, ``tune=zerolatency``, one thread) and its
  thread is nicer than this loop's, so on a busy machine the recording falls behind first.
* Latency of a frame = its capture timestamp to the moment its output was handed to every sink.
* The live budget (:mod:`livematte.live_budget`, ``budget``): while the loop's time per frame stays
  near the camera's period, a :class:`~livematte.matter.Matter` leaves work out of the next frames
  (``Matter.set_shed``: the pose model, the search pass, a crop tile) and takes it back when there is
  room, so the frame rate holds and the matte degrades a little instead.
"""
from __future__ import annotations

import os
import threading
import time
from typing import Callable, Dict, List, Optional

import cv2
import numpy as np

from .cpu_meter import StageMeter
from .effects import IMAGE_EXTENSIONS, make_effect, spec_keywords
from .live_budget import LiveBudget
from .live_stats import LiveStats, write_stats
from .signals import StopEvent
from .sinks.base import LiveSink, check_live_sinks
from .sinks.recorder import LIVE_NICE, RECORD_TIME_BASE, NullSink, Recorder, fit_picture  # noqa: F401 (re-exported)
from .sources.camera import SourceLost
from .subject.schedule import SHEDS
from .types import Frame, StreamInfo

class Mailbox:
    """Holds at most one item: the latest. ``put`` replaces a waiting item and counts it dropped."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item = None
        self.dropped = 0
        self.max_waiting = 0

    def put(self, item) -> None:
        with self._cond:
            if self._item is not None:
                self.dropped += 1
            self._item = item
            self.max_waiting = max(self.max_waiting, 1)
            self._cond.notify()

    def get(self, timeout: float):
        """The waiting item, or None after ``timeout`` seconds (or when woken)."""
        with self._cond:
            if self._item is None:
                self._cond.wait(timeout)
            item, self._item = self._item, None
            return item

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()


class Capture(threading.Thread):
    """Reads the source into the mailbox; re-opens it with back-off when it is lost."""

    def __init__(self, source, mailbox: Mailbox, info: StreamInfo, *, loop: bool = False, stamps=None):
        super().__init__(daemon=True, name="livematte-capture")
        self.source, self.mailbox, self.info, self.loop = source, mailbox, info, loop
        self.stamps = stamps if stamps is not None else []  # capture times (a bounded deque from LiveStats)
        self.stop_event = threading.Event()
        self.epoch = 0  # bumped on every restart; frames carry it
        self.frames_in = 0
        self.loops = 0
        self.losses = 0
        self.reconnects = 0
        self.attempts = 0
        self.lost: Optional[str] = None  # why the source is away, while it is
        self.retry_error = ""  # what the last re-open attempt said
        self.retry_at = 0.0
        self.finished = False
        self.error: Optional[BaseException] = None
        self.first_stamp: Optional[float] = None

    def run(self) -> None:
        try:
            while not self.stop_event.is_set():
                try:
                    frame = self.source.read()
                except SourceLost as err:
                    self._recover(str(err))
                    continue
                if frame is None:
                    if not self.loop:
                        self.finished = True
                        break
                    self.source.restart()
                    self.loops += 1
                    self.epoch += 1
                    continue
                self._deliver(frame)
        except BaseException as err:  # handed to the processing loop
            self.error = err
        finally:
            self.finished = True
            self.mailbox.wake()

    def _deliver(self, frame: Frame) -> None:
        if (frame.width, frame.height) != (self.info.width, self.info.height):  # re-opened in another mode
            frame.image = cv2.resize(frame.image, (self.info.width, self.info.height), interpolation=cv2.INTER_AREA)
        if frame.timestamp is None:
            frame.timestamp = time.perf_counter()
        if self.first_stamp is None:
            self.first_stamp = frame.timestamp
        frame.pts = round((frame.timestamp - self.first_stamp) / RECORD_TIME_BASE)
        frame.time_base = RECORD_TIME_BASE
        self.frames_in += 1
        self.stamps.append(frame.timestamp)
        self.mailbox.put((frame, self.epoch))

    def _recover(self, reason: str) -> None:
        self.losses += 1
        self.lost, self.attempts = reason, 0
        self.source.close()
        delay = 0.25
        while not self.stop_event.is_set():
            self.retry_at = time.perf_counter() + delay
            if self.stop_event.wait(delay):
                return
            self.attempts += 1
            try:
                self.source.open()
            except Exception as err:  # gone, busy, or a different mode: keep trying
                self.retry_error = str(err)
                delay = min(delay * 2, 4.0)
                continue
            self.reconnects += 1
            self.epoch += 1
            self.lost = None
            return


class EffectControls:
    """The current effect and the keys that switch it: b blur, r next background, g green, t transparent.

    ``effect`` is the current effect stage (:func:`livematte.effects.make_effect`) on ``engine``
    (None: the numpy engine); the kinds that are not backgrounds of their own come from the registry.
    """

    COLOURS = ("white", "#202124", "#3c6e9f")

    def __init__(self, background: str = "blur", blur_strength: float = 24.0, engine=None):
        self.blur_strength, self.engine = blur_strength, engine
        self.spec = background
        self.effect = make_effect(background, blur_strength=blur_strength, engine=engine)
        self._cache: Dict[str, object] = {background: self.effect}
        self.backgrounds = self._background_cycle(background)
        self._next = 1 if self.backgrounds[0] == background else 0  # r always changes the picture

    @classmethod
    def _background_cycle(cls, background: str) -> List[str]:
        k = background.split(":")[0].lower()
        own = [] if k in spec_keywords() else [background]  # a colour, image or video of its own
        siblings: List[str] = []
        if own and os.path.isfile(background):
            folder = os.path.dirname(os.path.abspath(background))
            siblings = sorted(os.path.join(folder, f) for f in os.listdir(folder)
                              if f.lower().endswith(IMAGE_EXTENSIONS) and os.path.join(folder, f) != os.path.abspath(background))
        return own + siblings + [c for c in cls.COLOURS if c not in own]

    def _use(self, spec: str) -> None:
        if spec not in self._cache:
            self._cache[spec] = make_effect(spec, blur_strength=self.blur_strength, engine=self.engine)
        self.spec, self.effect = spec, self._cache[spec]
        self.effect.reset()

    def handle(self, key: str) -> Optional[str]:
        """Apply one key: returns ``"quit"``, ``"changed"`` or None (ignored)."""
        if key == "q":
            return "quit"
        if key == "b":
            self._use("blur")
        elif key == "g":
            self._use("chroma")
        elif key == "t":
            self._use("transparent")
        elif key == "r":
            self._use(self.backgrounds[self._next % len(self.backgrounds)])
            self._next += 1
        else:
            return None
        return "changed"


def make_sink(spec: str, *, vcam_device: Optional[str] = None, vcam_backend: Optional[str] = None,
              vcam_format: str = "auto", crf: int = 20, preset: str = "superfast", allow_remote: bool = False,
              stream_fill: str = "chroma", on_event: Optional[Callable[[str], None]] = None,
              http_access: Optional[dict] = None) -> LiveSink:
    """``vcam`` | ``preview`` | ``null`` | a video file name -> a sink for :func:`run_live` (not opened).

    ``preset``: the x264 preset of recordings and streams (``[output] live_preset``); a recording is
    encoded with ``tune=zerolatency`` on one thread, nicer than the live loop (:class:`Recorder`).

    Also ``http://HOST:PORT`` (browser overlay page), ``udp://`` / ``tcp://`` / ``srt://`` / ``rtmp://``
    (a live H.264 stream, transparency flattened with ``stream_fill``) and ``-`` (raw RGBA on stdout).
    ``http_access``: ``token`` / ``allow_origins`` for the overlay page (:class:`~.sinks.browser.BrowserSink`).
    """
    # -- outputs for OBS and pipes (livematte.sinks.browser / stream / pipe) --
    if spec.startswith("http://"):
        from .sinks.browser import BrowserSink

        return BrowserSink(spec, allow_remote=allow_remote, on_event=on_event, **(http_access or {}))
    from .sinks.stream import StreamSink, is_stream_url

    if is_stream_url(spec):
        return Recorder(StreamSink(spec, fill=stream_fill, preset=preset), depth=2, close_timeout=5.0)
    if spec == "-":
        from .sinks.pipe import PipeSink

        return Recorder(PipeSink(on_event=on_event), depth=2, close_timeout=2.0)
    # -- end of outputs for OBS and pipes --
    if spec == "vcam":
        from .sinks.vcam import VirtualCameraSink

        return VirtualCameraSink(vcam_device, backend=vcam_backend, fmt=vcam_format)
    if spec == "preview":
        from .sinks.preview import PreviewSink

        return PreviewSink()
    if spec == "null":
        return NullSink()
    from .io import video_sink

    return Recorder(video_sink(spec, audio_from=None, crf=crf, preset=preset, fragmented=True, live=True),
                    fail_alone=True, nice=LIVE_NICE)


def _placeholder(info: StreamInfo) -> np.ndarray:
    """Dark grey RGB ``(H, W, 3)`` saying the camera is reconnecting (before any good frame exists)."""
    image = np.full((info.height, info.width, 3), 40, np.uint8)
    scale = max(0.5, info.height / 720)
    cv2.putText(image, "camera unavailable - reconnecting", (int(40 * scale), info.height // 2),
                cv2.FONT_HERSHEY_SIMPLEX, scale, (220, 220, 220), max(1, int(2 * scale)), cv2.LINE_AA)
    return image


def _open_sinks(sinks: list, info: StreamInfo, alpha: bool) -> None:
    opened = []
    try:
        for sink in sinks:
            sink.open(info, alpha)
            opened.append(sink)
    except BaseException:
        for sink in opened:
            sink.abort()
        raise


def run_live(source, matter: Callable[[Frame], np.ndarray], controls: EffectControls, sinks: List[LiveSink], *,
             loop: bool = False, duration: Optional[float] = None, max_frames: Optional[int] = None,
             stats_json: Optional[str] = None, on_status: Optional[Callable[[LiveStats], None]] = None,
             status_every: float = 0.5, stop: Optional[threading.Event] = None,
             handle_sigint: bool = True, budget: bool = True) -> LiveStats:
    """Run ``source`` (not yet opened) through ``matter`` and ``controls.effect`` into ``sinks`` until stopped.

    Stops at ``duration`` seconds, after ``max_frames`` frames out, at the end of a file source
    (unless ``loop``), on the key q in a preview, when ``stop`` is set, or on Ctrl-C or SIGTERM / SIGHUP / SIGQUIT
    (called from the main thread: the first one stops cleanly, later ones wait for the finish). The sinks are always
    closed, so a recording is finished and plays. ``stats_json`` is written at exit. ``budget``: a
    matter with ``set_shed`` (a :class:`~livematte.matter.Matter`) sheds work while the loop falls
    behind the source (:mod:`livematte.live_budget`; ``stats.shed_frames`` counts the frames per level).
    A sink with a ``problem`` after opening goes into ``stats.warnings`` (its ``describe()``).

    Raises:
        LivematteError: the source or a sink cannot be opened (nothing was started), or a recording failed.
        TypeError: a sink is not a :class:`~livematte.sinks.base.LiveSink` (before anything is opened).
    """
    check_live_sinks(sinks)
    stop = stop or threading.Event()
    info = source.open()
    stats = LiveStats(source=info.name, size=(info.width, info.height), fps_source=float(info.fps))
    try:
        _open_sinks(sinks, info, bool(controls.effect.alpha))
    except BaseException:
        source.close()
        raise
    stats.warnings.extend(sink.describe() for sink in sinks if sink.problem)
    blank = Frame(image=np.zeros((info.height, info.width, 3), np.uint8))
    try:
        controls.effect.apply(blank.image, matter(blank))  # warm up (first-call allocations), then forget it
    except BaseException:  # Ctrl-C here: nothing recorded yet, nothing left behind
        for sink in sinks:
            sink.abort()
        source.close()
        raise
    matter.reset()
    meter = StageMeter()  # CPU per frame and per stage (--stats-json)
    matter = meter.instrument_matter(matter)
    meter.wrap(source, "read", "decode")  # on the capture thread
    for sink in sinks:
        if isinstance(sink, Recorder):  # its encoder runs on the recorder's thread
            meter.wrap(sink.sink, "write", "output")

    period = 1.0 / float(info.fps)
    set_shed = getattr(matter, "set_shed", None) if budget else None
    shedder = LiveBudget(period, levels=len(SHEDS) - 1 if set_shed is not None else 0)
    if set_shed is not None:
        set_shed(0)
    seen_dropped = 0
    keepalive = [sink for sink in sinks if sink.keepalive]
    mailbox = Mailbox()
    capture = Capture(source, mailbox, info, loop=loop, stamps=stats.recent_in)
    last_picture: Optional[np.ndarray] = None
    epoch, next_keepalive, failure = 0, 0.0, None
    start = time.perf_counter()
    next_status = start + status_every
    with StopEvent(stop, handle_sigint):
        try:
            meter.start()
            capture.start()
            while True:
                now = time.perf_counter()
                if stop.is_set():
                    stats.stopped_by, stats.interrupted = "interrupt", True
                    break
                if duration is not None and now - start >= duration:
                    stats.stopped_by = "duration"
                    break
                if capture.error is not None:
                    raise capture.error
                if on_status is not None and now >= next_status:
                    stats.frames_in, stats.dropped = capture.frames_in, mailbox.dropped
                    stats.lost, stats.retry_in = capture.lost, capture.retry_at - now
                    on_status(stats)
                    next_status = now + status_every
                item = mailbox.get(timeout=period)
                now = time.perf_counter()
                if item is None:
                    if capture.finished and capture.error is None:
                        stats.stopped_by = "end"
                        break
                    if capture.lost is not None and keepalive and now >= next_keepalive:
                        picture = last_picture if last_picture is not None else _placeholder(info)
                        for sink in keepalive:
                            sink.write(picture, None)
                        stats.keepalive_frames += 1
                        next_keepalive = now + period
                    continue
                frame, frame_epoch = item
                if frame_epoch != epoch:  # the source restarted: forget temporal state
                    matter.reset()
                    controls.effect.reset()
                    epoch = frame_epoch
                t0 = now
                alpha = matter(frame)
                t1, c1 = time.perf_counter(), time.thread_time()
                picture = controls.effect.apply(frame.image, alpha)
                t2, c2 = time.perf_counter(), time.thread_time()
                for sink in sinks:
                    sink.write(picture, frame)
                t3, c3 = time.perf_counter(), time.thread_time()
                meter.add("effect", c2 - c1)
                meter.add("output", c3 - c2)
                last_picture = picture
                stats.frames_out += 1
                stats.latency.append((t3 - frame.timestamp) * 1000.0)
                for name, value in zip(("wait", "matte", "effect", "output"), (t0 - frame.timestamp, t1 - t0, t2 - t1, t3 - t2)):
                    stats.stages[name].append(value * 1000.0)
                stats.recent_out.append(t3)
                level = shedder.level
                if shedder.update(t3 - t0, mailbox.dropped > seen_dropped) != level:
                    set_shed(shedder.level)
                    stats.shed_level = shedder.level
                seen_dropped = mailbox.dropped
                if sinks and all(sink.failure for sink in sinks):
                    stats.stopped_by = "every output failed"
                    break
                for sink in sinks:
                    if sink.error is not None:
                        raise sink.error
                    for key in sink.take_keys():
                        if controls.handle(key) == "quit":
                            stats.stopped_by = "key q"
                            stop.set()
                if stats.stopped_by == "key q":
                    break
                if max_frames is not None and stats.frames_out >= max_frames:
                    stats.stopped_by = "frames"
                    break
        except KeyboardInterrupt:
            stats.stopped_by, stats.interrupted = "interrupt", True
        except BaseException as err:
            failure = err
        finally:
            end = time.perf_counter()
            capture.stop_event.set()
            capture.join(timeout=10)
            source.close()
            for sink in sinks:
                try:
                    sink.close()
                except BaseException as err:
                    failure = failure or err
            meter.stop(stats.frames_out)
            stats.cpu = meter.report()
            first = capture.first_stamp if capture.first_stamp is not None else start
            stats.seconds = max(0.0, end - first)
            stats.frames_in, stats.dropped, stats.max_backlog = capture.frames_in, mailbox.dropped, mailbox.max_waiting
            stats.loops, stats.losses, stats.reconnects = capture.loops, capture.losses, capture.reconnects
            stats.lost = capture.lost
            stats.outputs = [{"output": s.describe(), "dropped": s.dropped} for s in sinks]
            stats.shed_frames, stats.shed_changes = dict(shedder.frames), shedder.changes
            stats.warnings.extend(s.failure for s in sinks if s.failure)
            if stats_json:
                write_stats(stats_json, stats)
    if failure is not None:
        raise failure
    return stats
