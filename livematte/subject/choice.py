"""``--subject``: which subject the matte keeps, one grammar for every command.

========================  ==================================================================
``auto`` (default)        video / cam: ``main``; image: a person when one is found, else the
                          salient object (an installed object model, else the backdrop keyer)
``main``                  the principal person, plus anyone about as close to the camera
``all``                   every person
``ID[,ID...]``            those tracked people only (ids as listed by ``livematte matte --layers``)
``person``                people only (an image with none gets an empty matte and a message)
``object``                the salient object, not the person path (an object model or the keyer)
========================  ==================================================================
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

from ..types import LivematteError

KINDS = ("auto", "main", "all", "ids", "person", "object")


@dataclass(frozen=True)
class SubjectChoice:
    """A parsed ``--subject``: ``kind`` (one of :data:`KINDS`) and, for ``ids``, the ids."""

    kind: str = "auto"
    ids: Tuple[int, ...] = ()

    @property
    def people(self) -> bool:
        """Whether the person path decides (everything but ``object``)."""
        return self.kind != "object"


def parse_subject(text: str) -> SubjectChoice:
    """``--subject`` text -> :class:`SubjectChoice`; one-line LivematteError otherwise.

    >>> parse_subject("2,5"), parse_subject("main").kind
    (SubjectChoice(kind='ids', ids=(2, 5)), 'main')
    """
    s = (text or "auto").strip().lower()
    if s in KINDS and s != "ids":
        return SubjectChoice(s)
    parts = [p.strip() for p in s.split(",")]
    if parts and all(p.isdigit() for p in parts):
        return SubjectChoice("ids", tuple(int(p) for p in parts))
    raise LivematteError(f"--subject {text!r}: choose auto, main, all, person, object, or person ids like 1,3")
