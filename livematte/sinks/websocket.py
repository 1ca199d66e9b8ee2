"""A small RFC 6455 WebSocket layer on the standard library (server side for the browser overlay,
client side for tests and for driving Chromium's DevTools protocol).

Only what livematte needs: the opening handshake, unfragmented sends, fragmented receives,
ping/pong and close. Payloads are ``bytes`` (binary) or ``str`` (text).
"""
from __future__ import annotations

import base64
import hashlib
import os
import socket
import struct
from typing import Optional, Tuple
from urllib.parse import urlsplit

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, BINARY, CLOSE, PING, PONG, CONTINUATION = 0x1, 0x2, 0x8, 0x9, 0xA, 0x0
MAX_MESSAGE = 64 << 20  # refuse anything larger (a DevTools screenshot of a 4K page fits)


class ConnectionClosed(Exception):
    """The peer closed the connection (or it broke)."""


def accept_key(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` value for a client's ``Sec-WebSocket-Key``.

    >>> accept_key("dGhlIHNhbXBsZSBub25jZQ==")
    's3pPLMBiTxaQ9kYGzzhZRbK+xOo='
    """
    return base64.b64encode(hashlib.sha1((key + GUID).encode("ascii")).digest()).decode("ascii")


def encode_frame(opcode: int, payload: bytes, *, mask: bool = False) -> bytes:
    """One final frame. Clients must ``mask``; servers must not."""
    n = len(payload)
    head = bytes([0x80 | opcode])
    bit = 0x80 if mask else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 1 << 16:
        head += bytes([bit | 126]) + struct.pack(">H", n)
    else:
        head += bytes([bit | 127]) + struct.pack(">Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + _xor(payload, key)


def _xor(data: bytes, key: bytes) -> bytes:
    if not data:
        return b""
    k = int.from_bytes((key * (len(data) // 4 + 1))[: len(data)], "little")
    return (int.from_bytes(data, "little") ^ k).to_bytes(len(data), "little")


def _recv_exact(sock: socket.socket, n: int, alive=lambda: True) -> bytes:
    """Read exactly ``n`` bytes; a socket timeout just waits again while ``alive()``."""
    chunks, got = [], 0
    while got < n:
        try:
            chunk = sock.recv(min(n - got, 1 << 20))
        except socket.timeout:
            if not alive():
                raise ConnectionClosed("stopped") from None
            continue
        except OSError as err:
            raise ConnectionClosed(str(err)) from None
        if not chunk:
            raise ConnectionClosed("the peer closed the connection")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def read_frame(sock: socket.socket, alive=lambda: True) -> Tuple[bool, int, bytes]:
    """``(fin, opcode, payload)`` of the next frame, unmasked."""
    b0, b1 = _recv_exact(sock, 2, alive)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack(">H", _recv_exact(sock, 2, alive))[0]
    elif n == 127:
        n = struct.unpack(">Q", _recv_exact(sock, 8, alive))[0]
    if n > MAX_MESSAGE:
        raise ConnectionClosed(f"frame of {n} bytes is too large")
    key = _recv_exact(sock, 4, alive) if b1 & 0x80 else None
    payload = _recv_exact(sock, n, alive)
    return bool(b0 & 0x80), b0 & 0x0F, (_xor(payload, key) if key else payload)


def read_message(sock: socket.socket, send_pong, alive=lambda: True) -> Tuple[int, bytes]:
    """The next whole data message ``(TEXT|BINARY, payload)``; answers pings with ``send_pong``.

    Raises:
        ConnectionClosed: on a close frame, EOF or a socket error.
    """
    opcode, parts = None, []
    while True:
        fin, op, payload = read_frame(sock, alive)
        if op == CLOSE:
            raise ConnectionClosed("closed by the peer")
        if op == PING:
            send_pong(payload)
            continue
        if op == PONG:
            continue
        if op != CONTINUATION:
            opcode, parts = op, []
        parts.append(payload)
        if sum(map(len, parts)) > MAX_MESSAGE:
            raise ConnectionClosed("message too large")
        if fin and opcode is not None:
            return opcode, b"".join(parts)


class WebSocketClient:
    """A blocking client: ``WebSocketClient("ws://127.0.0.1:9222/devtools/page/ID")``.

    Args:
        url: ``ws://host:port/path``.
        origin: the ``Origin`` header to send, or None for none.
        timeout: seconds for connecting and for each ``recv``.
    """

    def __init__(self, url: str, *, origin: Optional[str] = None, timeout: float = 10.0):
        parts = urlsplit(url)
        if parts.scheme != "ws":
            raise ValueError(f"url: got {url!r}, expected ws://host:port/path")
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        self.sock = socket.create_connection((host, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode("ascii")
        lines = [f"GET {parts.path or '/'}{'?' + parts.query if parts.query else ''} HTTP/1.1",
                 f"Host: {host}:{port}", "Upgrade: websocket", "Connection: Upgrade",
                 f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        if origin is not None:
            lines.append(f"Origin: {origin}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("ascii"))
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionClosed(f"{url}: closed during the handshake")
            head += chunk
        head, _, rest = head.partition(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0].decode("latin-1")
        self.status = int(status.split()[1])
        if self.status != 101:
            self.sock.close()
            raise ConnectionClosed(f"{url}: handshake refused ({status})")
        if accept_key(key).encode() not in head:
            self.sock.close()
            raise ConnectionClosed(f"{url}: wrong Sec-WebSocket-Accept")
        if rest:
            raise ConnectionClosed(f"{url}: data before the first frame")

    def send(self, data) -> None:
        op, payload = (TEXT, data.encode("utf-8")) if isinstance(data, str) else (BINARY, bytes(data))
        self.sock.sendall(encode_frame(op, payload, mask=True))

    def recv(self):
        """The next message: ``str`` for text, ``bytes`` for binary."""
        op, payload = read_message(self.sock, lambda p: self.sock.sendall(encode_frame(PONG, p, mask=True)))
        return payload.decode("utf-8") if op == TEXT else payload

    def close(self) -> None:
        try:
            self.sock.sendall(encode_frame(CLOSE, struct.pack(">H", 1000), mask=True))
        except OSError:
            pass
        self.sock.close()

    def __enter__(self) -> "WebSocketClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
