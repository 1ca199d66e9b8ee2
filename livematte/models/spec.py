"""What each backend is and what suits it: :class:`BackendSpec`, one per backend.

The specs themselves are one table in :mod:`livematte.models.registry`; read them with
``registry.spec(name)`` instead of testing backend names.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

FAMILIES = ("selfie", "matting")
ENGINES = ("numpy", "torch")
RESIZES = ("area", "bilinear")
OUTPUTS = ("model", "working", "frame")


@dataclass(frozen=True)
class BackendSpec:
    """The facts about one backend (no model is loaded to know them).

    Attributes:
        name: the name used with ``--model``.
        module: the module under ``livematte.models`` defining ``backend_info(name)`` and
            ``create(name, **options)`` (matting modules also ``network()`` and ``wrap(net, ...)``).
        description: one line for ``livematte models``.
        family: ``"selfie"`` (the MediaPipe selfie segmenters: a person probability on a fixed
            grid) or ``"matting"`` (MODNet / RVM: a soft alpha matte at any size).
        input_size: the model's fixed input ``(h, w)``, or None when it takes any size
            (then ``size_rule`` says how the working size is chosen).
        mean, std: per-channel normalisation: the network sees ``(rgb / 255 - mean) / std``
            (same for R, G and B; see :attr:`input_range`).
        resize: how the frame reaches the working size: ``"area"`` averaging or ``"bilinear"``.
        size_rule: one line: how the working size is chosen.
        output: the grid of ``predict``'s result: ``"model"`` (``input_size``), ``"working"``
            (the size chosen by ``size_rule``) or ``"frame"`` (the frame's own size).
        recurrent: whether the backend keeps state across frames (cleared by ``reset()``).
        soft_alpha: True: the output is a soft alpha matte whose edges the network refines
            itself; False: a person probability to be shaped and refined downstream.
        partner: the backend averaged with this one on the full frame (``quality.ensemble``),
            or None; the relation is symmetric.
        crop_pass: whether the subject-crop second pass, guided refinement, attach and the pose
            pass suit it (they are tuned on person probabilities).
        needs_weights: whether it needs a user-supplied checkpoint (see ``weights/README.md``).
        engines: the frame engines that can run it (``"numpy"``: the OpenCV frame path;
            ``"torch"``: the torch frame path).
        runtimes: the values ``model.runtime`` takes besides ``"auto"``.
        model_input: whether it takes an area-averaged uint8 input already at ``input_size``
            through ``predict_model_input(x)`` (the frame path then prepares that input).
    """

    name: str
    module: str
    description: str
    family: str
    input_size: Optional[Tuple[int, int]]
    mean: float
    std: float
    resize: str
    size_rule: str
    output: str
    recurrent: bool
    soft_alpha: bool
    partner: Optional[str]
    crop_pass: bool
    needs_weights: bool
    engines: Tuple[str, ...]
    runtimes: Tuple[str, ...]
    model_input: bool

    def __post_init__(self):
        bad = [f"{field}={value!r}" for field, value, allowed in (
            ("family", self.family, FAMILIES), ("resize", self.resize, RESIZES), ("output", self.output, OUTPUTS))
            if value not in allowed]
        bad += [f"engine {e!r}" for e in self.engines if e not in ENGINES]
        if self.model_input and self.input_size is None:
            bad.append("model_input without input_size")
        if self.output == "model" and self.input_size is None:
            bad.append("output at model size without input_size")
        if self.partner == self.name:
            bad.append("its own partner")
        if bad:
            raise ValueError(f"backend spec {self.name!r}: {', '.join(bad)}")

    @property
    def input_range(self) -> Tuple[float, float]:
        """The interval the network's input values lie in, e.g. ``(0.0, 1.0)`` or ``(-1.0, 1.0)``."""
        return (0.0 - self.mean) / self.std, (1.0 - self.mean) / self.std

    def summary(self) -> str:
        """One line of facts, e.g. ``selfie family, input 144x256, RGB in [0, 1] (area resize), ...`` (sizes h x w)."""
        size = f"input {self.input_size[0]}x{self.input_size[1]}" if self.input_size else f"any size ({self.size_rule})"
        lo, hi = self.input_range
        parts = [f"{self.family} family", size, f"RGB in [{lo:g}, {hi:g}] ({self.resize} resize)",
                 "soft alpha" if self.soft_alpha else "person probability"]
        if self.recurrent:
            parts.append("recurrent")
        if self.partner:
            parts.append(f"partner {self.partner}")
        if self.crop_pass:
            parts.append("crop pass")
        if self.needs_weights:
            parts.append("user checkpoint")
        parts.append("engines " + "/".join(self.engines))
        return ", ".join(parts)
