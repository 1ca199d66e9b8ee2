"""One call that picks the frame path for ``config.model.device``: what api/pipeline/bench wire in."""
from __future__ import annotations

from typing import Optional, Tuple

from ..config import Config
from .device import resolve_device


def build_frame_path(config: Optional[Config] = None, *, reuse_output: bool = False) -> Tuple[object, object]:
    """``(matter, effect)`` for ``config``: the torch path on CUDA, the numpy/cv2 path otherwise.

    ``--device auto`` resolves to CUDA when present; ``cpu`` (and ``auto`` without CUDA) keeps
    ``livematte.matter.Matter`` and ``livematte.effects``, which are faster than torch on the CPU;
    ``cuda`` without CUDA raises LivematteError. On CUDA the matter returns its alpha as a device
    tensor and the effect reuses the matter's upload and returns numpy uint8 pictures
    (``reuse_output``: views of pinned buffers reused 8 frames later, for the file pipeline).
    Backends other than the selfie family keep their own path on every device.
    """
    from ..effects import make_effect
    from ..matter import _PARTNERS, build_matter

    cfg = config or Config()
    device = resolve_device(cfg.model.device)
    if device.type != "cuda" or cfg.model.name not in _PARTNERS:
        return build_matter(cfg), make_effect(cfg.effect.background, blur_strength=cfg.effect.blur_strength)
    from .effects import make_torch_effect
    from .matter import TorchMatter

    matter = TorchMatter(cfg, device=device, output="tensor")
    effect = make_torch_effect(cfg.effect.background, blur_strength=cfg.effect.blur_strength,
                               transfer=matter.transfer, reuse_output=reuse_output)
    return matter, effect
