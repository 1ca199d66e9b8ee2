"""Every option in one place, as dataclasses, plus TOML presets (``livematte/presets/NAME.toml``).

The presets are package data, read with :mod:`importlib.resources`, so they work from an installed
wheel whatever the current folder.

A preset file has one table per section (``[model]``, ``[mask]``, ``[quality]``, ``[effect]``,
``[output]``) whose keys are the fields below. Command-line flags override the preset.
"""
from __future__ import annotations

import copy
import dataclasses
import os
import sys
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Dict, Optional

from .config_check import BOOL_NAMES, CHOICES, check_config, coerce
from .profiles import resolve_profile
from .stages.mask import MaskOptions
from .types import LivematteError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PRESETS_PACKAGE = "livematte.presets"  # the shipped ``NAME.toml`` files
ENGINES = ("auto", "numpy", "torch")


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

    def validate(self) -> "ModelConfig":
        """Raise LivematteError on an unknown ``engine``; returns self."""
        if self.engine not in ENGINES:
            raise LivematteError(f"engine must be auto, numpy or torch, got {self.engine!r}")
        return self


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
        raw: the backend's own output, upsampled bilinearly to the frame where it is smaller, and
            nothing else (no partner model, crop, refinement, smoothing or mask options): ``--raw``,
            for comparing backends and debugging.
        fine_edges: stills: alpha matting on the matte's edge band and the foreground's own
            colours there (``--fine-edges``, :mod:`livematte.stages.fine_edges`; pymatting).
        pose: the crop pass also runs the person mask of MediaPipe's full-body pose model (bundled
            with mediapipe) on a square around the person and averages it with the selfie model's
            (the larger of the two where the pose model is sure): limbs in any posture come back.
            Only while the person's blob stops above the frame's bottom edge (a whole body; the
            pose model is poor on head-and-shoulders shots, which keep the selfie model alone);
            one more model run (~9 ms on one core) then. The torch path runs a port of it rebuilt
            from the same file.
        pose_margin: extra context around the crop for the pose model's square, as a fraction of
            the crop's larger side (the pose model was trained on loosely framed whole bodies).
        pose_every: the pose model runs on at least every ``pose_every``th frame of a whole body
            (1: every frame); on the frames between it rests only while the body is still (at most
            1% of the thumbnail's pixels in its square changed since its run), and its last
            probability stands in (:class:`~livematte.subject.tracker.PoseSchedule`). A body that
            moves has it run on every frame.
        presence: the bundled person detector decides whether anyone is in the picture; with
            nobody there the matte fades to empty within a few frames (docs/quality.md, issue #13
            revisions). On by default (``--no-presence`` turns it off): files decide over a window
            of later frames (``presence_window``), the live path with ``presence_confirm``.
        presence_face: with ``presence``, the bundled short-range face detector runs beside the person
            detector on the whole frame: a sure face supported by the segmenter counts as a person
            (the close-up selfie with a tilted head that the person detector misses).
        presence_confirm: with ``presence``, the live path's causal gate (``cam``, frame-by-frame
            API calls) starts a person only on two detector looks that agree (the same body in two
            frames, or in the whole frame and the square around the blobs, both scoring >= 0.7; the
            detector then looks at both views while nobody is present), a shot's first look
            provisionally (docs/quality.md, issue #13 presence revision 3). Keeps DAVIS's dog out
            (a jumping detection) but starts riders whose detections wander late; on by default.
            Files with ``presence_window`` always ask for two looks.
        presence_window: with ``presence``, files (``video``, ``matte``, ``eval``, the file API) decide
            whether anyone is there over this many later frames (0: the live path's causal gate):
            a start needs two agreeing looks >= 0.78, and a person it starts is present from up to
            this many frames before it (a rider's first frames, which look like an animal's, are
            kept once later frames confirm them). Each output waits that many frames (at most
            512 MiB of frames and mattes: fewer frames above 1080p); ``cam`` has no future and
            keeps the causal gate (:class:`~livematte.subject.presence.PresenceWindow`; issue #13
            presence revision 4).
        solid: while a crop tracks a person, alpha inside their silhouette is raised to 1 (the
            model's unsure middle of a body no longer lets the background through; issue #13 revision).
        profile: ``fast``, ``balanced`` or ``best`` (``--quality``; :mod:`livematte.profiles`): the
            values of the other keys that a preset or a flag did not set.
        model_every: while a crop tracks the person and the picture is still (mean brightness
            change below ``subject.schedule.STILL_LEVELS`` since the models last ran), the models
            run on every Nth frame only; the frames between reuse their outputs (guided refinement
            and smoothing still follow each new frame; with ``refine = "none"`` the frame shows the
            last matte again, which is what upsampling the same outputs would give before smoothing).
            1: every frame; 2 (balanced, the default, and fast): every second still frame; ``best``: 1.
        lookahead: frames of look-ahead for two-sided temporal smoothing (files only; 0: off;
            :mod:`livematte.stages.lookahead`): each output waits for that many later frames.
        flow_width: with ``lookahead``, the width of the small grey copies the look-ahead's optical
            flows are computed on (:data:`livematte.stages.lookahead.FLOW_WIDTH` 320; finer follows
            limbs better and costs more on a close-up, whose box is most of the frame).
        tile_views: each tile of the crop is also segmented as ``n`` x ``n`` overlapping sub-tiles
            (each seen at a finer scale) whose probabilities are averaged into the tile's
            (:func:`livematte.stages.tiles.merge_views`); 1: off. ``n * n`` more model runs a tile.
        crop_extend: where the crop pass's person reaches a tile's side inside the frame (a limb
            the full-frame pass missed, cut off by the crop), the crop grown on that side is
            segmented too and its tiles pasted under the crop's own
            (:func:`livematte.subject.geometry.crop_extension`): one more crop pass on those frames.
            ``body`` (the default): on a whole body only (the pose model's frames: a raised leg, an
            arm; a close-up's shoulders reach the crop's sides on most frames, and gain nothing);
            ``all``: on every crop (``true`` in a file means ``all``); ``off`` (``false``): never.
        search_every: while a crop tracks a person, nothing outside the person's box changes
            (a still camera and background: :mod:`livematte.subject.schedule`) and the crop pass
            sees the person where the last search did, the full-frame search pass runs only every Nth frame
            and its probability is reused in between (one model run less on the other frames);
            1: every frame. Any change outside the person (someone entering, a camera move, a scene
            cut) runs it again on the next frame (issue #17).
        idle_every: with nobody in view for a few frames (no person blob, or the presence gate says
            nobody) the matter idles: the search pass runs every Nth frame only, and the matte is
            empty with no refinement or smoothing; a person found ends it on that frame. 1: off.
        live_budget: ``cam`` keeps the camera's frame rate on a short machine: while its loop
            falls behind, each frame leaves work out (the pose model every 2nd-3rd frame, the search
            pass every 2nd, one crop tile instead of two: :data:`~livematte.subject.schedule.SHEDS`)
            and gets it back when there is room (:mod:`livematte.live_budget`). Files never shed.
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
    raw: bool = False
    fine_edges: bool = False
    roi_confirm: int = 2
    temporal_sure: float = 0.1
    roi_outside: str = "drop"
    pose: bool = True
    pose_margin: float = 0.1
    pose_every: int = 3
    presence: bool = True
    presence_face: bool = True
    presence_confirm: bool = True
    presence_window: int = 32
    solid: bool = True
    profile: str = "balanced"
    model_every: int = 2
    lookahead: int = 0
    flow_width: int = 320
    tile_views: int = 1
    crop_extend: str = "body"
    search_every: int = 8
    idle_every: int = 2
    live_budget: bool = True

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
        if not 1 <= int(self.pose_every) <= 8:
            raise LivematteError(f"pose_every must be within 1..8, got {self.pose_every}")
        if self.roi_outside not in ("keep", "drop"):
            raise LivematteError(f"roi_outside must be keep or drop, got {self.roi_outside!r}")
        if not 0.0 <= self.temporal_sure < 0.5:
            raise LivematteError(f"temporal_sure must be in [0, 0.5), got {self.temporal_sure}")
        if not 1 <= int(self.roi_confirm) <= 10:
            raise LivematteError(f"roi_confirm must be within 1..10, got {self.roi_confirm}")
        if not 1 <= int(self.model_every) <= 8 or not 0 <= int(self.lookahead) <= 64:
            raise LivematteError(f"model_every must be within 1..8 and lookahead within 0..64, "
                                 f"got {self.model_every}, {self.lookahead}")
        if not 64 <= int(self.flow_width) <= 1920 or not 1 <= int(self.tile_views) <= 4:
            raise LivematteError(f"flow_width must be within 64..1920 and tile_views within 1..4, "
                                 f"got {self.flow_width}, {self.tile_views}")
        key = ("quality", "crop_extend")
        if isinstance(self.crop_extend, bool):  # true / false set through the API, as a file's
            self.crop_extend = BOOL_NAMES[key][0 if self.crop_extend else 1]
        if self.crop_extend not in CHOICES[key]:
            raise LivematteError(f"crop_extend must be one of {', '.join(CHOICES[key])}, got {self.crop_extend!r}")
        if not 0 <= int(self.presence_window) <= 128:
            raise LivematteError(f"presence_window must be within 0..128, got {self.presence_window}")
        if not 1 <= int(self.search_every) <= 30:
            raise LivematteError(f"search_every must be within 1..30, got {self.search_every}")
        if not 1 <= int(self.idle_every) <= 30:
            raise LivematteError(f"idle_every must be within 1..30, got {self.idle_every}")
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
        preset: x264 speed preset of files (``video``, ``batch``, the API).
        live_preset: x264 speed preset of ``cam``'s recordings and streams, encoded with
            ``tune=zerolatency`` on one thread of their own beside the matting (a recording falls
            behind before the call does; :mod:`livematte.sinks.recorder`).
    """

    crf: int = 20
    preset: str = "veryfast"
    live_preset: str = "superfast"


@dataclass
class SubjectConfig:
    """Which subject the matte keeps.

    Attributes:
        choice: for stills ``auto`` (a person when the selfie model finds one, else the salient
            object: an installed object model, else the backdrop keyer), ``person`` or ``object``
            (:mod:`livematte.stills.subject`).
    """

    choice: str = "auto"


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    mask: MaskOptions = field(default_factory=MaskOptions)
    quality: QualityConfig = field(default_factory=QualityConfig)
    effect: EffectConfig = field(default_factory=EffectConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    subject: SubjectConfig = field(default_factory=SubjectConfig)

    def __post_init__(self) -> None:
        #: ``"section.key"`` of every value a preset, a file or a flag set (not a field: a
        #: command can tell a default from a choice, e.g. the image command's background)
        self.given: set = set()
        #: the values :func:`livematte.profiles.resolve_profile` set last (key -> value)
        self.profiled: dict = {}

    def override(self, section: str, **values: Any) -> "Config":
        """Set fields of one section, ignoring values that are None (flags not given)."""
        target = getattr(self, section)
        for key, value in values.items():
            if value is not None:
                setattr(target, key, value)
                self.given.add(f"{section}.{key}")
        return self


def _is_path(name_or_path: str) -> bool:
    """A file path (has a folder separator or ends in ``.toml``) rather than a preset name."""
    seps = [os.path.sep] + ([os.path.altsep] if os.path.altsep else [])
    return any(sep in name_or_path for sep in seps) or name_or_path.endswith(".toml")


def list_presets() -> list:
    """Names of the shipped presets (``meeting-blur``, ...), sorted."""
    folder = resources.files(PRESETS_PACKAGE)
    return sorted(f.name[:-5] for f in folder.iterdir() if f.name.endswith(".toml") and f.is_file())


def preset_text(name: str) -> str:
    """The TOML text of the shipped preset ``name``; LivematteError (listing the presets) when unknown."""
    resource = resources.files(PRESETS_PACKAGE).joinpath(name + ".toml")
    if not resource.is_file():
        raise LivematteError(f"{name}: no such config; presets are: {', '.join(list_presets())}")
    return resource.read_text(encoding="utf-8")


def from_dict(data: Dict[str, Any], origin: str = "config") -> Config:
    """Build a Config from nested tables, rejecting unknown sections, keys, wrong types and bad engines."""
    cfg = Config()
    for section, values in data.items():
        if section not in {f.name for f in dataclasses.fields(Config)} or not isinstance(values, dict):
            names = ", ".join(f.name for f in dataclasses.fields(Config))
            raise LivematteError(f"{origin}: unknown section [{section}]; sections are: {names}")
        target = getattr(cfg, section)
        fields = {f.name: f for f in dataclasses.fields(target)}
        for key, value in values.items():
            if key not in fields:
                raise LivematteError(f"{origin}: unknown key {key!r} in [{section}]; keys are: {', '.join(fields)}")
            setattr(target, key, coerce(section, type(target), key, value, origin))  # types from the annotations
            cfg.given.add(f"{section}.{key}")
    check_config(cfg, origin)  # finite, in range, known names
    return resolve_profile(cfg)


def load_config(name_or_path: Optional[str]) -> Config:
    """Defaults, or a shipped preset by name (``meeting-blur``), or a TOML file by path.

    Raises LivematteError (one line) on an unknown name (listing the presets), a missing or
    unreadable file, invalid TOML, or bad sections, keys and values.
    """
    if not name_or_path:
        return Config()
    if not _is_path(name_or_path):
        origin = f"preset {name_or_path}"
        text = preset_text(name_or_path)
    else:
        origin = name_or_path
        if not os.path.isfile(name_or_path):
            raise LivematteError(f"{name_or_path}: no such config file; presets are: {', '.join(list_presets())}")
        try:
            with open(name_or_path, "rb") as fh:
                text = fh.read().decode("utf-8")
        except UnicodeDecodeError:
            raise LivematteError(f"{name_or_path}: not valid TOML (not UTF-8 text)") from None
        except OSError as err:
            raise LivematteError(f"{name_or_path}: cannot read ({err.strerror or err})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise LivematteError(f"{origin}: not valid TOML ({err})") from None
    return from_dict(data, origin=origin)


def config_copy(config, background: Optional[str] = None) -> Config:
    """A Config of our own from a Config, a preset name, a TOML path or None (the defaults): the
    caller's object is copied, never changed; ``background`` overrides the effect when given."""
    cfg = load_config(config) if isinstance(config, (str, type(None))) else copy.deepcopy(config)
    if background is not None:
        cfg.effect.background = background
    return resolve_profile(cfg)
