"""``--to http://127.0.0.1:PORT``: a local web page showing the live cut-out on a transparent
background, for OBS's Browser Source.

Threads and hand-offs::

    live loop --write()--> 1-slot mailbox --> encoder thread --> 1-slot mailbox per viewer --> sender thread

* ``write`` only drops the picture into a mailbox (latest wins): the live loop never waits on
  encoding or on any viewer. Nothing is encoded while nobody watches.
* Each picture is encoded once: the colour as JPEG and, for RGBA pictures, the alpha as an exact
  (lossless) grey+alpha PNG; the page draws the JPEG and cuts it with the PNG
  (``destination-in``), so the canvas keeps real transparency. About 5 ms at 1280x720
  (JPEG 4:4:4, so background colour does not bleed into the person's edge).
* A viewer has at most :data:`IN_FLIGHT` pictures sent but not yet drawn (the page acknowledges
  each one); newer pictures replace a waiting one, so a slow viewer gets fewer frames (counted in
  its ``dropped``) and neither the live loop nor the other viewers wait. A viewer whose socket
  takes no data for ``limits.send_timeout`` s, or that acknowledges nothing for
  ``limits.ack_timeout`` s, is disconnected.
* Latency: from ``write`` to the page's acknowledgement that it drew the picture
  (``latency_ms``, the last 300 values).
* Safety: the server (:mod:`.overlay_server`, on the ``websockets`` library) binds to loopback
  unless ``allow_remote`` (which needs a ``token``), and refuses foreign Host / Origin headers
  (:mod:`.access`): another web page in a browser cannot watch the camera.

Binary message per picture (big-endian)::

    b"LMF1" | seq u32 | jpeg_len u32 | png_len u32 (0: opaque) | width u16 | height u16 | jpeg | png
"""
from __future__ import annotations

import collections
import struct
import threading
import time
import zlib
from typing import Callable, Deque, Dict, Iterable, List, Optional, Tuple

import cv2
import numpy as np
from websockets.exceptions import ConnectionClosed

from ..types import Frame, StreamInfo
from .access import AccessPolicy, check_token, parse_http_target
from .base import LiveSink
from .overlay_server import Limits, OverlayServer, set_send_timeout

HEADER = struct.Struct(">4sIIIHH")
MAGIC = b"LMF1"
IN_FLIGHT = 2  # pictures sent and not yet drawn, per viewer
ACK_GRACE = 1.0  # s: send anyway when a viewer has acknowledged nothing for this long


def png_grey_alpha(alpha: np.ndarray, level: int = 1) -> bytes:
    """An 8-bit grey+alpha PNG (colour type 4) of ``alpha`` uint8 ``(H, W)``: grey 0, alpha = ``alpha``.

    >>> png = png_grey_alpha(np.full((2, 3), 7, np.uint8))
    >>> cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)[..., 3].tolist()
    [[7, 7, 7], [7, 7, 7]]
    """
    h, w = alpha.shape
    rows = np.zeros((h, 1 + 2 * w), np.uint8)  # filter byte 0 (none), then (grey, alpha) pairs
    rows[:, 2::2] = alpha

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 4, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows.tobytes(), level))
            + chunk(b"IEND", b""))


def encode_picture(picture: np.ndarray, seq: int, quality: int = 85) -> bytes:
    """One message (see the module docstring) for an RGB ``(H, W, 3)`` or RGBA ``(H, W, 4)`` uint8 picture."""
    h, w = picture.shape[:2]
    bgr = cv2.cvtColor(picture, cv2.COLOR_RGBA2BGR if picture.shape[2] == 4 else cv2.COLOR_RGB2BGR)
    ok, jpeg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality,  # 4:4:4: no colour bleeding
                                          cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    png = png_grey_alpha(np.ascontiguousarray(picture[:, :, 3])) if picture.shape[2] == 4 else b""
    return HEADER.pack(MAGIC, seq & 0xFFFFFFFF, len(jpeg), len(png), w, h) + jpeg.tobytes() + png


class _Viewer:
    """One connected page: a mailbox of the latest message and the counts of what it got."""

    def __init__(self, connection, name: str):
        self.connection, self.name = connection, name
        self.cond = threading.Condition()
        self.item: Optional[Tuple[int, float, bytes]] = None  # (seq, write time, message)
        self.unacked: Dict[int, float] = {}
        self.last_ack = time.perf_counter()
        self.awaiting_since: Optional[float] = None  # first send not yet followed by an ack
        self.sent = self.drawn = self.dropped = 0
        self.closed: Optional[str] = None

    def offer(self, seq: int, stamp: float, message: bytes) -> None:
        with self.cond:
            if self.item is not None:
                self.dropped += 1
            self.item = (seq, stamp, message)
            self.cond.notify_all()

    def close(self, reason: str) -> None:
        with self.cond:
            if self.closed is None:
                self.closed = reason
            self.cond.notify_all()

    def acknowledge(self, seq: int, now: float) -> Optional[float]:
        """The page drew picture ``seq``: its write time (None if unknown); older ones leave the flight."""
        with self.cond:
            stamp = self.unacked.pop(seq, None)
            for old in [s for s in self.unacked if s < seq]:
                del self.unacked[old]  # skipped by the page: no longer in flight
            self.last_ack = now
            self.awaiting_since = now if self.unacked else None
            self.cond.notify_all()
        return stamp


class BrowserSink(LiveSink):
    """Serve the overlay page and push pictures to every page that is open.

    Args:
        spec: ``http://HOST:PORT``; port 0 picks a free one (see ``url`` after ``open``).
        allow_remote: allow a non-loopback HOST (requires ``token``).
        token: access token the page URL must carry as ``?token=`` (None: none needed on loopback).
        allow_origins: web origins besides the page's own that may connect (``--allow-origin``).
        quality: JPEG quality of the colour.
        limits: connection / viewer / size / time caps (:class:`~.overlay_server.Limits`).
        on_event: called with one-line messages (listening, viewers coming and going); never required.

    Attributes:
        url: the page's address (after ``open``; with ``?token=`` when there is one).
        latency_ms: write-to-drawn times in ms of recent pictures, over all viewers.
        dropped: pictures a viewer did not get because it was still busy (all viewers together).
    """

    def __init__(self, spec: str, *, allow_remote: bool = False, token: Optional[str] = None,
                 allow_origins: Iterable[str] = (), quality: int = 85, limits: Limits = Limits(),
                 on_event: Optional[Callable[[str], None]] = None):
        self.spec = spec
        self.token = check_token(token)
        self.host, self.port = parse_http_target(spec, allow_remote=allow_remote, token=self.token)
        self.allow_remote, self.quality, self.limits = allow_remote, quality, limits
        self.allow_origins = tuple(allow_origins)
        AccessPolicy(self.host, self.port, origins=self.allow_origins)  # checks the origins now
        self.on_event = on_event or (lambda message: None)
        self.url = spec
        self.latency_ms: Deque[float] = collections.deque(maxlen=300)
        self.frames_encoded = 0
        self.viewers: List[_Viewer] = []
        self.events: List[str] = []
        self._lock = threading.Lock()
        self._gone_dropped = 0
        self._mail = threading.Condition()
        self._pending: Optional[Tuple[np.ndarray, float]] = None
        self._seq = 0
        self._stop = threading.Event()
        self._server: Optional[OverlayServer] = None
        self._threads: List[threading.Thread] = []

    # -- sink contract ------------------------------------------------------------------
    def open(self, info: StreamInfo, alpha: bool = False) -> None:
        """Start listening (raises LivematteError when the port is taken) and the encoder thread."""
        self.info = info
        self._server = OverlayServer(
            self.host, self.port, self.spec, limits=self.limits,
            policy_for=lambda port: AccessPolicy(self.host, port, remote=self.allow_remote,
                                                 origins=self.allow_origins, token=self.token),
            on_viewer=self._serve_viewer, on_event=self._event)
        host, self.port = self._server.host, self._server.port
        self.url = f"http://{'[' + host + ']' if ':' in host else host}:{self.port}/"
        if self.token:
            self.url += f"?token={self.token}"
        t = threading.Thread(target=self._encode_loop, daemon=True, name="livematte-encode")
        t.start()
        self._threads.append(t)
        self._event(f"serving {self.url} ({info.width}x{info.height}): add it to OBS as a Browser Source of that size")
        if not alpha:
            self._event("the picture has no transparency (use --background transparent for a cut-out)")

    def write(self, picture: np.ndarray, frame: Optional[Frame]) -> None:
        """Hand ``picture`` to the encoder thread and return at once (an older waiting one is replaced)."""
        if not self.viewers:
            return
        with self._mail:
            self._pending = (picture, time.perf_counter())
            self._mail.notify()

    def close(self) -> None:
        """Tell the pages goodbye, stop serving. Safe to call twice."""
        if self._stop.is_set():
            return
        self._stop.set()
        with self._mail:
            self._mail.notify_all()
        for viewer in list(self.viewers):
            viewer.close("livematte stopped")
        if self._server is not None:
            self._server.close()
        for t in self._threads:
            t.join(timeout=5)

    def describe(self) -> str:
        return self.url

    @property
    def dropped(self) -> int:
        with self._lock:
            return self._gone_dropped + sum(v.dropped for v in self.viewers)

    # -- internals ----------------------------------------------------------------------
    def _event(self, message: str) -> None:
        self.events.append(message)
        self.on_event(f"{self.url}: {message}")

    def _encode_loop(self) -> None:
        while not self._stop.is_set():
            with self._mail:
                while self._pending is None and not self._stop.is_set():
                    self._mail.wait(0.5)
                item, self._pending = self._pending, None
            if item is None:
                continue
            picture, stamp = item
            self._seq += 1
            message = encode_picture(np.ascontiguousarray(picture), self._seq, self.quality)
            self.frames_encoded += 1
            for viewer in list(self.viewers):
                viewer.offer(self._seq, stamp, message)

    def _serve_viewer(self, connection) -> None:
        """Runs on the connection's thread: a reader thread takes acks, this thread sends."""
        viewer = _Viewer(connection, "%s:%d" % connection.remote_address[:2])
        set_send_timeout(connection.socket, self.limits.send_timeout)
        with self._lock:
            self.viewers.append(viewer)
        self._event(f"viewer {viewer.name} connected")
        reader = threading.Thread(target=self._read_acks, args=(viewer,), daemon=True, name="livematte-ws-read")
        reader.start()
        try:
            self._send_loop(viewer)
        except ConnectionClosed as err:
            if isinstance(err.__cause__, (BlockingIOError, TimeoutError)):  # SO_SNDTIMEO ran out
                with viewer.cond:  # the root cause, whatever the reader thread saw after it
                    viewer.closed = f"too slow (took no data for {self.limits.send_timeout:g} s)"
            viewer.close(f"connection lost ({err})")
        finally:
            connection.close(1001 if self._stop.is_set() else 1000)
            reader.join(timeout=2)
            self._event(f"viewer {viewer.name} disconnected: {viewer.closed}; it drew {viewer.drawn} pictures, "
                        f"{viewer.dropped} left out for it")
            with self._lock:  # last: a caller seeing no viewers has seen their events
                self.viewers.remove(viewer)
                self._gone_dropped += viewer.dropped

    def _send_loop(self, viewer: _Viewer) -> None:
        while True:
            with viewer.cond:
                while viewer.closed is None and not self._ready(viewer):
                    viewer.cond.wait(0.1)
                    waiting = viewer.awaiting_since
                    if waiting is not None and time.perf_counter() - waiting > self.limits.ack_timeout:
                        viewer.closed = f"acknowledged no picture for {self.limits.ack_timeout:g} s"
                if viewer.closed is not None:
                    return
                seq, stamp, message = viewer.item
                viewer.item = None
                viewer.unacked[seq] = stamp
                if viewer.awaiting_since is None:
                    viewer.awaiting_since = time.perf_counter()
            viewer.connection.send(message)  # SO_SNDTIMEO: a viewer that stopped reading raises here
            viewer.sent += 1

    @staticmethod
    def _ready(viewer: _Viewer) -> bool:
        if viewer.item is None:
            return False
        if len(viewer.unacked) < IN_FLIGHT:
            return True
        if time.perf_counter() - viewer.last_ack > ACK_GRACE:  # a page that stopped acknowledging
            viewer.unacked.clear()
            viewer.last_ack = time.perf_counter()
            return True
        return False

    def _read_acks(self, viewer: _Viewer) -> None:
        try:
            for message in viewer.connection:
                if not isinstance(message, str) or not message.startswith("drawn "):
                    continue
                try:
                    seq = int(message[6:])
                except ValueError:
                    continue
                now = time.perf_counter()
                stamp = viewer.acknowledge(seq, now)
                if stamp is not None:
                    viewer.drawn += 1
                    self.latency_ms.append((now - stamp) * 1000.0)
            viewer.close("closed by the viewer")
        except ConnectionClosed as err:
            viewer.close(f"connection lost ({err})")
        viewer.close("livematte stopped")
