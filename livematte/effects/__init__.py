"""Effects: turn a frame and its alpha into the output picture, on either engine.

:func:`make_effect` parses a ``--background`` value and returns an :class:`EffectStage` with the
contract every caller uses: ``apply(image, alpha)`` takes RGB uint8 ``(H, W, 3)`` and alpha
float32 ``(H, W)`` in [0, 1] (numpy, or the engine's arrays) and returns numpy uint8 RGB
``(H, W, 3)``, or RGBA ``(H, W, 4)`` when ``stage.alpha`` is True; ``reset()``; ``engine``,
``effect``, ``kind``, and ``apply_engine`` for engine arrays in and out.

Files: :mod:`.base` (the :class:`Effect` protocol: ``kind``, ``rgba``, ``needs``, ``background`` or
``picture``, ``reset``, ``from_spec``), :mod:`.composite` (the compositing stage and its list of
post-composite steps), :mod:`.stage` (an effect on an engine), :mod:`.registry` (``EFFECTS``,
``make_effect``), and one file per effect: :mod:`.blur`, :mod:`.replace` (colour, image, looping
video; ``chroma``), :mod:`.transparent`, :mod:`.matte`.

Adding an effect (it then runs on the numpy and the torch engine with no further code):

1. Write ``livematte/effects/NAME.py`` with a subclass of :class:`Effect`: set ``kind`` (the
   spec keyword), ``spec_help`` (how it is written, for the error message), ``takes_arg`` if it
   reads ``NAME:ARG`` (then override ``from_spec``), ``needs``, ``rgba``; implement either
   ``background(ops, image, alpha)`` (a compositing effect: the stage lays the person over it) or
   ``picture(ops, image, alpha)`` with ``composites = False``, using only ``ops`` primitives
   (:mod:`livematte.engine`) so both engines run it.
2. Add the class to ``EFFECTS`` in :mod:`.registry` (``make_effect``, the error message and the
   live controls read it from there).
3. Give it a twin entry in ``tests/test_effects.py`` (``TWIN_SPECS``): the registry test fails
   until the new kind has one.

A post-composite step (a light wrap, a shadow) goes into :class:`Composite`'s ``post`` list instead.
"""
from .base import ALPHA, FRAME, NEEDS, SOURCE, Effect
from .blur import Blur, blur_halvings
from .composite import Composite
from .matte import Matte
from .registry import EFFECTS, effect_kinds, make_effect, parse_effect, spec_keywords
from .replace import CHROMA_GREEN, IMAGE_EXTENSIONS, Chroma, Replace, cover
from .stage import EffectStage
from .transparent import Transparent

__all__ = ["ALPHA", "Blur", "CHROMA_GREEN", "Chroma", "Composite", "EFFECTS", "Effect", "EffectStage", "FRAME",
           "IMAGE_EXTENSIONS", "Matte", "NEEDS", "Replace", "SOURCE", "Transparent", "blur_halvings", "cover",
           "effect_kinds", "make_effect", "parse_effect", "spec_keywords"]
