"""What a file source is: the base class of the sources :func:`livematte.io.open_source` returns.

A file source is a context manager that yields :class:`~livematte.types.Frame` s; the file
runner (:func:`livematte.api.process_file`) reads ``info`` before the run and ``warning`` after
it, directly. (The live sources in :mod:`livematte.sources.camera` have their own contract,
``open`` / ``read`` / ``close``, stated there.)
"""
from __future__ import annotations

import abc
from typing import Iterator, Optional

from ..types import Frame, StreamInfo


class Source(abc.ABC):
    """Frames from a file (or files); use inside ``with``, iterate once.

    ``__enter__`` opens the input and sets ``info`` (raising LivematteError, one line naming the
    input, when it cannot be read); ``__exit__`` releases it.
    """

    info: Optional[StreamInfo] = None
    """What the source knows about its stream; valid after ``__enter__`` only."""

    warning: Optional[str] = None
    """None, or one line saying why the frames stopped early (a damaged or cut-short file);
    the runner adds it to the run's warnings. Final once iteration has ended. Default None."""

    stills: bool = False
    """True when the frames are independent pictures, not one sequence (anything with memory
    across frames should be reset between them). Default False."""

    def __enter__(self) -> "Source":
        return self

    def __exit__(self, *exc) -> None:
        """Release the input. Default: nothing to release."""

    @abc.abstractmethod
    def __iter__(self) -> Iterator[Frame]:
        """The frames, in order (RGB uint8 ``(H, W, 3)`` each)."""
