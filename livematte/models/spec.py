"""What each backend is and what suits it: :class:`BackendSpec`, one per backend.

The specs themselves are one table in :mod:`livematte.models.registry`; read them with
``registry.spec(name)`` instead of testing backend names.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple, Union

FAMILIES = ("selfie", "matting", "object")
ENGINES = ("numpy", "torch")
RESIZES = ("area", "bilinear", "lanczos")
OUTPUTS = ("model", "working", "frame")
ACTIVATIONS = ("none", "sigmoid")
Level = Union[float, Tuple[float, float, float]]  # one value for R, G and B, or one each

#: where rembg publishes its model files (release v0.0.0 holds them all)
REMBG_RELEASES = "https://github.com/danielgatis/rembg/releases"


@dataclass(frozen=True)
class OnnxFormat:
    """A salient-object model file in rembg's ONNX format, and how rembg reads it.

    Every rembg session feeds the file the same way: a Lanczos resize (Pillow's) to the input
    size, the 8-bit values divided by the resized picture's own maximum, ``(x - mean) / std`` per
    channel, NCHW float32 on the first input. It reads output 0, channel 0, applies
    ``activation``, normalises min-max to [0, 1], truncates ``* 255`` to 8 bits and Lanczos-resizes
    that mask to the picture's size.

    Attributes:
        filename: the name rembg saves it under (``u2net.onnx``) in its model folder.
        release: the asset's name on rembg's releases page (``BiRefNet-general-epoch_244.onnx``).
        activation: ``"none"`` or ``"sigmoid"`` (BiRefNet outputs logits).
    """

    filename: str
    release: str
    activation: str = "none"

    @property
    def url(self) -> str:
        """The file's download address (fetched by the user, never by livematte)."""
        return f"{REMBG_RELEASES}/download/v0.0.0/{self.release}"


@dataclass(frozen=True)
class BackendSpec:
    """The facts about one backend (no model is loaded to know them).

    Attributes:
        name: the name used with ``--model``.
        module: the module under ``livematte.models`` defining ``backend_info(name)`` and
            ``create(name, **options)`` (matting modules also ``network()`` and ``wrap(net, ...)``).
        description: one line for ``livematte models``.
        family: ``"selfie"`` (the MediaPipe selfie segmenters: a person probability on a fixed
            grid), ``"matting"`` (MODNet / RVM: a soft alpha matte at any size) or ``"object"``
            (salient-object models in rembg's ONNX format: a mask of any subject, see ``onnx``).
        input_size: the model's fixed input ``(h, w)``, or None when it takes any size
            (then ``size_rule`` says how the working size is chosen).
        mean, std: per-channel normalisation: the network sees ``(rgb / 255 - mean) / std``
            (one value for R, G and B, or a triple; see :attr:`input_range`; the object family
            divides by the picture's maximum instead of 255).
        resize: how the frame reaches the working size: ``"area"`` averaging, ``"bilinear"`` or
            ``"lanczos"`` (Pillow's, as rembg resizes).
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
        onnx: the object family's file format (:class:`OnnxFormat`), else None.
    """

    name: str
    module: str
    description: str
    family: str
    input_size: Optional[Tuple[int, int]]
    mean: Level
    std: Level
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
    onnx: Optional[OnnxFormat] = None

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
        if (self.family == "object") != (self.onnx is not None):
            bad.append("an onnx format is for the object family only, and it needs one")
        elif self.onnx is not None and self.onnx.activation not in ACTIVATIONS:
            bad.append(f"activation={self.onnx.activation!r}")
        if bad:
            raise ValueError(f"backend spec {self.name!r}: {', '.join(bad)}")

    @property
    def input_range(self) -> Tuple[float, float]:
        """The interval the network's input values lie in, e.g. ``(0.0, 1.0)`` or ``(-1.0, 1.0)``."""
        means, stds = _triple(self.mean), _triple(self.std)
        return (min((0.0 - m) / s for m, s in zip(means, stds)), max((1.0 - m) / s for m, s in zip(means, stds)))

    def summary(self) -> str:
        """One line of facts, e.g. ``selfie family, input 144x256, RGB in [0, 1] (area resize), ...`` (sizes h x w)."""
        size = f"input {self.input_size[0]}x{self.input_size[1]}" if self.input_size else f"any size ({self.size_rule})"
        lo, hi = self.input_range
        parts = [f"{self.family} family", size, f"RGB in [{lo:.3g}, {hi:.3g}] ({self.resize} resize)",
                 "soft alpha" if self.soft_alpha else "person probability"]
        if self.onnx is not None:
            parts.append(f"rembg file {self.onnx.filename}" + (", sigmoid" if self.onnx.activation == "sigmoid" else ""))
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


def _triple(level: Level) -> Tuple[float, float, float]:
    return tuple(level) if isinstance(level, tuple) else (level, level, level)
