"""What one still-image job is asked to do, parsed from the CLI's flags or the server's query.

Grammars (one-line LivematteError for anything else):

* ``--crop face[:ZOOM]``: the box around all faces, divided by ``ZOOM`` (0 < ZOOM <= 1, default
  0.5: twice the faces' box) around its centre, clamped to the image (Cloudflare's
  ``gravity=face,zoom=``); ``--crop subject[:MARGIN]``: the subject's box grown by ``MARGIN``
  (0..1 of its larger side, default 0.05), clamped.
* ``--size WxH[:fit|cover]``: the output's size; ``fit`` (default) scales the picture to fit and
  pads with background, ``cover`` scales it to cover and trims the middle.
* ``--place SCALE[@X,Y]``: the subject scaled to fit ``SCALE`` (0 < SCALE <= 1) of the picture,
  its box centred at ``(X, Y)`` (fractions of the width and height, default 0.5,0.5).

>>> parse_crop("face:0.4"), parse_size("400x300:cover"), parse_place("0.8@0.5,0.6")
(Crop(kind='face', value=0.4), Size(width=400, height=300, mode='cover'), Place(scale=0.8, x=0.5, y=0.6))
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..effects.shadow import Shadow
from ..types import LivematteError

CROP_DEFAULTS = {"face": 0.5, "subject": 0.05}
SIZE_MODES = ("fit", "cover")
MAX_SIDE = 8192


@dataclass(frozen=True)
class Crop:
    """``kind`` face (``value`` = zoom) or subject (``value`` = margin)."""

    kind: str
    value: float


@dataclass(frozen=True)
class Size:
    width: int
    height: int
    mode: str = "fit"


@dataclass(frozen=True)
class Place:
    scale: float
    x: float = 0.5
    y: float = 0.5


def _number(text: str, what: str, flag: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise LivematteError(f"{flag}: {what} must be a number, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise LivematteError(f"{flag}: {what} must be finite, got {text!r}")
    return value


def parse_crop(spec: str) -> Crop:
    """``face[:ZOOM]`` or ``subject[:MARGIN]`` -> :class:`Crop`."""
    kind, _, arg = spec.strip().lower().partition(":")
    if kind not in CROP_DEFAULTS:
        raise LivematteError(f"--crop {spec!r}: expected face[:ZOOM] or subject[:MARGIN]")
    value = _number(arg, "the zoom" if kind == "face" else "the margin", "--crop") if arg else CROP_DEFAULTS[kind]
    if kind == "face" and not 0.0 < value <= 1.0:
        raise LivematteError(f"--crop {spec!r}: the zoom must be in (0, 1] (0.5: twice the faces' box)")
    if kind == "subject" and not 0.0 <= value <= 1.0:
        raise LivematteError(f"--crop {spec!r}: the margin must be in [0, 1] (a share of the subject's size)")
    return Crop(kind, value)


def parse_size(spec: str) -> Size:
    """``WxH[:fit|cover]`` -> :class:`Size` (16..8192 a side)."""
    dims, _, mode = spec.strip().lower().partition(":")
    mode = mode or "fit"
    try:
        w, h = (int(v) for v in dims.split("x"))
    except ValueError:
        raise LivematteError(f"--size {spec!r}: expected WIDTHxHEIGHT[:fit|cover], e.g. 400x400:cover") from None
    if mode not in SIZE_MODES:
        raise LivematteError(f"--size {spec!r}: the mode must be fit or cover, got {mode!r}")
    if not (16 <= w <= MAX_SIDE and 16 <= h <= MAX_SIDE):
        raise LivematteError(f"--size {spec!r}: each side must be within 16..{MAX_SIDE}")
    return Size(w, h, mode)


def parse_place(spec: str) -> Place:
    """``SCALE[@X,Y]`` -> :class:`Place`."""
    scale_text, _, at = spec.strip().partition("@")
    scale = _number(scale_text, "the scale", "--place")
    if not 0.0 < scale <= 1.0:
        raise LivematteError(f"--place {spec!r}: the scale must be in (0, 1] (the share of the picture it fills)")
    x = y = 0.5
    if at:
        parts = at.split(",")
        if len(parts) != 2:
            raise LivematteError(f"--place {spec!r}: expected SCALE@X,Y, e.g. 0.8@0.5,0.55")
        x, y = (_number(p, "the position", "--place") for p in parts)
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise LivematteError(f"--place {spec!r}: X and Y are fractions of the picture, within 0..1")
    return Place(scale, x, y)


@dataclass(frozen=True)
class StillOptions:
    """Everything a still job does after the matte.

    Attributes:
        background: the effect spec, or None for the format's default (a transparent cut-out
            where the format holds alpha, else the config's ``flatten`` colour).
        shadow, crop, size, place: the tools, None when not asked for.
    """

    background: Optional[str] = None
    shadow: Optional[Shadow] = None
    crop: Optional[Crop] = None
    size: Optional[Size] = None
    place: Optional[Place] = None

    @classmethod
    def parse(cls, *, background=None, shadow=None, crop=None, size=None, place=None) -> "StillOptions":
        """From the flags' texts (None: not given; ``shadow`` '' takes the defaults)."""
        return cls(background=background or None,
                   shadow=None if shadow is None else Shadow.parse(shadow),
                   crop=None if not crop else parse_crop(crop),
                   size=None if not size else parse_size(size),
                   place=None if not place else parse_place(place))
