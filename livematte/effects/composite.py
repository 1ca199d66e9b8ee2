"""Compositing, the final stage of every compositing effect: ``fg * alpha + bg * (1 - alpha)``.

After the blend come the **post-composite steps**, in order: the place for what works on the
composited picture with the person and the background both known (a light wrap, a drop shadow).
There are none today (``Composite().post == []``). A step is a callable::

    step(ops, picture, image, background, alpha) -> picture

``picture``, ``image``, ``background``: engine 8-bit ``(H, W, 3)``; ``alpha`` float32 ``(H, W)``.
The step may write into ``picture`` (the stage owns it) but not into the others, and returns the
picture (the same array or a new one). With any step present the blend no longer writes into the
background (so a step sees the background as the effect made it).
"""
from __future__ import annotations

from typing import Callable, List, Optional, Sequence

PostStep = Callable[..., object]


class Composite:
    """The compositing stage: the blend (``ops.composite``, rounded like ``cv2.blendLinear``),
    then :attr:`post`.

    Args:
        post: post-composite steps (see the module docstring); empty by default.
    """

    def __init__(self, post: Optional[Sequence[PostStep]] = None):
        self.post: List[PostStep] = list(post or ())

    def __call__(self, ops, image, background, alpha, *, into: bool = False):
        """Person ``image`` 8-bit ``(H, W, 3)`` over ``background`` 8-bit ``(H, W, 3)`` with
        ``alpha`` float32 ``(H, W)`` -> 8-bit ``(H, W, 3)``. ``into``: the background may be
        overwritten (it is new and nobody else holds it); honoured only without post steps."""
        picture = ops.composite(image, background, alpha, into=into and not self.post)
        for step in self.post:
            picture = step(ops, picture, image, background, alpha)
        return picture
