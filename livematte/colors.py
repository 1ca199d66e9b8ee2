"""Parsing colours given on the command line or in presets."""
from __future__ import annotations

from typing import Tuple

from .types import LivematteError

RGB = Tuple[int, int, int]

NAMED: dict = {
    "white": (255, 255, 255),
    "black": (0, 0, 0),
    "green": (0, 255, 0),
    "blue": (0, 0, 255),
    "red": (255, 0, 0),
    "gray": (128, 128, 128),
    "grey": (128, 128, 128),
    "magenta": (255, 0, 255),
}


def parse_color(text: str) -> RGB:
    """``'white'``, ``'#00b140'``, ``'00b140'`` or ``'0,177,64'`` -> an (R, G, B) tuple.

    >>> parse_color("#00B140"), parse_color("white"), parse_color("1,2,3")
    ((0, 177, 64), (255, 255, 255), (1, 2, 3))
    """
    s = text.strip().lower()
    if s in NAMED:
        return NAMED[s]
    if "," in s:
        parts = s.split(",")
        if len(parts) == 3 and all(p.strip().isdigit() and int(p) <= 255 for p in parts):
            return tuple(int(p) for p in parts)  # type: ignore[return-value]
    else:
        h = s[1:] if s.startswith("#") else s
        if len(h) == 6 and all(c in "0123456789abcdef" for c in h):
            return tuple(int(h[i : i + 2], 16) for i in (0, 2, 4))  # type: ignore[return-value]
    raise LivematteError(
        f"not a colour: {text!r}; use a name ({', '.join(NAMED)}), #RRGGBB or R,G,B with values 0-255"
    )


def is_color(text: str) -> bool:
    """Whether ``text`` parses as a colour."""
    try:
        parse_color(text)
    except LivematteError:
        return False
    return True
