"""The Python API: one frame at a time, with the caller's Config left as it was."""
import numpy as np
import pytest

from livematte import Livematte
from livematte.config import Config


def test_background_argument_does_not_change_the_callers_config():
    cfg = Config()
    cfg.model.device = "cpu"
    lm = Livematte(background="white", config=cfg)
    assert cfg.effect.background == "blur" and lm.config.effect.background == "white"
    empty = np.zeros((90, 160, 3), np.uint8)  # no person: the background is everything
    out = lm.process(empty)
    assert out.shape == (90, 160, 3) and out.dtype == np.uint8
    assert out.min() >= 250
    alpha = lm.matte(empty)
    assert alpha.shape == (90, 160) and alpha.dtype == np.float32 and alpha.max() < 0.1


def test_live_matter_picks_the_cpu_path_here_and_refuses_missing_cuda():
    from livematte.api import live_matter
    from livematte.config import Config
    from livematte.matter import Matter
    from livematte.types import LivematteError

    cfg = Config()
    assert isinstance(live_matter(cfg), Matter)  # auto without CUDA
    cfg.model.device = "cuda"
    with pytest.raises(LivematteError, match="CUDA is not available"):
        live_matter(cfg)
