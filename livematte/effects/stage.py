"""The effect stage: an :class:`~.base.Effect` on an engine, with the numpy-in / numpy-out contract
the pipeline, the live loop, the API and the sinks call.

Per frame on the torch engine: the frame's upload is the one the matter already made
(``engine.cached``), a numpy alpha is uploaded (the matter's engine alpha is used as it is), the
effect and the compositing stage run on the device, and the picture comes down once.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from .base import ALPHA, Effect
from .composite import Composite


class EffectStage:
    """Runs ``effect`` on ``engine`` (None: the numpy engine).

    Attributes:
        engine: the :class:`~livematte.engine.Engine`.
        effect: the :class:`~.base.Effect`.
        kind: the effect's registry name.
        alpha: the pictures carry alpha (RGBA ``(H, W, 4)``; else RGB ``(H, W, 3)``).
        composite: the compositing stage (:class:`~.composite.Composite`; its ``post`` steps).
        reuse_output: :meth:`apply` may return a view of a buffer reused a few frames later (the
            torch engine's pinned download slots, for the file pipeline); else an owned array.
    """

    def __init__(self, effect: Effect, engine=None, *, reuse_output: bool = False,
                 composite: Optional[Composite] = None):
        if engine is None:
            from ..engine import numpy_engine

            engine = numpy_engine()
        self.engine, self.effect = engine, effect
        self.kind = effect.kind
        self.alpha = bool(effect.rgba)
        self.composite = composite or Composite()
        self.reuse_output = reuse_output

    def apply_engine(self, image, alpha):
        """Engine image 8-bit ``(H, W, 3)`` (may be None for an alpha-only effect) and engine
        alpha float32 ``(H, W)`` -> the engine picture 8-bit ``(H, W, 3|4)``. Call inside
        ``engine.inference()``. Writes into neither input."""
        ops, effect = self.engine.ops, self.effect
        if not effect.composites:
            return effect.picture(ops, image, alpha)
        background = effect.background(ops, image, alpha)
        return self.composite(ops, image, background, alpha, into=effect.fresh_background)

    def apply(self, image, alpha) -> np.ndarray:
        """Host (or engine) RGB uint8 ``(H, W, 3)`` and alpha float32 ``(H, W)`` (numpy or the
        engine's) -> numpy uint8 picture ``(H, W, 4)`` if :attr:`alpha` else ``(H, W, 3)``."""
        engine = self.engine
        with engine.inference():
            image_e = None if self.effect.needs == ALPHA else engine.cached(image)
            out = self.apply_engine(image_e, self._engine_alpha(alpha))
            return engine.download(out, copy=not self.reuse_output)

    def _engine_alpha(self, alpha):
        if self.engine.name == "numpy" or not isinstance(alpha, np.ndarray):
            return alpha
        # a numpy alpha may be the smoother's read-only past: torch wants a writable, contiguous array
        return self.engine.ops.from_host(np.require(alpha, np.float32, ["C", "W"]))

    def reset(self) -> None:
        """Start afresh (a new source, a still image, a live switch to this effect)."""
        self.effect.reset()

    def __repr__(self) -> str:
        return f"EffectStage({self.kind!r} on {self.engine.name})"
