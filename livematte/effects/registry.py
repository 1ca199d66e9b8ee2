"""The effect registry: every effect by kind, and :func:`make_effect` parsing ``--background``.

Spec grammar: a keyword effect is ``kind`` or, when it takes one, ``kind:ARG`` (``blur``,
``blur:STRENGTH``, ``transparent``, ``matte``, ``chroma``, ``chroma:COLOR``); otherwise the spec
is recognised by its form, in registry order (``replace``: a colour ``white`` / ``#RRGGBB`` /
``R,G,B``, an image file, or a video file, looped).
"""
from __future__ import annotations

from typing import Dict, Tuple, Type

from ..types import LivematteError
from .base import Effect
from .blur import Blur
from .matte import Matte
from .replace import Chroma, Replace
from .stage import EffectStage
from .transparent import Transparent

#: kind -> effect class; the order is that of the spec help and of form matching
EFFECTS: Dict[str, Type[Effect]] = {cls.kind: cls for cls in (Blur, Transparent, Matte, Chroma, Replace)}


def effect_kinds() -> Tuple[str, ...]:
    """Every registered kind, in registry order."""
    return tuple(EFFECTS)


def spec_keywords() -> Tuple[str, ...]:
    """The kinds a spec names as a keyword (``blur``, ``chroma``...; not those known by form)."""
    return tuple(k for k, cls in EFFECTS.items() if cls.keyword)


def parse_effect(spec: str, *, blur_strength: float = 24.0) -> Effect:
    """The :class:`~.base.Effect` for a ``--background`` value (see the module docstring).
    One-line LivematteError for a spec no effect takes or a bad argument."""
    s = spec.strip()
    kind, _, arg = s.partition(":")
    cls = EFFECTS.get(kind.lower())
    if cls is not None and cls.keyword and (not arg or cls.takes_arg):
        return cls.from_spec(arg, blur_strength=blur_strength)
    for cls in EFFECTS.values():
        if not cls.keyword and cls.accepts(s):
            return cls.from_spec(s, blur_strength=blur_strength)
    forms = [c.spec_help for c in EFFECTS.values() if c.keyword]
    forms += [c.spec_help for c in EFFECTS.values() if not c.keyword]
    raise LivematteError(f"--background {spec!r}: not {', '.join(forms)}")


def make_effect(spec: str, *, blur_strength: float = 24.0, engine=None, reuse_output: bool = False) -> EffectStage:
    """The effect stage for a ``--background`` value on ``engine`` (None: the numpy engine).

    ``blur_strength``: the sigma of a bare ``blur``. ``reuse_output``: see :class:`EffectStage`.

    >>> stage = make_effect("chroma:blue")
    >>> stage.kind, stage.effect.color, stage.alpha, stage.engine.name
    ('chroma', (0, 0, 255), False, 'numpy')
    """
    return EffectStage(parse_effect(spec, blur_strength=blur_strength), engine, reuse_output=reuse_output)
