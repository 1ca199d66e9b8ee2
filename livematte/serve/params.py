"""The server's query parameters, in the spirit of Cloudflare Images, as :class:`StillOptions`.

``background`` (a colour, ``blur[:S]``, ``transparent``, ``chroma[:COLOR]``, ``matte``; never a
file: the server reads nothing but the request), ``crop`` (``face`` or ``subject``, or the CLI's
``face:ZOOM``), ``zoom`` (with ``crop=face``), ``margin`` (with ``crop=subject``), ``width`` and
``height`` with ``fit`` (``contain``/``fit`` or ``cover``), ``shadow`` (empty, ``1`` or ``true``
for the default shadow, else ``OFFSET,BLUR,OPACITY``), ``place`` (``SCALE@X,Y``), ``format``
(``png``, ``webp``, ``jpg``). Anything else is refused (a typo should not pass silently).

>>> opts, fmt = options_from_query({"background": "white", "crop": "face", "zoom": "0.4", "format": "webp"})
>>> opts.background, opts.crop, fmt
('white', Crop(kind='face', value=0.4), 'webp')
"""
from __future__ import annotations

from typing import Mapping, Tuple

from ..colors import is_color
from ..effects.registry import spec_keywords
from ..stills.options import StillOptions
from ..types import LivematteError

KNOWN = ("background", "crop", "zoom", "margin", "width", "height", "fit", "shadow", "place", "format")
FORMATS = {"png": "image/png", "webp": "image/webp", "jpg": "image/jpeg", "jpeg": "image/jpeg"}
FITS = {"contain": "fit", "fit": "fit", "scale-down": "fit", "cover": "cover"}


def _background(spec: str) -> str:
    kind = spec.strip().partition(":")[0].lower()
    if kind in spec_keywords() or is_color(spec):
        return spec
    raise LivematteError(f"background={spec!r}: use a colour, blur[:S], transparent, chroma[:COLOR] or matte "
                         "(the server reads no files)")


def _crop(q: Mapping[str, str]):
    crop = q.get("crop")
    if not crop:
        if "zoom" in q or "margin" in q:
            raise LivematteError("zoom= and margin= go with crop=face or crop=subject")
        return None
    if ":" in crop:
        return crop
    value = q.get("zoom") if crop == "face" else q.get("margin")
    if (crop == "face" and "margin" in q) or (crop == "subject" and "zoom" in q):
        raise LivematteError("zoom= goes with crop=face, margin= with crop=subject")
    return crop if value is None else f"{crop}:{value}"


def _size(q: Mapping[str, str]):
    if "width" not in q and "height" not in q:
        if "fit" in q:
            raise LivematteError("fit= goes with width= and height=")
        return None
    if "width" not in q or "height" not in q:
        raise LivematteError("give both width= and height=")
    fit = q.get("fit", "contain").lower()
    if fit not in FITS:
        raise LivematteError(f"fit={fit!r}: use contain or cover")
    return f"{q['width']}x{q['height']}:{FITS[fit]}"


def _shadow(q: Mapping[str, str]):
    if "shadow" not in q:
        return None
    value = q["shadow"].strip().lower()
    if value in ("0", "false", "no"):
        return None
    return "" if value in ("", "1", "true", "yes") else value


def options_from_query(q: Mapping[str, str]) -> Tuple[StillOptions, str]:
    """``(options, format)`` for a request's query; one-line LivematteError for a bad one."""
    unknown = sorted(set(q) - set(KNOWN))
    if unknown:
        raise LivematteError(f"unknown parameter {unknown[0]!r}; known: {', '.join(KNOWN)}")
    fmt = q.get("format", "png").lower()
    if fmt not in FORMATS:
        raise LivematteError(f"format={fmt!r}: use png, webp or jpg")
    background = _background(q["background"]) if q.get("background") else None
    options = StillOptions.parse(background=background, shadow=_shadow(q), crop=_crop(q), size=_size(q),
                                 place=q.get("place") or None)
    return options, ("jpg" if fmt == "jpeg" else fmt)
