"""Stop signals: SIGINT, SIGTERM, SIGHUP and SIGQUIT all mean "stop cleanly and keep what was made".

The CLI calls :func:`install` first thing. From then on:

* the first stop signal is recorded (:func:`received`) and raises ``KeyboardInterrupt`` in the
  main thread, which every command already handles as "finish what was written";
* a later signal (a fast double Ctrl-C, a ``kill`` after Ctrl-C) is only recorded: the finish
  in progress is never cut short, so the output is renamed into place and plays;
* inside :func:`shield` (outputs being finished) even the first one is only recorded;
* :func:`exit_code` is ``128 + signal`` (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP, 131 SIGQUIT).

Live runs install their own handlers with :class:`StopEvent`: a signal sets an event that the
loop polls, so nothing is raised at all.
"""
from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from typing import Dict, Iterator, Optional

STOP_SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT") if hasattr(signal, n))

_state = {"received": None, "shielded": 0, "said": False, "early": False}


def received() -> Optional[int]:
    """The first stop signal received since :func:`install` or :func:`reset` (None: none)."""
    return _state["received"]


def exit_code(default: int = 130) -> int:
    """``128 + signal`` for the first signal received, else ``default``."""
    sig = _state["received"]
    return 128 + int(sig) if sig is not None else default


def reset() -> None:
    """Forget any signal received (tests, or a second command in one process)."""
    _state.update(received=None, shielded=0, said=False, early=False)


def _note(signum: int) -> bool:
    """Record ``signum``; True when it is the first one."""
    if _state["received"] is None:
        _state["received"] = signum
        return True
    if not _state["said"]:
        _state["said"] = True
        try:
            os.write(2, b"livematte: finishing the output first, please wait\n")
        except OSError:
            pass
    return False


def _handler(signum, frame) -> None:
    first = _note(signum)
    if _state["early"]:
        interrupted_early()
    if first and not _state["shielded"]:
        raise KeyboardInterrupt


def install(early: bool = False) -> None:
    """Route every stop signal to the clean-stop handler (main thread only; else a no-op).

    ``early``: still importing, no output exists: a signal exits at once with :func:`exit_code`
    (no ``KeyboardInterrupt`` traceback from inside an import). ``install()`` ends that phase.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    _state["early"] = early
    for sig in STOP_SIGNALS:
        signal.signal(sig, _handler)


@contextlib.contextmanager
def handling() -> Iterator[None]:
    """:func:`reset` and :func:`install` for one command; the previous handlers come back after it,
    unless a stop signal came: then later ones are ignored (the process is ending, and the
    interpreter's shutdown would otherwise let a second Ctrl-C kill it with the default action)."""
    main = threading.current_thread() is threading.main_thread()
    old = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS} if main else {}
    reset()
    install()
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, signal.SIG_IGN if received() is not None else handler)


@contextlib.contextmanager
def shield() -> Iterator[None]:
    """Within the block, stop signals are recorded but raise nothing (outputs being finished)."""
    _state["shielded"] += 1
    try:
        yield
    finally:
        _state["shielded"] -= 1


class StopEvent:
    """While entered (main thread), every stop signal sets ``event`` instead of raising.

    The first signal is recorded as :func:`received` reports it; later ones only say that the
    finish is under way. The previous handlers are restored on exit.
    """

    def __init__(self, event: threading.Event, enabled: bool = True):
        self.event = event
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self._old: Dict[int, object] = {}

    def _handler(self, signum, frame) -> None:
        _note(signum)
        self.event.set()

    def __enter__(self) -> "StopEvent":
        if self.enabled:
            for sig in STOP_SIGNALS:
                self._old[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()


def interrupted_early() -> None:
    """Leave at once with ``exit_code()`` (a signal before any output exists: nothing to keep)."""
    sys.stderr.write("livematte: interrupted\n")
    sys.stderr.flush()
    os._exit(exit_code())
