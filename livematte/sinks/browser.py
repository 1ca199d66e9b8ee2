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
  its ``dropped``) and neither the live loop nor the other viewers wait. A viewer that makes no
  progress for :data:`SEND_TIMEOUT` seconds is disconnected.
* Latency: from ``write`` to the page's acknowledgement that it drew the picture
  (``latency_ms``, the last 300 values).
* Safety: binds to loopback unless ``allow_remote``; requests whose ``Host`` or ``Origin`` are not
  this server are refused (another web page in a browser cannot watch the camera).

Binary message per picture (big-endian)::

    b"LMF1" | seq u32 | jpeg_len u32 | png_len u32 (0: opaque) | width u16 | height u16 | jpeg | png
"""
from __future__ import annotations

import collections
import errno
import http.server
import ipaddress
import struct
import threading
import time
import zlib
from importlib import resources
from typing import Callable, Deque, Dict, List, Optional, Tuple
from urllib.parse import urlsplit

import cv2
import numpy as np

from ..types import Frame, LivematteError, StreamInfo
from . import websocket as ws
from .base import LiveSink

HEADER = struct.Struct(">4sIIIHH")
MAGIC = b"LMF1"
IN_FLIGHT = 2  # pictures sent and not yet drawn, per viewer
ACK_GRACE = 1.0  # s: send anyway when a viewer has acknowledged nothing for this long
SEND_TIMEOUT = 5.0  # s: a viewer whose socket takes no data for this long is disconnected


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


def parse_http_target(spec: str, *, allow_remote: bool = False) -> Tuple[str, int]:
    """``http://HOST:PORT`` -> ``(bind address, port)``; HOST empty or ``localhost`` means 127.0.0.1.

    Raises:
        LivematteError: not host:port, or a non-loopback address without ``allow_remote``.
    """
    parts = urlsplit(spec)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme != "http" or port is None or parts.path not in ("", "/") or parts.query:
        raise LivematteError(f"--to {spec}: expected http://127.0.0.1:PORT (for example http://127.0.0.1:8765)")
    host = parts.hostname or "127.0.0.1"
    if host == "localhost":
        host = "127.0.0.1"
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        raise LivematteError(f"--to {spec}: give an IP address to listen on, not {host!r}") from None
    if not loopback and not allow_remote:
        raise LivematteError(f"--to {spec}: {host} is reachable from other machines, which could then watch the "
                             "camera; add --allow-remote to serve there, or use http://127.0.0.1:PORT")
    return host, port


class _Viewer:
    """One connected page: a mailbox of the latest message and the counts of what it got."""

    def __init__(self, sock, name: str):
        self.sock, self.name = sock, name
        self.cond = threading.Condition()
        self.item: Optional[Tuple[int, float, bytes]] = None  # (seq, write time, message)
        self.unacked: Dict[int, float] = {}
        self.last_ack = time.perf_counter()
        self.sent = self.drawn = self.dropped = 0
        self.closed: Optional[str] = None
        self.send_lock = threading.Lock()

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

    def send(self, opcode: int, payload: bytes) -> None:
        with self.send_lock:
            self.sock.sendall(ws.encode_frame(opcode, payload))


class BrowserSink(LiveSink):
    """Serve the overlay page and push pictures to every page that is open.

    Args:
        spec: ``http://HOST:PORT``; port 0 picks a free one (see ``url`` after ``open``).
        allow_remote: allow a non-loopback HOST.
        quality: JPEG quality of the colour.
        on_event: called with one-line messages (listening, viewers coming and going); never required.

    Attributes:
        url: the page's address (after ``open``).
        latency_ms: write-to-drawn times in ms of recent pictures, over all viewers.
        dropped: pictures a viewer did not get because it was still busy (all viewers together).
    """

    def __init__(self, spec: str, *, allow_remote: bool = False, quality: int = 85,
                 on_event: Optional[Callable[[str], None]] = None):
        self.spec = spec
        self.host, self.port = parse_http_target(spec, allow_remote=allow_remote)
        self.allow_remote, self.quality = allow_remote, quality
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
        self._server: Optional[_Server] = None
        self._threads: List[threading.Thread] = []

    # -- sink contract ------------------------------------------------------------------
    def open(self, info: StreamInfo, alpha: bool = False) -> None:
        """Start listening (raises LivematteError when the port is taken) and the encoder thread."""
        self.info = info
        sink = self

        class Handler(_Handler):
            owner = sink

        try:
            self._server = _Server((self.host, self.port), Handler)
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                raise LivematteError(f"--to {self.spec}: port {self.port} is already in use (another livematte or "
                                     "program?); pick another port") from None
            raise LivematteError(f"--to {self.spec}: cannot listen ({err.strerror or err})") from None
        host, port = self._server.server_address[:2]
        self.port = port
        self.url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/"
        for target, name in ((self._server.serve_forever, "livematte-http"), (self._encode_loop, "livematte-encode")):
            t = threading.Thread(target=target, daemon=True, name=name)
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
            try:
                viewer.send(ws.CLOSE, struct.pack(">H", 1001))
            except OSError:
                pass
            viewer.close("livematte stopped")
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
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

    def _serve_viewer(self, viewer: _Viewer) -> None:
        """Runs on the request's thread: a reader thread takes acks, this thread sends."""
        with self._lock:
            self.viewers.append(viewer)
        self._event(f"viewer {viewer.name} connected")
        reader = threading.Thread(target=self._read_acks, args=(viewer,), daemon=True, name="livematte-ws-read")
        reader.start()
        try:
            self._send_loop(viewer)
        except (OSError, ws.ConnectionClosed) as err:
            viewer.close("too slow (took no data for %.0f s)" % SEND_TIMEOUT if isinstance(err, TimeoutError)
                         else f"connection lost ({err})")
        finally:
            with self._lock:
                self.viewers.remove(viewer)
                self._gone_dropped += viewer.dropped
            try:
                viewer.sock.shutdown(2)
            except OSError:
                pass
            reader.join(timeout=2)
            self._event(f"viewer {viewer.name} disconnected: {viewer.closed}; it drew {viewer.drawn} pictures, "
                        f"{viewer.dropped} left out for it")

    def _send_loop(self, viewer: _Viewer) -> None:
        while True:
            with viewer.cond:
                while viewer.closed is None and not self._ready(viewer):
                    viewer.cond.wait(0.1)
                if viewer.closed is not None:
                    return
                seq, stamp, message = viewer.item
                viewer.item = None
                viewer.unacked[seq] = stamp
            viewer.send(ws.BINARY, message)  # socket timeout SEND_TIMEOUT: a stuck viewer raises here
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
        alive = lambda: viewer.closed is None and not self._stop.is_set()  # noqa: E731
        try:
            while alive():
                op, payload = ws.read_message(viewer.sock, lambda p: viewer.send(ws.PONG, p), alive)
                if op != ws.TEXT or not payload.startswith(b"drawn "):
                    continue
                now = time.perf_counter()
                with viewer.cond:
                    stamp = viewer.unacked.pop(int(payload[6:]), None)
                    for old in [s for s in viewer.unacked if s < int(payload[6:])]:
                        del viewer.unacked[old]  # skipped by the page: no longer in flight
                    viewer.last_ack = now
                    viewer.cond.notify_all()
                if stamp is not None:
                    viewer.drawn += 1
                    self.latency_ms.append((now - stamp) * 1000.0)
        except (ws.ConnectionClosed, OSError, ValueError) as err:
            viewer.close("closed by the viewer" if "closed" in str(err) else f"connection lost ({err})")
        viewer.close("livematte stopped")


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # a client that hung up: not worth a traceback
        pass


class _Handler(http.server.BaseHTTPRequestHandler):
    """``/``: the page; ``/ws``: the picture stream. Refuses foreign Host/Origin headers."""

    owner: BrowserSink
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args) -> None:  # library code does not print
        pass

    def _trusted(self) -> bool:
        if self.owner.allow_remote:
            return True
        host = (self.headers.get("Host") or "").lower()
        port = self.owner.port
        names = {f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", f"{self.owner.host}:{port}"}
        origin = self.headers.get("Origin")
        return host in names and (origin is None or origin.lower() in {f"http://{n}" for n in names})

    def _reply(self, code: int, body: bytes, ctype: str = "text/plain; charset=utf-8") -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if not self._trusted():
            self.owner._event(f"refused a request from {self.client_address[0]} (Host {self.headers.get('Host')!r}, "
                              f"Origin {self.headers.get('Origin')!r})")
            self._reply(403, b"forbidden: this page only serves its own address\n")
            return
        path = self.path.split("?", 1)[0]
        if path == "/":
            self._reply(200, page_html(), "text/html; charset=utf-8")
        elif path == "/ws" and self.headers.get("Upgrade", "").lower() == "websocket":
            self._upgrade()
        else:
            self._reply(404, b"not found\n")

    def _upgrade(self) -> None:
        key = self.headers.get("Sec-WebSocket-Key")
        if not key or self.headers.get("Sec-WebSocket-Version") != "13":
            self._reply(400, b"bad websocket request\n")
            return
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", ws.accept_key(key))
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        self.connection.settimeout(SEND_TIMEOUT)
        self.owner._serve_viewer(_Viewer(self.connection, "%s:%d" % self.client_address[:2]))


def page_html() -> bytes:
    """The overlay page (``overlay_page.html``, shipped as package data)."""
    return resources.files("livematte.sinks").joinpath("overlay_page.html").read_bytes()
