"""One call that picks the frame path for ``config.model.device``: what api/pipeline/bench wire in."""
from __future__ import annotations

from typing import Optional, Tuple

import torch

from ..config import Config
from ..types import LivematteError
from .device import resolve_device
from .matting import MATTING_MODELS


def build_device_matter(config: Config, device: torch.device, *, output: str, segmenter=None):
    """The torch matter for ``config.model.name`` on ``device``, or None for a backend it does not run.

    ``TorchMatter`` for the selfie family, ``TorchMattingMatter`` for ``modnet`` / ``rvm``
    (``segmenter``: a backend already built, for instance with random weights).
    """
    from ..matter import _PARTNERS

    name = config.model.name
    if name in MATTING_MODELS:
        from .matting import TorchMattingMatter

        return TorchMattingMatter(config, device=device, output=output, segmenter=segmenter)
    if name in _PARTNERS and segmenter is None:
        from .matter import TorchMatter

        return TorchMatter(config, device=device, output=output)
    return None


def build_frame_path(config: Optional[Config] = None, *, reuse_output: bool = False,
                     segmenter=None) -> Tuple[object, object]:
    """``(matter, effect)`` for ``config``: the torch path on CUDA, the numpy/cv2 path otherwise.

    ``--device auto`` resolves to CUDA when present; ``cpu`` (and ``auto`` without CUDA) keeps
    ``livematte.matter.Matter`` and ``livematte.effects``, which are faster than torch on the CPU;
    ``cuda`` without CUDA raises LivematteError. On CUDA the selfie models run in ``TorchMatter`` and
    ``modnet`` / ``rvm`` in ``TorchMattingMatter``; the matter returns its alpha as a device tensor
    and the effect reuses the matter's upload and returns numpy uint8 pictures (``reuse_output``:
    views of pinned buffers reused 8 frames later, for the file pipeline).

    ``segmenter``: a ``modnet`` / ``rvm`` backend already built (``bench --random-weights``), used
    instead of loading ``config.model``'s checkpoint; it must live on the resolved device.
    """
    from ..effects import make_effect
    from ..matter import Matter, build_matter

    cfg = config or Config()
    if segmenter is not None and cfg.model.name not in MATTING_MODELS:
        raise LivematteError(f"a prebuilt backend is for {' and '.join(MATTING_MODELS)}, not {cfg.model.name!r}")
    device = resolve_device(cfg.model.device)
    matter = build_device_matter(cfg, device, output="tensor", segmenter=segmenter) if device.type == "cuda" else None
    if matter is None:
        matter = Matter(segmenter, cfg) if segmenter is not None else build_matter(cfg)
        return matter, make_effect(cfg.effect.background, blur_strength=cfg.effect.blur_strength)
    from .effects import make_torch_effect

    effect = make_torch_effect(cfg.effect.background, blur_strength=cfg.effect.blur_strength,
                               transfer=matter.transfer, reuse_output=reuse_output)
    return matter, effect
