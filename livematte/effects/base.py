"""The Effect protocol: what an effect is, what it needs, and how it is named in a spec.

An effect is written once against an engine's array layer (``ops``, see :mod:`livematte.engine`)
and so runs on the numpy and the torch engine alike. Array conventions: ``image`` RGB 8-bit
``(H, W, 3)`` (numpy uint8 or a uint8 tensor), ``alpha`` float32 ``(H, W)`` in [0, 1].

There are two kinds of effect:

* **compositing** effects (``composites = True``: blur, a replaced background, chroma) make a
  background, 8-bit ``(H, W, 3)``, with :meth:`Effect.background`; the compositing stage
  (:mod:`.composite`) then lays the person over it;
* **direct** effects (``composites = False``: transparent, matte) make the output picture
  themselves with :meth:`Effect.picture`.

An effect never downloads or uploads the frame: the effect stage (:mod:`.stage`) does that once.
"""
from __future__ import annotations

from typing import ClassVar

from ..types import LivematteError

#: what an effect reads (its ``needs``):
ALPHA = "alpha"    # the alpha only (the frame is not passed: ``image`` is None)
FRAME = "frame"    # the alpha and the frame's own pixels
SOURCE = "source"  # the alpha, the frame (to composite), and a background source of its own
NEEDS = (ALPHA, FRAME, SOURCE)


class Effect:
    """Base of every effect (subclass it, set the class attributes, implement one method).

    Class attributes:
        kind: the registry name (:data:`livematte.effects.registry.EFFECTS`).
        keyword: the spec spells it ``kind`` or ``kind:ARG``; when False the effect is recognised
            by the spec's form (:meth:`accepts`: a colour, a file) and ``kind`` is only its name.
        takes_arg: a keyword effect that accepts ``kind:ARG`` (else ``kind:ARG`` is not this effect).
        spec_help: how the spec is written, for the error message listing every form.
        rgba: the output picture is RGBA ``(H, W, 4)`` (else RGB ``(H, W, 3)``).
        needs: :data:`ALPHA`, :data:`FRAME` or :data:`SOURCE`.
        composites: True: :meth:`background` then the compositing stage; False: :meth:`picture`.
        fresh_background: :meth:`background` returns a new array each call, which the compositing
            stage may write into (the numpy engine's fast path); False for a cached background.
    """

    kind: ClassVar[str] = ""
    keyword: ClassVar[bool] = True
    takes_arg: ClassVar[bool] = False
    spec_help: ClassVar[str] = ""
    rgba: ClassVar[bool] = False
    needs: ClassVar[str] = FRAME
    composites: ClassVar[bool] = True
    fresh_background: ClassVar[bool] = False

    @classmethod
    def from_spec(cls, arg: str, **options) -> "Effect":
        """The effect for a spec: ``arg`` is ARG of ``kind:ARG`` ('' for ``kind``) for a keyword
        effect, the whole spec for one recognised by its form. ``options``: ``blur_strength``
        (the default sigma, see :class:`~.blur.Blur`); ignore those that do not apply.
        A bad argument raises a one-line LivematteError."""
        if arg:
            raise LivematteError(f"{cls.kind} takes no argument, got {arg!r}")
        return cls()

    @classmethod
    def accepts(cls, spec: str) -> bool:
        """For ``keyword = False`` effects: whether the (stripped) ``spec`` is one of this effect's."""
        return False

    def background(self, ops, image, alpha):
        """Compositing effects: engine image 8-bit ``(H, W, 3)`` and alpha float32 ``(H, W)`` ->
        the background 8-bit ``(H, W, 3)`` the person is laid over (same size as ``image``)."""
        raise NotImplementedError(f"{type(self).__name__} makes no background")

    def picture(self, ops, image, alpha):
        """Direct effects: engine image 8-bit ``(H, W, 3)`` (None when ``needs`` is :data:`ALPHA`)
        and alpha float32 ``(H, W)`` -> the output 8-bit ``(H, W, 4)`` if ``rgba`` else ``(H, W, 3)``."""
        raise NotImplementedError(f"{type(self).__name__} makes no picture of its own")

    def reset(self) -> None:
        """Start afresh (a new scene or source; a live switch to this effect)."""
