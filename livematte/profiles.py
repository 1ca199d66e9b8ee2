"""Quality profiles: ``--quality fast|balanced|best`` (``[quality] profile`` in a preset).

A profile is a set of values for ``[quality]`` keys (:data:`PROFILES`); a key a preset, a TOML file,
a flag or the API set itself (``Config.given``) keeps that value. ``balanced`` is the default and
changes nothing. The cost and quality of each, measured: README.md and BENCHMARKS.md.

* ``balanced`` (the default): the models run on every second frame while the tracked person and
  the picture are still (``model_every = 2``, the default: on a still webcam picture about half the
  frames reuse the last model run's outputs; refinement and smoothing still follow every frame);
  on files a whole body's crop is grown where a limb runs out of it (``crop_extend = "body"``, the
  default; ``cam`` leaves it out: :func:`for_live`).
* ``fast`` (weak laptops): no pose pass, no second full-frame model while searching, no attached
  objects, no temporal smoothing (on DAVIS its flicker removal is worth dtSSD 0.06 to fast, on a
  still webcam 0.30 against 0.35% of alpha changing a frame, for ~15% of fast's CPU), and the models
  run on every second frame while the tracked person and the picture are still (``model_every``;
  such a frame reuses the last matte too: without refinement it would be the same).
* ``best`` (files): look-ahead two-sided smoothing over :data:`BEST_LOOKAHEAD` later frames
  (``lookahead``; :mod:`livematte.stages.lookahead`: a flow-warped forward pass over the past, then
  a flow-warped backward pass over the future; its flows on a 480-wide grey, ``flow_width``), the
  models on every frame (``model_every = 1``), and two per-frame accuracy passes: each crop tile
  also seen as 2 x 2 finer sub-tiles (``tile_views``) and the crop grown where its person runs out
  of it, on a close-up too (``crop_extend = "all"``: a raised leg the full-frame pass missed).
  docs/quality.md, issue #17 best revision 3: DAVIS A dtSSD 7.35 -> 6.98 for ~1.7x the CPU.
  Live there is no future: ``cam`` runs ``balanced`` instead (:func:`for_live`).
"""
from __future__ import annotations

import dataclasses
from typing import Dict, Optional

#: frames of look-ahead of the ``best`` profile
BEST_LOOKAHEAD = 4

PROFILES: Dict[str, Dict[str, object]] = {
    "fast": {"pose": False, "ensemble": False, "attach": False, "refine": "none", "solid": False, "model_every": 2,
             "temporal": "none", "crop_extend": "off"},
    "balanced": {},
    "best": {"lookahead": BEST_LOOKAHEAD, "model_every": 1, "flow_width": 480, "tile_views": 2, "crop_extend": "all"},
}

#: every key some profile sets
KNOBS = sorted({k for values in PROFILES.values() for k in values})


def resolve_profile(cfg):
    """Set the profile's keys of ``cfg.quality`` to the profile's values (a key the profile leaves
    alone: to its default), except keys that were given (``cfg.given``: a preset, a file, a flag,
    ``Config.override``) or assigned directly (a value that is neither the default nor what an
    earlier resolution set); returns ``cfg``. Idempotent; a later change of ``profile`` (a flag
    after a preset) resolves again."""
    name = cfg.quality.profile
    if name not in PROFILES:
        from .types import LivematteError

        raise LivematteError(f"quality profile must be one of {', '.join(PROFILES)}, got {name!r}")
    defaults = {f.name: f.default for f in dataclasses.fields(type(cfg.quality))}  # QualityConfig's
    for key in KNOBS:
        now = getattr(cfg.quality, key)
        if f"quality.{key}" in cfg.given or (now != defaults[key] and now != cfg.profiled.get(key, defaults[key])):
            continue
        value = PROFILES[name].get(key, defaults[key])
        setattr(cfg.quality, key, value)
        cfg.profiled[key] = value
    return cfg


def for_live(cfg) -> Optional[str]:
    """Make ``cfg`` fit a live run (no future frames: look-ahead off; the default's grown crop of a
    whole body, ``crop_extend = "body"``, is left to files: ~1.9x a whole body's CPU, where a live
    frame has its camera's time only); returns a one-line note when the look-ahead changed, else None."""
    note = _without_future(cfg)
    if cfg.quality.crop_extend == "body" and "quality.crop_extend" not in cfg.given:
        cfg.quality.crop_extend = "off"
    return note


def _without_future(cfg) -> Optional[str]:
    if cfg.quality.lookahead <= 0:
        return None
    was = cfg.quality.profile
    cfg.quality.lookahead = 0
    if was == "best" and "quality.lookahead" not in cfg.given:
        cfg.quality.profile = "balanced"
        resolve_profile(cfg)
        return "--quality best needs frames from the future (files only): cam runs balanced"
    return "look-ahead smoothing needs frames from the future (files only): cam runs without it"
