"""Checking a :class:`~livematte.config.Config`: every value's type, finiteness and range.

Types come from each section's dataclass annotations (``Optional[float]`` accepts any number,
``int`` refuses 1.5 and ``True``, ``bool`` refuses 1; ``model.engine`` is left to its ``validate()``); numbers must be finite and within
:data:`RANGES`; names within :data:`CHOICES`. Each problem is one ``LivematteError`` line naming
``[section] key``. The sections' own ``validate()`` methods then run for what they know.
"""
from __future__ import annotations

import dataclasses
import math
import typing
from typing import Any, Dict, Optional, Tuple

from .types import LivematteError

#: (low, high, low inclusive, high inclusive) of every number; None: no bound on that side.
RANGES: Dict[Tuple[str, str], Tuple[Optional[float], Optional[float], bool, bool]] = {
    ("model", "threads"): (0, 1024, True, True),
    ("mask", "threshold"): (0.0, 1.0, False, False),
    ("mask", "grow"): (-200, 200, True, True),
    ("mask", "feather"): (0.0, 500.0, True, True),
    ("quality", "smoothing"): (0.0, 1.0, True, False),
    ("quality", "radius"): (1, 32, True, True),
    ("quality", "eps"): (0.0, 1.0, False, True),
    ("quality", "motion_noise"): (0.0, 255.0, False, True),
    ("quality", "roi_margin"): (0.0, 2.0, True, True),
    ("quality", "min_core"): (0.0, 1.0, True, True),
    ("quality", "roi_seam"): (0.0, 0.5, True, True),
    ("quality", "roi_confirm"): (1, 10, True, True),
    ("quality", "temporal_sure"): (0.0, 0.5, True, False),
    ("quality", "pose_margin"): (0.0, 1.0, True, True),
    ("quality", "pose_every"): (1, 8, True, True),
    ("quality", "lookahead"): (0, 64, True, True),
    ("quality", "flow_width"): (64, 1920, True, True),
    ("quality", "tile_views"): (1, 4, True, True),
    ("quality", "presence_window"): (0, 128, True, True),
    ("quality", "model_every"): (1, 8, True, True),
    ("quality", "search_every"): (1, 30, True, True),
    ("quality", "idle_every"): (1, 30, True, True),
    ("effect", "blur_strength"): (0.0, 500.0, False, True),
    ("output", "crf"): (0, 51, True, True),
}

#: the allowed names of every string value that is not free text (paths, specs, colours).
CHOICES: Dict[Tuple[str, str], Tuple[str, ...]] = {
    ("model", "runtime"): ("auto", "mediapipe", "litert", "torch"),
    ("model", "device"): ("auto", "cpu", "cuda"),
    ("quality", "refine"): ("guided", "none"),
    ("quality", "temporal"): ("motion", "ema", "none"),
    ("quality", "roi_outside"): ("keep", "drop"),
    ("quality", "profile"): ("fast", "balanced", "best"),
    ("output", "preset"): ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower",
                           "veryslow", "placebo"),
}
CHOICES[("output", "live_preset")] = CHOICES[("output", "preset")]
CHOICES[("quality", "crop_extend")] = ("off", "body", "all")
#: string values that also take a TOML boolean (an older file's): what true and false stand for
BOOL_NAMES: Dict[Tuple[str, str], Tuple[str, str]] = {("quality", "crop_extend"): ("all", "off")}


def _kind(section_cls, key: str) -> Tuple[type, bool]:
    """(base type, optional) of one field from its annotation."""
    hint = typing.get_type_hints(section_cls)[key]
    args = typing.get_args(hint)
    if type(None) in args:
        return next(a for a in args if a is not type(None)), True
    return hint, False


def coerce(section: str, section_cls, key: str, value: Any, origin: str = "config") -> Any:
    """``value`` for ``[section] key`` with the field's type (an int where a float is wanted becomes
    a float); ``LivematteError`` when the type is wrong."""
    kind, optional = _kind(section_cls, key)
    if value is None and optional:
        return None
    where = f"{origin}: [{section}] {key}"
    if isinstance(value, bool) and (section, key) in BOOL_NAMES:
        return BOOL_NAMES[(section, key)][0 if value else 1]
    name = "a string" if kind is str and optional else kind.__name__
    if kind is bool:
        ok = isinstance(value, bool)
    elif kind in (int, float):
        ok = not isinstance(value, bool) and isinstance(value, (int, float)) and not (kind is int and isinstance(value, float))
    else:
        ok = isinstance(value, kind)
    if not ok:
        raise LivematteError(f"{where} must be {name}, got {value!r}")
    return float(value) if kind is float else value


def _check_value(section: str, key: str, value: Any, origin: str) -> None:
    where = f"{origin}: [{section}] {key}"
    if isinstance(value, float) and not math.isfinite(value):
        raise LivematteError(f"{where} must be a finite number, got {value}")
    bounds = RANGES.get((section, key))
    if bounds is not None and value is not None:
        low, high, low_in, high_in = bounds
        if (low is not None and (value < low or (value == low and not low_in))) or \
                (high is not None and (value > high or (value == high and not high_in))):
            left, right = "[" if low_in else "(", "]" if high_in else ")"
            raise LivematteError(f"{where} must be in {left}{low:g}, {high:g}{right}, got {value:g}")
    choices = CHOICES.get((section, key))
    if choices is not None and value not in choices:
        raise LivematteError(f"{where} must be one of {', '.join(choices)}, got {value!r}")


def check_config(cfg, origin: str = "config") -> None:
    """Raise one ``LivematteError`` line for the first value of ``cfg`` that is of the wrong type,
    not finite, out of range or not an allowed name (values set by flags are checked too)."""
    for section_field in dataclasses.fields(cfg):
        section = section_field.name
        target = getattr(cfg, section)
        for f in dataclasses.fields(target):
            value = coerce(section, type(target), f.name, getattr(target, f.name), origin)
            _check_value(section, f.name, value, origin)
    for section_field in dataclasses.fields(cfg):
        validate = getattr(getattr(cfg, section_field.name), "validate", None)
        if validate is not None:
            try:
                validate()
            except LivematteError as err:
                raise LivematteError(f"{origin}: [{section_field.name}] {err}") from None
