"""Who may use the overlay server (``--to http://HOST:PORT``): the address it binds, the Origin and
Host a request must carry, and the optional access token.

Rules (:meth:`AccessPolicy.refusal`):

* ``Origin`` (sent by browsers, so another web page cannot watch the camera): absent, the page's
  own origin (``http://`` + the request's Host), or one listed with ``--allow-origin``.
* ``Host`` on a loopback server: one of its own loopback names (defeats DNS rebinding). A server
  listening for other machines (``--allow-remote``) takes any Host but needs the token.
* token: when set, ``?token=`` must match on the page and on ``/ws`` (constant-time compare).
"""
from __future__ import annotations

import hmac
import ipaddress
import re
from typing import Iterable, Optional, Tuple
from urllib.parse import parse_qs, urlsplit

from ..types import LivematteError

TOKEN_CHARS = re.compile(r"[A-Za-z0-9._~-]{12,256}")  # URL-safe, unescaped in ?token=
ORIGIN = re.compile(r"https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?|https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")
TOKEN_HINT = 'python -c "import secrets; print(secrets.token_urlsafe())"'


def parse_http_target(spec: str, *, allow_remote: bool = False, token: Optional[str] = None) -> Tuple[str, int]:
    """``http://HOST:PORT`` -> ``(bind address, port)``; HOST empty or ``localhost`` means 127.0.0.1.

    Raises:
        LivematteError: not host:port; a non-loopback address without ``allow_remote``; ``allow_remote``
        without ``token``.
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
                             "camera; add --allow-remote --token TOKEN to serve there, or use http://127.0.0.1:PORT")
    if allow_remote and token is None:
        raise LivematteError(f"--allow-remote needs --token TOKEN (anyone who can reach {spec} could watch the "
                             f"camera otherwise); make one with: {TOKEN_HINT}")
    return host, port


def check_token(token: Optional[str]) -> Optional[str]:
    """``token`` itself; LivematteError unless 12-256 URL-safe characters (or None)."""
    if token is not None and not TOKEN_CHARS.fullmatch(token):
        raise LivematteError(f"--token: use 12 to 256 characters of A-Z a-z 0-9 . _ ~ - (for example from: {TOKEN_HINT})")
    return token


def check_origins(origins: Iterable[str]) -> Tuple[str, ...]:
    """The ``--allow-origin`` values lower-cased without a trailing slash; LivematteError if one is not
    ``http(s)://HOST[:PORT]``."""
    out = []
    for origin in origins:
        cleaned = origin.strip().rstrip("/").lower()
        if not ORIGIN.fullmatch(cleaned):
            raise LivematteError(f"--allow-origin {origin}: expected scheme://host[:port], "
                                 "for example http://127.0.0.1:8000")
        out.append(cleaned)
    return tuple(out)


class AccessPolicy:
    """Decides whether one request (page or ``/ws``) is served.

    Args:
        host: the bound address; port: the bound port (known after binding).
        remote: listening for other machines (any Host accepted; the token is then required).
        origins: extra allowed origins (see :func:`check_origins`).
        token: the access token or None.
    """

    def __init__(self, host: str, port: int, *, remote: bool = False, origins: Iterable[str] = (),
                 token: Optional[str] = None):
        self.remote, self.token = remote, token
        self.origins = frozenset(check_origins(origins))
        bracket = f"[{host}]" if ":" in host else host
        self.hosts = frozenset({f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", f"{bracket}:{port}"})

    def refusal(self, path_and_query: str, host: Optional[str], origin: Optional[str]) -> Optional[str]:
        """None when the request may be served, else why not (for the log line)."""
        host = (host or "").lower()
        if not self.remote and host not in self.hosts:
            return f"Host {host!r} is not this server"
        if origin is not None and origin.lower().rstrip("/") not in self.origins | {f"http://{host}"}:
            return f"Origin {origin!r} is not allowed (--allow-origin adds one)"
        if self.token is not None:
            given = parse_qs(urlsplit(path_and_query).query).get("token", [""])[0]
            if not hmac.compare_digest(given.encode("utf-8", "replace"), self.token.encode("ascii")):
                return "wrong or missing ?token="
        return None
