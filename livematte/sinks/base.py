"""What a sink is: the base classes every output in :mod:`livematte.sinks` inherits.

Two levels, so each runner calls what it needs directly and never probes a sink:

* :class:`Sink`: what the file runner (:func:`livematte.pipeline.run`) and every other user call:
  ``open``, ``write``, ``close``, ``abort``, ``describe``; also a context manager.
* :class:`LiveSink`: adds what the live runner (:func:`livematte.live.run_live`) reads after
  every frame and at the end: ``keepalive``, ``problem``, ``error``, ``take_keys``, ``dropped``.
  A file sink goes live inside a :class:`~livematte.sinks.recorder.Recorder` (a LiveSink).

Life cycle: ``open`` once, ``write`` any number of times (from one thread at a time), then exactly
one of ``close`` (publish the output) or ``abort`` (throw a partial output away); either may be
called again afterwards and does nothing. A subclass overrides only what it does; every default
is stated on the member.
"""
from __future__ import annotations

import abc
from typing import Iterable, List, Optional, Sequence

import numpy as np

from ..types import Frame, StreamInfo


class Sink(abc.ABC):
    """Consumes output pictures: RGB ``(H, W, 3)`` or RGBA ``(H, W, 4)`` uint8 (a matte sink: grey ``(H, W)``).

    As a context manager, a normal exit or ``KeyboardInterrupt`` closes (what was written is kept
    and plays), any other exception aborts (nothing partial is left under the requested name).
    """

    notes: Sequence[str] = ()
    """Lines worth telling the user about the output once it is finished (the input's tracks a
    container cannot hold); the runner adds them to the run's warnings. Default: none."""

    def open(self, info: StreamInfo, alpha: bool = False) -> None:
        """Prepare for pictures of ``info``'s size and rate; ``alpha``: they carry transparency.

        Raises LivematteError (one line) when the output cannot be made. Default: nothing to prepare.
        """

    @abc.abstractmethod
    def write(self, picture: np.ndarray, frame: Optional[Frame]) -> None:
        """Take one picture of ``frame`` (its index, name and timestamps); ``frame`` is None only for
        the live runner's repeats of the last picture to a :attr:`LiveSink.keepalive` sink."""

    def close(self) -> None:
        """Finish the output (flush encoders, publish the file). Safe to call twice. Default: nothing."""

    def abort(self) -> None:
        """Stop without publishing: no partial output is left under the requested name (a sink that
        writes finished files one by one may keep those). Safe to call twice, also after ``close``.
        Default: :meth:`close` (right for sinks that leave nothing behind)."""
        self.close()

    def salvage(self) -> int:
        """After a failed write or finish: keep what was written if it plays, instead of :meth:`abort`;
        returns the frames kept (0: nothing is left under the requested name). Default: :meth:`abort`, 0."""
        self.abort()
        return 0

    def describe(self) -> str:
        """One line naming the output (a file, a URL, a device) for messages and statistics.
        Default: the class name."""
        return type(self).__name__

    def __enter__(self) -> "Sink":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None or issubclass(exc_type, KeyboardInterrupt):
            self.close()
        else:
            self.abort()


class LiveSink(Sink):
    """A sink the live runner drives; after each frame it reads ``error`` and ``take_keys()``.

    Class attributes give the defaults; a subclass sets an instance attribute or a property.
    """

    keepalive: bool = False
    """True: while the camera is lost the runner keeps writing the last good picture (``frame``
    None) at the camera's rate, so the consumer (a video call) does not freeze or drop the device."""

    problem: Optional[str] = None
    """None when the sink works; else why it opened but shows nothing (a preview without a display).
    The run goes on without it, and the runner adds :meth:`describe` to its warnings, so a sink
    with a problem describes itself as skipped and says why."""

    error: Optional[BaseException] = None
    """The first failure of work done off the caller's thread (a recording's encoder), else None;
    the runner raises it after the frame in which it appears. Kept after ``close``."""

    failure: Optional[str] = None
    """One line when this output failed alone while the run went on (a recording on a full disk: what
    was kept); the runner adds it to the run's warnings and stops when every output has failed."""

    dropped: int = 0
    """Pictures this sink left out because its consumer could not keep up (the live output itself
    never waits); reported per output in the run's statistics."""

    def take_keys(self) -> List[str]:
        """Keys pressed in this sink's window since the last call, lower-case, oldest first; the
        runner applies them (``q`` stops). Default: none, ``[]``."""
        return []


def check_live_sinks(sinks: Iterable[object]) -> None:
    """Raise TypeError naming the first of ``sinks`` that is not a :class:`LiveSink`."""
    for sink in sinks:
        if not isinstance(sink, LiveSink):
            raise TypeError(f"{type(sink).__name__} is not a livematte.sinks.base.LiveSink "
                            "(a file sink goes live inside livematte.sinks.recorder.Recorder)")


def close_quietly(container) -> None:
    """Close a PyAV container whose output is being dropped (an abort): FFmpeg and OS errors on the
    way out change nothing and are not raised. ``None`` is accepted."""
    if container is None:
        return
    import av

    try:
        container.close()
    except (av.FFmpegError, OSError):
        pass
