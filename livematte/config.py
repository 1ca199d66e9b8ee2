"""Every option in one place, as dataclasses, plus TOML presets (``configs/NAME.toml``).

A preset file has one table per section (``[model]``, ``[mask]``, ``[quality]``, ``[effect]``,
``[output]``) whose keys are the fields below. Command-line flags override the preset.
"""
from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from .maskops import MaskOptions
from .types import LivematteError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CONFIG_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs")


@dataclass
class ModelConfig:
    """Which network runs, and where.

    Attributes:
        name: backend name (``livematte models`` lists them).
        runtime: engine for the selfie family: auto, mediapipe, litert or torch.
        device: auto, cpu or cuda.
        engine: which implementation of the frame algorithm runs: ``auto`` (torch on CUDA, numpy
            and OpenCV on the CPU), ``numpy`` or ``torch`` (``torch`` with ``device = cpu`` runs the
            torch engine on the CPU: for debugging and the twin check).
        weights: checkpoint path for backends that need one (modnet, rvm).
        threads: CPU threads for the model; 0 lets the backend choose (one for the selfie models,
            leaving the other cores to decoding and encoding; torch's default for modnet / rvm).
    """

    name: str = "selfie"
    runtime: str = "auto"
    device: str = "auto"
    engine: str = "auto"
    weights: Optional[str] = None
    threads: int = 0


@dataclass
class QualityConfig:
    """Matte quality: subject crop, edge refinement and temporal smoothing (see docs/quality.md).

    Attributes:
        refine: edge refinement at full resolution: ``guided`` (fast guided filter following the
            picture's edges) or ``none`` (bilinear upsampling of the model's output).
        temporal: smoothing across frames: ``motion`` (motion-aware: smooths only where the picture
            did not change), ``ema`` (plain average) or ``none``. Always reset on a scene cut.
        smoothing: strength of temporal smoothing in [0, 1): the largest weight of the past.
        roi: carry a region of interest around the person from frame to frame and segment it again
            at the model's full resolution (a second model run per frame while a person is in view).
        ensemble: average the general and the landscape selfie models on the full frame (one more,
            cheaper, model run) while looking for a person; the two models rarely make the same
            mistake, so a false person seldom opens a crop.
        ensemble_tracking: keep averaging them while a crop holds the person too (off: the general
            model alone is sharper there, keeps held objects for ``attach``, and is one run cheaper).
        radius: guided-filter window radius on the model's grid (256 over the frame or the crop).
        eps: guided-filter regularisation on brightness in [0, 1]: smaller follows the picture more.
        motion_noise: brightness change (8-bit levels) treated as motion by ``temporal = motion``.
        roi_margin: context around the person in the crop, as a fraction of the person's larger side.
        min_core: a blob counts as a person only when at least this fraction of it is confident
            (probability >= 0.9); lukewarm blobs (a ball, a lamp) are removed and never start a crop.
        roi_seam: width of the soft seam at the crop's inner sides, as a fraction of the crop side.
        roi_tiles: a subject much taller than wide (or wider than tall) is segmented as two
            overlapping square tiles (top and bottom) instead of one square crop: twice the model's
            resolution on a standing person, for one more model run.
        temporal_sure: the past's weight falls to 0 where the new alpha is certain: full within
            ``[temporal_sure, 1 - temporal_sure]``, 0 at alpha 0 or 1 (0: off).
        roi_outside: while a crop is in use, full-frame foreground blobs that do not reach into it
            (smaller than a quarter of the person, since larger person blobs make the box) are
            ``keep`` (kept at the full-frame probability) or ``drop`` (removed).
        roi_confirm: consecutive frames with a confident person before the crop opens (1: at once);
            on the first frame of a source or shot the crop opens at once whatever this says.
        attach: add back full-frame foreground that the crop left out when it touches the person
            and moves with them (a pushed stroller, a board), judged by optical flow on a small grid.
        pose: the crop pass also runs the person mask of MediaPipe's full-body pose model (bundled
            with mediapipe) on a square around the person and averages it with the selfie model's
            (the larger of the two where the pose model is sure): limbs in any posture come back.
            Only while the person's blob stops above the frame's bottom edge (a whole body; the
            pose model is poor on head-and-shoulders shots, which keep the selfie model alone);
            one more model run (~9 ms on one core) then. The torch path runs a port of it rebuilt
            from the same file.
        pose_margin: extra context around the crop for the pose model's square, as a fraction of
            the crop's larger side (the pose model was trained on loosely framed whole bodies).
    """

    refine: str = "guided"
    temporal: str = "motion"
    smoothing: float = 0.7
    roi: bool = True
    ensemble: bool = True
    ensemble_tracking: bool = False
    radius: int = 2
    eps: float = 1e-3
    motion_noise: float = 8.0
    roi_margin: float = 0.05
    min_core: float = 0.15
    roi_seam: float = 0.03
    roi_tiles: bool = True
    attach: bool = True
    roi_confirm: int = 2
    temporal_sure: float = 0.1
    roi_outside: str = "drop"
    pose: bool = True
    pose_margin: float = 0.1

    def validate(self) -> "QualityConfig":
        """Raise LivematteError on an unknown mode or an out-of-range value; returns self."""
        if self.refine not in ("guided", "none"):
            raise LivematteError(f"refine must be guided or none, got {self.refine!r}")
        if self.temporal not in ("motion", "ema", "none"):
            raise LivematteError(f"temporal must be motion, ema or none, got {self.temporal!r}")
        if not 0.0 <= self.smoothing < 1.0:
            raise LivematteError(f"smoothing must be in [0, 1), got {self.smoothing}")
        if not 1 <= self.radius <= 32:
            raise LivematteError(f"radius must be within 1..32, got {self.radius}")
        if self.eps <= 0 or self.motion_noise <= 0:
            raise LivematteError(f"eps and motion_noise must be > 0, got {self.eps}, {self.motion_noise}")
        if not 0.0 <= self.roi_margin <= 2.0 or not 0.0 <= self.min_core <= 1.0 or not 0.0 <= self.roi_seam <= 0.5:
            raise LivematteError("roi_margin must be in [0, 2], min_core in [0, 1], roi_seam in [0, 0.5]")
        if not 0.0 <= self.pose_margin <= 1.0:
            raise LivematteError(f"pose_margin must be in [0, 1], got {self.pose_margin}")
        if self.roi_outside not in ("keep", "drop"):
            raise LivematteError(f"roi_outside must be keep or drop, got {self.roi_outside!r}")
        if not 0.0 <= self.temporal_sure < 0.5:
            raise LivematteError(f"temporal_sure must be in [0, 0.5), got {self.temporal_sure}")
        if not 1 <= int(self.roi_confirm) <= 10:
            raise LivematteError(f"roi_confirm must be within 1..10, got {self.roi_confirm}")
        return self


@dataclass
class EffectConfig:
    """What replaces the background.

    Attributes:
        background: blur[:S], a colour, an image or video file, transparent, matte, chroma[:COLOR].
        blur_strength: Gaussian sigma in pixels for a 1080-line frame.
        flatten: colour under a cut-out when the format has no alpha (JPEG).
    """

    background: str = "blur"
    blur_strength: float = 24.0
    flatten: str = "white"


@dataclass
class OutputConfig:
    """Encoder settings for video files.

    Attributes:
        crf: H.264 / VP9 quality (lower is better, bigger).
        preset: x264 speed preset.
    """

    crf: int = 20
    preset: str = "veryfast"


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    mask: MaskOptions = field(default_factory=MaskOptions)
    quality: QualityConfig = field(default_factory=QualityConfig)
    effect: EffectConfig = field(default_factory=EffectConfig)
    output: OutputConfig = field(default_factory=OutputConfig)

    def override(self, section: str, **values: Any) -> "Config":
        """Set fields of one section, ignoring values that are None (flags not given)."""
        target = getattr(self, section)
        for key, value in values.items():
            if value is not None:
                setattr(target, key, value)
        return self


def preset_path(name_or_path: str) -> str:
    """``meeting-blur`` -> ``configs/meeting-blur.toml``; a path is returned as it is."""
    if os.path.sep in name_or_path or name_or_path.endswith(".toml"):
        return name_or_path
    return os.path.join(CONFIG_DIR, name_or_path + ".toml")


def list_presets() -> list:
    """Names of the presets shipped in configs/."""
    if not os.path.isdir(CONFIG_DIR):
        return []
    return sorted(f[:-5] for f in os.listdir(CONFIG_DIR) if f.endswith(".toml"))


def from_dict(data: Dict[str, Any], origin: str = "config") -> Config:
    """Build a Config from nested tables, rejecting unknown sections, keys and wrong types."""
    cfg = Config()
    for section, values in data.items():
        if not hasattr(cfg, section) or not isinstance(values, dict):
            names = ", ".join(f.name for f in dataclasses.fields(Config))
            raise LivematteError(f"{origin}: unknown section [{section}]; sections are: {names}")
        target = getattr(cfg, section)
        fields = {f.name: f for f in dataclasses.fields(target)}
        for key, value in values.items():
            if key not in fields:
                raise LivematteError(f"{origin}: unknown key {key!r} in [{section}]; keys are: {', '.join(fields)}")
            default = getattr(target, key)
            if default is None and not isinstance(value, str):  # optional paths and names
                raise LivematteError(f"{origin}: [{section}] {key} must be a string, got {value!r}")
            if isinstance(value, bool) and default is not None and not isinstance(default, bool):
                raise LivematteError(f"{origin}: [{section}] {key} must be {type(default).__name__}, got {value!r}")
            if default is not None and not isinstance(value, type(default)) and not (
                isinstance(default, float) and isinstance(value, int)
            ):
                raise LivematteError(
                    f"{origin}: [{section}] {key} must be {type(default).__name__}, got {value!r}"
                )
            setattr(target, key, float(value) if isinstance(default, float) else value)
    return cfg


def load_config(name_or_path: Optional[str]) -> Config:
    """Defaults, or a preset by name (``configs/NAME.toml``) or path."""
    if not name_or_path:
        return Config()
    path = preset_path(name_or_path)
    if not os.path.isfile(path):
        known = ", ".join(list_presets())
        raise LivematteError(f"{name_or_path}: no such config; presets are: {known}")
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as err:
        raise LivematteError(f"{path}: not valid TOML ({err})") from None
    except UnicodeDecodeError:
        raise LivematteError(f"{path}: not valid TOML (not UTF-8 text)") from None
    except OSError as err:
        raise LivematteError(f"{path}: cannot read ({err.strerror or err})") from None
    return from_dict(data, origin=path)
