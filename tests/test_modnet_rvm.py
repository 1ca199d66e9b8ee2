"""MODNet and RVM backends: strict loading of the official checkpoint layout, outputs, state, errors.

The fixtures ``tests/fixtures/{modnet,rvm}_keys.json`` list every tensor name, shape and dtype
of the official checkpoints. They were written from the official implementations themselves:
``nn.DataParallel(MODNet(backbone_pretrained=False)).state_dict()`` (ZHKKKe/MODNet @ 28165a4,
``src/models/modnet.py``) and ``MattingNetwork('mobilenetv3').state_dict()``
(PeterL1n/RobustVideoMatting @ 53d74c6, ``model/``, run with the torchvision 0.28.0 wheel).

Equality with the official implementations was checked outside the repository (the official
code is not copied here): both official models were built in /tmp, their BatchNorm statistics
and conv biases randomised (RVM's alpha projection rescaled so alpha is not clamped), their
state dicts saved with ``torch.save`` and loaded through ``livematte.models.{modnet,rvm}.create``.
On the same inputs, in float32 on the CPU (torch 2.13), the maximum absolute differences were:
RVM alpha <= 1.7e-6 and foreground <= 1.2e-7 over 4 consecutive frames with the recurrent state
carried (1280x720 at ratio 0.375, 1920x1080 at 0.25, 320x240 at 1, 641x481 at 0.5), and the same
through ``predict()`` (bit-identical before the backend switched to channels-last memory);
MODNet mattes 0.0 (bit-identical) through MODNet's own image-inference preprocessing
(normalise, area resize to ref_size 512, multiples of 32) at 1280x720, 640x480, 400x300 and
1920x1080. A deliberate 1e-3 bias change in our MODNet showed up as a 5e-4 difference, so the
comparison was live.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from livematte.models import modnet, registry, rvm
from livematte.models.checkpoints import weights_dir
from livematte.models.random_weights import random_network, smooth_picture
from livematte.types import LivematteError

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_tensors(name):
    with open(FIXTURES / f"{name}_keys.json") as f:
        return [(k, tuple(shape), dtype) for k, shape, dtype in json.load(f)["tensors"]]


@functools.lru_cache(maxsize=None)
def _random_state(name, seed):
    prefix = "module." if name == "modnet" else ""
    return {prefix + k: v.clone() for k, v in random_network(name, seed).state_dict().items()}


def random_state(name, seed=0):
    """A state dict with the official names and shapes and plausible random values (RVM's alpha
    head calibrated so random-weight alpha spreads over (0, 1): see livematte.models.random_weights).
    Each call gets its own tensors; the network is built once per name and seed (seconds on the CPU)."""
    return {k: v.clone() for k, v in _random_state(name, seed).items()}


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    root = tmp_path_factory.mktemp("ckpt")
    paths = {"modnet": root / "modnet_photographic_portrait_matting.ckpt", "rvm": root / "rvm_mobilenetv3.pth"}
    for name, path in paths.items():
        torch.save(random_state(name), path)
    return paths


frame = smooth_picture  # a smooth random RGB uint8 picture (H, W, 3)


def one_line(err):
    text = str(err.value)
    assert "\n" not in text and text
    return text


# ----------------------------------------------------------------------- layout and loading


@pytest.mark.parametrize("name,build,prefix", [("modnet", modnet.MODNet, "module."), ("rvm", rvm.MattingNetwork, "")])
def test_model_has_exactly_the_official_tensors(name, build, prefix):
    ours = {prefix + k: (tuple(v.shape), str(v.dtype).replace("torch.", "")) for k, v in build().state_dict().items()}
    official = {k: (shape, dtype) for k, shape, dtype in fixture_tensors(name)}
    assert sorted(set(official) - set(ours)) == [] and sorted(set(ours) - set(official)) == []
    assert ours == official


def test_modnet_loads_strictly_and_mattes(ckpts):
    seg = registry.create("modnet", weights=ckpts["modnet"], device="cpu", ref_size=128)
    loaded = seg.net.state_dict()
    state = torch.load(ckpts["modnet"])
    assert torch.equal(loaded["hr_branch.conv_hr.0.layers.0.weight"], state["module.hr_branch.conv_hr.0.layers.0.weight"])
    # the backbone is shared with the low-resolution branch, as in the official model
    assert seg.net.lr_branch.backbone is seg.net.backbone
    alpha = seg.predict(frame(100, 170))
    assert alpha.dtype == np.float32 and alpha.shape == (96, 160)  # sides floored to multiples of 32
    assert 0.0 <= alpha.min() and alpha.max() <= 1.0 and alpha.std() > 1e-3
    x = torch.from_numpy(frame(100, 170)).permute(2, 0, 1)[None].float() / 255
    out = seg.forward_tensor(x.repeat(2, 1, 1, 1))
    assert out.shape == (2, 1, 100, 170) and 0.0 <= out.min() and out.max() <= 1.0
    same = seg.forward_tensor(x[:, :, :96, :160])  # already at the working size: no resize
    assert torch.equal(same[0, 0], torch.from_numpy(seg.predict(frame(100, 170)[:96, :160])))
    seg.reset()  # stateless: a no-op
    assert np.array_equal(seg.predict(frame(100, 170)), alpha)


def test_modnet_working_size_follows_its_reference_inference():
    assert modnet.input_size(720, 1280) == (512, 896)
    assert modnet.input_size(1280, 720) == (896, 512)
    assert modnet.input_size(600, 500) == (576, 480)  # between ref and max: kept, floored to 32
    with pytest.raises(LivematteError):
        modnet.input_size(20, 20, ref_size=16)


def test_rvm_loads_strictly_and_mattes_at_full_resolution(ckpts):
    seg = registry.create("rvm", weights=ckpts["rvm"], device="cpu", downsample_ratio=0.5)
    assert torch.equal(seg.net.state_dict()["refiner.box_filter.weight"], torch.load(ckpts["rvm"])["refiner.box_filter.weight"])
    alpha = seg.predict(frame(90, 160))
    assert alpha.dtype == np.float32 and alpha.shape == (90, 160)
    assert 0.0 <= alpha.min() and alpha.max() <= 1.0 and alpha.std() > 1e-3
    pha, fgr = seg.step(torch.from_numpy(frame(90, 160)).permute(2, 0, 1)[None].float() / 255, foreground=True)
    assert pha.shape == (1, 1, 90, 160) and fgr.shape == (1, 3, 90, 160)
    assert [tuple(r.shape) for r in seg.rec] == [(1, 16, 23, 40), (1, 20, 12, 20), (1, 40, 6, 10), (1, 64, 3, 5)]


# ----------------------------------------------------------------------- recurrent state


def test_rvm_state_carries_over_and_reset_clears_it(ckpts):
    seg = rvm.create("rvm", weights=ckpts["rvm"], device="cpu", downsample_ratio=0.5)
    first = frame(64, 96, 1)
    second = np.clip(first.astype(int) + np.random.default_rng(2).integers(-20, 21, first.shape), 0, 255).astype(np.uint8)
    assert not seg.has_state
    seg.predict(first)
    assert seg.has_state
    with_state = seg.predict(second)
    seg.reset()
    assert not seg.has_state and seg.rec == [None] * 4
    without_state = seg.predict(second)
    assert np.abs(with_state - without_state).max() > 1e-3
    fresh = rvm.create("rvm", weights=ckpts["rvm"], device="cpu", downsample_ratio=0.5).predict(second)
    assert np.array_equal(without_state, fresh)


def test_rvm_scene_cut_and_size_change_clear_the_state(ckpts):
    img = frame(64, 96, 3)
    cut = 255 - img  # a different picture: mean RGB thumbnail difference about 0.5, threshold 0.12
    fresh = rvm.create("rvm", weights=ckpts["rvm"], device="cpu").predict(cut)
    seg = rvm.create("rvm", weights=ckpts["rvm"], device="cpu")
    seg.predict(img)
    assert np.array_equal(seg.predict(cut), fresh)
    keep = rvm.create("rvm", weights=ckpts["rvm"], device="cpu", scene_cut=None)
    keep.predict(img)
    assert np.abs(keep.predict(cut) - fresh).max() > 1e-3
    # a new frame size starts over instead of failing on mismatched state
    assert keep.predict(frame(48, 80)).shape == (48, 80)
    assert [tuple(r.shape[2:]) for r in keep.rec][0] == (24, 40)


# ----------------------------------------------------------------------- downsample ratio


def test_rvm_downsample_ratio_follows_the_guideline_and_can_be_overridden(ckpts):
    table = {(512, 512): 1.0, (720, 1280): 0.375, (1080, 1920): 0.25, (2160, 3840): 0.125}
    assert {k: rvm.auto_downsample_ratio(*k) for k in table} == table
    full = {(720, 1280): 0.6, (1080, 1920): 0.4, (2160, 3840): 0.2}
    assert {k: rvm.auto_downsample_ratio(*k, full_body=True) for k in full} == full
    for h, w in [(600, 800), (1440, 2560), (1280, 720)]:  # the shrunk long side lands in 256..512
        assert 256 <= max(h, w) * rvm.auto_downsample_ratio(h, w) <= 512
    auto = rvm.create("rvm", weights=ckpts["rvm"], device="cpu")
    assert auto.ratio_for(720, 1280) == 0.375 and auto.ratio_for(240, 320) == 1.0
    fixed = rvm.create("rvm", weights=ckpts["rvm"], device="cpu", downsample_ratio=0.3)
    assert fixed.ratio_for(720, 1280) == 0.3
    for bad in (0, 1.5, -0.25):
        with pytest.raises(LivematteError, match="downsample_ratio"):
            rvm.create("rvm", weights=ckpts["rvm"], device="cpu", downsample_ratio=bad)
    with pytest.raises(LivematteError, match="below 16 px"):
        rvm.create("rvm", weights=ckpts["rvm"], device="cpu", downsample_ratio=0.1).predict(frame(64, 96))


# ----------------------------------------------------------------------- errors


@pytest.mark.parametrize("name,key", [
    ("modnet", "module.f_branch.conv_f.1.layers.0.weight"),
    ("rvm", "backbone.features.16.1.running_var"),
])
def test_missing_or_misshapen_tensor_is_named_on_one_line(tmp_path, name, key):
    state = random_state(name)
    del state[key]
    path = tmp_path / "missing.pth"
    torch.save(state, path)
    with pytest.raises(LivematteError) as err:
        registry.create(name, weights=path, device="cpu")
    text = one_line(err)
    assert str(path) in text and f"missing tensor {key} " in text

    state = random_state(name)
    state[key] = torch.zeros(3, 3)
    torch.save(state, path)
    with pytest.raises(LivematteError) as err:
        registry.create(name, weights=path, device="cpu")
    text = one_line(err)
    assert f"tensor {key} has shape [3, 3], expected [" in text

    state = random_state(name)
    state[key.replace("weight", "extra").replace("running_var", "extra")] = torch.zeros(1)
    torch.save(state, path)
    with pytest.raises(LivematteError, match="unexpected tensor"):
        registry.create(name, weights=path, device="cpu")


def test_not_a_checkpoint_and_unknown_options(tmp_path, ckpts):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"this is not a checkpoint")
    with pytest.raises(LivematteError) as err:
        registry.create("rvm", weights=junk)
    assert str(junk) in one_line(err) and "not a readable PyTorch checkpoint" in str(err.value)
    with pytest.raises(LivematteError, match="unknown option"):
        registry.create("modnet", weights=ckpts["modnet"], colour="red")
    with pytest.raises(LivematteError, match="torch only"):
        registry.create("rvm", weights=ckpts["rvm"], runtime="litert")
    with pytest.raises(LivematteError, match="variant"):
        registry.create("modnet", variant="studio")


@pytest.mark.parametrize("name,filename", [("modnet", "modnet_photographic_portrait_matting.ckpt"),
                                           ("rvm", "rvm_mobilenetv3.pth")])
def test_absent_checkpoint_is_unavailable_and_says_where_to_put_it(tmp_path, monkeypatch, capsys, name, filename):
    monkeypatch.setenv("LIVEMATTE_WEIGHTS", str(tmp_path))
    assert weights_dir() == tmp_path
    info = registry.info(name)
    assert not info.available and info.reason == f"put {filename} in {tmp_path} (see weights/README.md) or pass --weights PATH"
    with pytest.raises(LivematteError) as err:
        registry.create(name, device="cpu")
    assert f"put {filename} in {tmp_path}" in one_line(err)
    with pytest.raises(LivematteError) as err:
        registry.create(name, weights=tmp_path / "nowhere.pth")
    assert str(tmp_path / "nowhere.pth") in one_line(err)

    from livematte import cli

    assert cli.main(["models"]) == 0
    listing = capsys.readouterr().out
    assert f"unavailable: put {filename} in {tmp_path}" in listing
    image = tmp_path / "in.png"
    import cv2

    cv2.imwrite(str(image), frame(64, 64))
    assert cli.main(["image", str(image), "-o", str(tmp_path / "out.png"), "--model", name]) == 2
    err_lines = capsys.readouterr().err.strip().splitlines()
    assert len(err_lines) == 1 and f"put {filename} in {tmp_path}" in err_lines[0]


def test_checkpoint_found_in_the_weights_folder(tmp_path, monkeypatch, ckpts):
    monkeypatch.setenv("LIVEMATTE_WEIGHTS", str(tmp_path))
    (tmp_path / "modnet_webcam_portrait_matting.ckpt").write_bytes(ckpts["modnet"].read_bytes())
    info = registry.info("modnet")
    assert info.available and "modnet_webcam_portrait_matting.ckpt" in info.description
    seg = registry.create("modnet", device="cpu", ref_size=64)
    assert seg.checkpoint == str(tmp_path / "modnet_webcam_portrait_matting.ckpt")
    with pytest.raises(LivematteError, match="modnet_photographic_portrait_matting.ckpt"):
        registry.create("modnet", variant="photographic")
    (tmp_path / "rvm_mobilenetv3.pth").write_bytes(ckpts["rvm"].read_bytes())
    assert registry.info("rvm").available
    assert registry.create("rvm", device="cpu").predict(frame(32, 48)).shape == (32, 48)


@pytest.mark.parametrize("name", ["rvm", "modnet"])
def test_matting_backends_run_through_the_shared_pipeline(ckpts, name):
    """Matter runs matting networks on the whole frame (no crop pass), so RVM keeps its state."""
    from livematte.config import Config
    from livematte.matter import build_matter
    from livematte.types import Frame

    cfg = Config()
    cfg.model.name, cfg.model.weights, cfg.model.device = name, str(ckpts[name]), "cpu"
    matter = build_matter(cfg)
    a = frame(96, 128, 1)
    b = np.clip(a.astype(int) + 3, 0, 255).astype(np.uint8)  # the same scene, a little brighter
    for i, image in enumerate([a, b]):
        alpha = matter(Frame(image=image, index=i))
        assert alpha.shape == (96, 128) and alpha.dtype == np.float32
        assert 0.0 <= alpha.min() and alpha.max() <= 1.0
    assert matter.last_crop is None
    if name == "rvm":
        assert matter.runner.backend.has_state
        matter.reset()
        assert not matter.runner.backend.has_state
