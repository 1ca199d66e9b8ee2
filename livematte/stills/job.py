"""One still image through the image command's steps: matte, tools, effect, and its report.

:class:`StillJob` is built once (the model loads once) and runs image after image; each image is
independent (the matter and the effects are reset). Order of the steps::

    matte (whole image) -> crop (face / subject) -> size (fit / cover) -> place -> effect (+ shadow)

Default background (when neither ``--background`` nor the config names one): a transparent
cut-out for formats that hold alpha (PNG, WebP, TIFF), the config's ``flatten`` colour (white by
default) for the others (JPEG, BMP). An RGBA picture going to JPEG is flattened onto ``flatten``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

import cv2
import numpy as np

from ..config import Config
from ..effects.composite import Composite
from ..effects.registry import parse_effect
from ..effects.shadow import Shadow
from ..effects.stage import EffectStage
from ..engine import as_numpy, resolve_engine
from ..matter import Matter
from ..types import Frame, LivematteError
from . import geometry
from .options import StillOptions

ALPHA_FORMATS = ("png", "webp", "tif", "tiff")
MAX_EFFECTS = 16


def still_matter(cfg: Config) -> Matter:
    """The matter the image command uses for ``cfg`` (on the engine the config picks): the still
    path at full quality (:class:`~livematte.still_matter.StillMatter`)."""
    from ..still_matter import StillMatter

    return StillMatter(None, cfg, engine=resolve_engine(cfg.model.engine, cfg.model.device), output="engine")


def holds_alpha(fmt: str) -> bool:
    """Whether the format (``png``, ``.jpg``...) keeps transparency."""
    return fmt.lower().lstrip(".") in ALPHA_FORMATS


def background_for(cfg: Config, options: StillOptions, fmt: str) -> str:
    """The effect spec for one output format (see the module docstring)."""
    if options.background:
        return options.background
    if "effect.background" in getattr(cfg, "given", ()):
        return cfg.effect.background
    return "transparent" if holds_alpha(fmt) else cfg.effect.flatten


def subject_report(alpha: np.ndarray, kind: str) -> Dict:
    """The subject as the report states it: kind, confidence (the mean alpha over the pixels at or
    above 0.5: how solid the matte is; 0 with no subject), box ``[x0, y0, x1, y1]`` and its share of the image."""
    box = geometry.subject_box(alpha)
    if box is None:
        return {"kind": kind, "found": False, "confidence": 0.0, "box": None, "area": 0.0}
    sure = alpha >= geometry.SUBJECT_LEVEL
    return {"kind": kind, "found": True, "confidence": round(float(alpha[sure].mean()), 4), "box": list(box),
            "area": round(float(sure.mean()), 4)}


@dataclass
class StillResult:
    """``picture`` uint8 ``(H, W, 3|4)`` and the image's ``report`` (JSON-ready)."""

    picture: np.ndarray
    report: Dict = field(default_factory=dict)


class StillJob:
    """The image command's work for one config and one set of :class:`StillOptions`.

    Not thread-safe: one job per thread (the server keeps a pool of them).
    """

    def __init__(self, cfg: Config, options: Optional[StillOptions] = None, *, matter: Optional[Matter] = None):
        self.cfg = cfg
        self.options = options or StillOptions()
        self.matter = matter or still_matter(cfg)
        self._effects: Dict[Tuple[str, bool], EffectStage] = {}
        self._faces = None
        from ..models.registry import spec

        family = spec(cfg.model.name).family
        self.kind = "person" if family in ("selfie", "matting") else family
        self.cutter, self.last_cut = None, None  # --subject: person path, object model or backdrop keyer
        if family != "object" and not cfg.quality.raw:
            from .subject import SubjectCutter

            self.cutter = SubjectCutter(cfg.subject.choice, cfg.model.device)

    def effect(self, background: str, shadow: Optional[Shadow] = None) -> EffectStage:
        """The effect stage for ``background`` (with ``shadow`` as its post step), built once."""
        key = (background, shadow)
        if key not in self._effects:
            if len(self._effects) >= MAX_EFFECTS:  # a server sees many backgrounds: keep a few
                self._effects.clear()
            eff = parse_effect(background, blur_strength=self.cfg.effect.blur_strength)
            if shadow is not None and not eff.composites and eff.kind != "transparent":
                raise LivematteError(f"--shadow needs a colour, image, blur or transparent background, not {background!r}")
            post = [shadow] if shadow is not None and eff.composites else []
            self._effects[key] = EffectStage(eff, self.matter.engine, composite=Composite(post))
        return self._effects[key]

    def check(self, fmt: str) -> None:
        """Raise the one-line error a bad background or tool would raise, before any image is read."""
        self.effect(background_for(self.cfg, self.options, fmt), self.options.shadow)

    def faces(self, image: np.ndarray):
        """The faces in ``image`` (the bundled full-range detector, then the short-range one)."""
        from ..models.face import FaceDetector

        if self._faces is None:
            self._faces = (FaceDetector("full"), FaceDetector("short"))
        found = self._faces[0].detect(image)
        return found or self._faces[1].detect(image)

    def matte(self, image: np.ndarray, name: str = "") -> np.ndarray:
        """Alpha float32 ``(H, W)`` (numpy) of RGB uint8 ``image`` ``(H, W, 3)``, nothing carried over."""
        self.matter.reset()
        if self.cutter is None:
            return as_numpy(self.matter(Frame(image=image, name=name)))
        self.last_cut = None
        self.last_cut = self.cutter(image, lambda im: as_numpy(self.matter(Frame(image=im, name=name))))
        self.kind = self.last_cut.kind
        return self.last_cut.alpha

    def run(self, image: np.ndarray, fmt: str = "png", *, name: str = "",
            options: Optional[StillOptions] = None) -> StillResult:
        """RGB uint8 ``image`` ``(H, W, 3)`` -> the picture for an output of format ``fmt``, and its
        report; ``options`` replace the job's own for this image (the server's per-request query)."""
        opts = options or self.options
        t0 = time.perf_counter()
        alpha = self.matte(image, name)  # (H, W)
        if self.cfg.quality.fine_edges:
            from ..stages.fine_edges import fine_edges

            image, alpha = fine_edges(image, alpha)  # the band's alpha matted, its colours the foreground's
        t1 = time.perf_counter()
        report = {"size": {"input": [int(image.shape[1]), int(image.shape[0])]},
                  "subject": subject_report(alpha, self.kind), "model": self.cfg.model.name,
                  "engine": self.matter.engine.name}
        if self.last_cut is not None:
            report["subject"]["via"] = self.last_cut.model
            if self.last_cut.confidence is not None:
                report["subject"]["keyer_confidence"] = self.last_cut.confidence
        image, alpha = self._tools(image, alpha, report, opts)
        t2 = time.perf_counter()
        background = background_for(self.cfg, opts, fmt)
        stage = self.effect(background, opts.shadow)
        stage.reset()
        if opts.shadow is not None and stage.kind == "transparent":
            image, alpha = self.shadow_cutout(stage, image, alpha, opts.shadow)
        picture = stage.apply(image, alpha)
        if picture.ndim == 3 and picture.shape[2] == 4:
            # no colour where nothing shows (as other cut-out tools write it): smaller, faster files
            picture = cv2.bitwise_and(picture, picture, mask=np.ascontiguousarray(picture[..., 3]))
        t3 = time.perf_counter()
        report["background"] = background
        report["size"]["output"] = [int(picture.shape[1]), int(picture.shape[0])]
        report["timings_ms"] = {"matte": _ms(t1 - t0), "tools": _ms(t2 - t1), "effect": _ms(t3 - t2)}
        return StillResult(picture, report)

    def shadow_cutout(self, stage: EffectStage, image: np.ndarray, alpha: np.ndarray, shadow: Shadow):
        """The shadow laid under a transparent cut-out: alpha ``a + s (1 - a)``, the colour
        darkened to black where only the shadow is (RGB ``image * a / alpha'``)."""
        ops = stage.engine.ops
        with stage.engine.inference():
            a = ops.from_host(alpha)
            s = shadow.map(ops, a)  # (H, W)
            out = a + s * (1.0 - a)
            keep = a / ops.maximum(out, 1e-6)
            rgb = ops.to_u8(ops.to_float(ops.from_host(image)) * keep[..., None] + 0.5)  # (H, W, 3)
            return stage.engine.download(rgb), as_numpy(out)

    def _crop_box(self, image: np.ndarray, alpha: np.ndarray, crop, report: Dict) -> Tuple[int, int, int, int]:
        """The crop box of ``--crop face`` (the faces are added to ``report``) or ``--crop subject``."""
        from ..models.face import faces_box

        size = (image.shape[1], image.shape[0])
        if crop.kind == "face":
            faces = self.faces(image)
            report["faces"] = [{"box": [round(v, 1) for v in f.box], "score": round(f.score, 3)} for f in faces]
            box = faces_box(faces)
        else:
            box = geometry.subject_box(alpha)
        if box is None:
            raise LivematteError(f"--crop {crop.kind}: no {crop.kind} found in the image")
        if crop.kind == "face":
            return geometry.face_crop(box, crop.value, size)
        return geometry.subject_crop(box, crop.value, size)

    def _tools(self, image: np.ndarray, alpha: np.ndarray, report: Dict, opts: StillOptions):
        if opts.crop is not None:
            crop = self._crop_box(image, alpha, opts.crop, report)
            image, alpha = geometry.crop(image, alpha, crop)
            report["crop"] = list(crop)
        if opts.size is not None:
            image, alpha = geometry.fit_or_cover(image, alpha, opts.size)
        if opts.place is not None:
            image, alpha = geometry.place(image, alpha, opts.place)
        return image, alpha


def _ms(seconds: float) -> float:
    return round(1000.0 * seconds, 1)
