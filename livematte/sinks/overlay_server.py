"""The HTTP + WebSocket server behind ``--to http://HOST:PORT``, on the ``websockets`` library
(its sync server: one thread per connection; HTTP parsing, RFC 6455 framing, masking, UTF-8 and
close handling, header limits and keepalive pings all come from it).

What this module adds: ``GET /`` serves the overlay page (with ``X-Frame-Options``, a CSP made
of the page's own script/style hashes, no referrer: the token is in the URL), ``GET /ws``
upgrades to the picture stream, every request passes :class:`~.access.AccessPolicy`, and
:class:`Limits` caps connections, viewers, message sizes and times.
"""
from __future__ import annotations

import base64
import dataclasses
import errno
import hashlib
import re
import socket
import struct
import threading
import time
from importlib import resources
from typing import Callable, List, Optional
from urllib.parse import urlsplit

from websockets.datastructures import Headers
from websockets.http11 import Request, Response
from websockets.sync.server import ServerConnection, serve

from ..types import LivematteError
from .access import AccessPolicy


@dataclasses.dataclass(frozen=True)
class Limits:
    """Caps of the overlay server (seconds, bytes, counts)."""

    connections: int = 32  # TCP connections at once (pages, handshakes, viewers); more are closed at accept
    viewers: int = 8  # open /ws streams; more get HTTP 503
    open_timeout: float = 5.0  # a connection must finish its request / handshake within this
    send_timeout: float = 5.0  # a viewer whose socket takes no data for this long is dropped
    ack_timeout: float = 10.0  # a viewer that acknowledges no picture for this long is dropped
    ping: float = 10.0  # keepalive ping interval and its pong timeout
    message: int = 4096  # largest message a viewer may send (acks are a few bytes)


def page_html() -> bytes:
    """The overlay page (``overlay_page.html``, shipped as package data)."""
    return resources.files("livematte.sinks").joinpath("overlay_page.html").read_bytes()


_HOST = re.compile(r"[A-Za-z0-9.\-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")


def page_csp(html: bytes, host: str = "") -> str:
    """A Content-Security-Policy allowing exactly the page's inline ``<script>``/``<style>`` blocks,
    a WebSocket to its own origin (``'self'``, and ``ws://host`` spelled out for browsers whose
    ``'self'`` does not cover ws:), and nothing else (no framing, no forms, no other loads)."""
    def hashes(tag: str) -> str:
        blocks = re.findall(rb"<%s>(.*?)</%s>" % (tag.encode(), tag.encode()), html, re.S)
        return " ".join("'sha256-%s'" % base64.b64encode(hashlib.sha256(b).digest()).decode() for b in blocks)

    return (f"default-src 'none'; script-src {hashes('script')}; style-src {hashes('style')}; "
            f"connect-src 'self'{' ws://' + host if _HOST.fullmatch(host) else ''}; img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def _headers(ctype: str, body: bytes, **extra: str) -> Headers:
    headers = Headers([("Content-Type", ctype), ("Content-Length", str(len(body))), ("Cache-Control", "no-store"),
                       ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer")])
    for name, value in extra.items():
        headers[name.replace("_", "-")] = value
    return headers


class _CountedListener(socket.socket):
    """A listening socket whose ``accept`` closes connections beyond ``cap`` open ones at once."""

    def setup(self, cap: int) -> "_CountedListener":
        self.cap, self.open_count, self.count_lock = cap, 0, threading.Lock()
        self.settimeout(0.25)  # a waiting accept notices the close of the listener
        return self

    def accept(self):
        while True:
            try:
                fd, addr = self._accept()  # raises OSError once the listener is closed
            except TimeoutError:
                continue
            with self.count_lock:
                full = self.open_count >= self.cap
                if not full:
                    self.open_count += 1
            conn = _Counted(self.family, self.type, self.proto, fileno=fd)
            if not full:
                conn.listener = self
                return conn, addr
            conn.close()

    def release(self) -> None:
        with self.count_lock:
            self.open_count -= 1


class _Counted(socket.socket):
    """An accepted connection that gives its slot back on its first ``close``."""

    listener: Optional[_CountedListener] = None

    def close(self) -> None:
        listener, self.listener = self.listener, None
        super().close()
        if listener is not None:
            listener.release()


def _listen(host: str, port: int, spec: str, cap: int) -> _CountedListener:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = _CountedListener(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(64)
    except OSError as err:
        sock.close()
        if err.errno == errno.EADDRINUSE:
            raise LivematteError(f"--to {spec}: port {port} is already in use (another livematte or "
                                 "program?); pick another port") from None
        raise LivematteError(f"--to {spec}: cannot listen ({err.strerror or err})") from None
    return sock.setup(cap)


def set_send_timeout(sock: socket.socket, seconds: float) -> None:
    """A blocked send on ``sock`` fails after ``seconds`` (SO_SNDTIMEO), so a viewer that stopped
    reading cannot hold its sender thread forever. No-op where the option is unavailable."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", int(seconds), int(seconds % 1 * 1e6)))
    except (OSError, AttributeError, struct.error):
        pass


class OverlayServer:
    """Listens on ``host:port`` and serves the page and ``/ws`` until :meth:`close`.

    Args:
        spec: the ``--to`` value (for messages). policy_for: builds the policy once the port is known.
        limits: the caps (the viewers are counted here: from the handshake's admission until
            ``on_viewer`` returns).
        on_viewer: runs on the connection's thread for each accepted ``/ws`` (returns when it ends).
        on_event: one-line messages (refusals).
    """

    def __init__(self, host: str, port: int, spec: str, *, policy_for: Callable[[int], AccessPolicy],
                 limits: Limits,
                 on_viewer: Callable[[ServerConnection], None], on_event: Callable[[str], None]):
        self.limits, self.on_event = limits, on_event
        self._on_viewer = on_viewer
        #: ``/ws`` requests let through whose handler has not started yet (monotonic times): each holds a
        #: viewer's place until it starts, or until the handshake's own time is up (a client that left)
        self._admitted: List[float] = []
        self._streaming = 0  # viewers whose handler is running
        self._admit_lock = threading.Lock()
        sock = _listen(host, port, spec, limits.connections)
        self.host, self.port = sock.getsockname()[:2]
        self.policy = policy_for(self.port)
        self.html = page_html()
        self.server = serve(self._viewer, sock=sock, process_request=self._process_request, server_header=None,
                            compression=None, open_timeout=limits.open_timeout, ping_interval=limits.ping,
                            ping_timeout=limits.ping, close_timeout=1.0, max_size=limits.message, max_queue=4)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True, name="livematte-http")
        self.thread.start()

    def _process_request(self, connection: ServerConnection, request: Request) -> Optional[Response]:
        """The page, a refusal, or None to go on with the WebSocket handshake of ``/ws``."""
        origins = request.headers.get_all("Origin")
        hosts = request.headers.get_all("Host")
        refusal = ("repeated Host or Origin header" if len(origins) > 1 or len(hosts) != 1 else
                   self.policy.refusal(request.path, hosts[0], origins[0] if origins else None))
        if refusal:
            self.on_event(f"refused a request from {connection.remote_address[0]}: {refusal}")
            return self._text(403, "forbidden: " + refusal)
        route = urlsplit(request.path).path
        if route == "/":
            return Response(200, "OK", _headers("text/html; charset=utf-8", self.html, X_Frame_Options="DENY",
                                                Content_Security_Policy=page_csp(self.html, hosts[0])), self.html)
        if route != "/ws":
            return self._text(404, "not found")
        with self._admit_lock:  # the check and the reservation together: two handshakes at once cannot both pass
            now = time.monotonic()
            self._admitted = [t for t in self._admitted if now - t < self.limits.open_timeout]
            full = self._streaming + len(self._admitted) >= self.limits.viewers
            if not full:
                self._admitted.append(now)
        if full:
            self.on_event(f"refused a viewer from {connection.remote_address[0]}: already "
                          f"{self.limits.viewers} viewers")
            return self._text(503, f"too many viewers (at most {self.limits.viewers})")
        return None

    def _viewer(self, connection: ServerConnection) -> None:
        """A ``/ws`` whose handshake is done: its reserved place becomes a streaming viewer's (in one
        step: no moment where neither counts), until ``on_viewer`` returns."""
        with self._admit_lock:
            if self._admitted:
                self._admitted.pop(0)
            self._streaming += 1
        try:
            self._on_viewer(connection)
        finally:
            with self._admit_lock:
                self._streaming -= 1

    @staticmethod
    def _text(status: int, text: str) -> Response:
        body = (text + "\n").encode("utf-8")
        reason = {403: "Forbidden", 404: "Not Found", 503: "Service Unavailable"}[status]
        return Response(status, reason, _headers("text/plain; charset=utf-8", body, X_Frame_Options="DENY"), body)

    def close(self) -> None:
        """Stop accepting, close every connection (1001 going away), wait for their threads."""
        self.server.shutdown()
        self.thread.join(timeout=5)
