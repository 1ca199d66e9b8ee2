"""The object family (rembg-format ONNX files): lookup, rembg's preprocessing and post-processing,
the CLI, on small networks exported to ONNX here (no real model file can be fetched)."""
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from livematte.models import registry  # noqa: E402
from livematte.models.onnx_export import export_random  # noqa: E402
from livematte.types import LivematteError  # noqa: E402
from tests.cli_run import cli  # noqa: E402,F401  (a fixture)

FAMILIES = {"u2net": "u2net", "isnet": "isnet-general-use", "birefnet": "birefnet-general", "anime": "isnet-anime"}


@pytest.fixture
def homes(tmp_path, monkeypatch):
    """Empty weights / rembg folders, so nothing installed on the machine is found."""
    for var, sub in (("LIVEMATTE_WEIGHTS", "lw"), ("U2NET_HOME", "u2"), ("REMBG_HOME", "rh")):
        monkeypatch.setenv(var, str(tmp_path / sub))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def red_net(path, name):
    """An ONNX file of ``name``'s input size whose output 0 is the input's red channel (as normalised)."""
    from torch import nn

    size = registry.spec(name).input_size
    net = nn.Conv2d(3, 1, 1, bias=False)
    with torch.no_grad():
        net.weight.zero_()
        net.weight[0, 0] = 1.0
    torch.onnx.export(net, torch.zeros(1, 3, *size), str(path), input_names=["input_image"], dynamo=False)
    return path


def test_every_object_spec_states_rembg_facts():
    names = registry.names("object")
    assert {"u2net", "u2netp", "u2net_human_seg", "silueta", "isnet-general-use", "isnet-anime", "birefnet-general",
            "birefnet-general-lite", "birefnet-portrait"} <= set(names)
    for name in names:
        s = registry.spec(name)
        assert s.onnx.filename == f"{name}.onnx" and s.onnx.url.startswith("https://github.com/danielgatis/rembg/")
        assert s.output == "frame" and not s.crop_pass and s.needs_weights and s.runtimes == ("onnxruntime",)
        assert s.onnx.activation == ("sigmoid" if name.startswith("birefnet") else "none")
        assert s.input_size == ((320, 320) if name.startswith(("u2net", "silueta")) else (1024, 1024))
    assert registry.spec("isnet-general-use").input_range == (-0.5, 0.5)
    assert registry.spec("u2net").input_range == pytest.approx(((0 - 0.485) / 0.229, (1 - 0.406) / 0.225))


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_rembg_preprocessing_and_postprocessing_per_family(family, homes):
    """Three flat bands of red: the mask is the normalised (sigmoid for BiRefNet) red, min-max scaled."""
    name = FAMILIES[family]
    s = registry.spec(name)
    (homes / "u2").mkdir()
    red_net(homes / "u2" / s.onnx.filename, name)
    model = registry.create(name, device="cpu")
    h, w = s.input_size  # at the model's size Pillow's resize is the identity: no ringing at the bands' edges
    image = np.zeros((h, w, 3), np.uint8)
    image[:, w // 3:2 * w // 3, 0] = 128
    image[:, 2 * w // 3:, 0] = 200  # the picture's maximum: rembg divides by it, not by 255
    mask = model.mask(image)
    assert mask.shape == (h, w) and mask.dtype == np.uint8
    mean = s.mean[0] if isinstance(s.mean, tuple) else s.mean
    std = s.std[0] if isinstance(s.std, tuple) else s.std
    x = (np.array([0, 128, 200]) / 200 - mean) / std
    if s.onnx.activation == "sigmoid":
        x = 1 / (1 + np.exp(-x))
    want = (x - x.min()) / (x.max() - x.min()) * 255
    for col, level in zip((w // 6, w // 2, 5 * w // 6), want):
        assert abs(int(mask[h // 2, col]) - level) <= 1.0, (family, col, mask[h // 2, col], level)
    assert np.allclose(model.predict(image), mask / 255, atol=1e-6)


def test_lookup_order_and_names(homes, monkeypatch):
    name = "u2netp"
    assert registry.info(name).available is False
    with pytest.raises(LivematteError) as err:
        registry.create(name)
    msg = str(err.value)
    assert "\n" not in msg and "u2netp.onnx not found" in msg and "github.com/danielgatis/rembg/releases" in msg
    assert f"{homes / 'lw'}, {homes / 'u2'}, {homes / 'u2' / 'models' / name})" in msg  # U2NET_HOME is rembg's home
    # rembg's per-model folder, then its flat folder, then LIVEMATTE_WEIGHTS: the earlier wins
    for sub in ("u2/models/u2netp", "u2", "lw"):
        (homes / sub).mkdir(parents=True, exist_ok=True)
        export_random(name, homes / sub / "u2netp.onnx")
        assert registry.create(name, device="cpu").path == homes / sub / "u2netp.onnx"
    assert registry.info(name).available
    other = export_random(name, homes / "mine.onnx")
    assert registry.create(name, weights=str(other), device="cpu").path == other
    with pytest.raises(LivematteError, match="model file not found"):
        registry.create(name, weights=str(homes / "nope.onnx"))


def test_without_u2net_home_rembgs_newer_home_is_searched(homes, monkeypatch):
    monkeypatch.delenv("U2NET_HOME")
    from livematte.models.objects import search_folders

    assert search_folders("u2net")[-2:] == [Path("~/.u2net").expanduser(), homes / "rh" / "models" / "u2net"]
    (homes / "rh" / "models" / "u2net").mkdir(parents=True)
    export_random("u2net", homes / "rh" / "models" / "u2net" / "u2net.onnx")
    assert registry.create("u2net", device="cpu").path.parent == homes / "rh" / "models" / "u2net"


def test_the_release_asset_name_is_found_too(homes):
    (homes / "u2").mkdir()
    export_random("birefnet-general-lite", homes / "u2" / "BiRefNet-general-bb_swin_v1_tiny-epoch_232.onnx")
    assert registry.create("birefnet-general-lite", device="cpu").path.name.startswith("BiRefNet-general-bb")


def test_a_wrong_file_is_a_one_line_error(homes):
    (homes / "lw").mkdir()
    (homes / "lw" / "u2net.onnx").write_bytes(b"not a model")
    with pytest.raises(LivematteError, match="not a usable ONNX model") as err:
        registry.create("u2net")
    assert "\n" not in str(err.value)
    export_random("isnet-general-use", homes / "lw" / "u2net.onnx")  # 1024 input for a 320 model
    with pytest.raises(LivematteError, match=r"expected \[1, 3, 320, 320\]"):
        registry.create("u2net")


def test_cli_models_lists_them_and_image_raw_writes_the_models_mask(tmp_path, cli):
    homes = tmp_path
    from livematte.sinks.images import save_image
    from livematte.sources.images import load_image

    r = cli("models")
    assert r.returncode == 0 and "u2net " in r.stdout and "birefnet-portrait" in r.stdout
    assert "no u2netp.onnx in" in r.stdout
    (homes / "lw").mkdir()
    net = export_random("u2netp", homes / "lw" / "u2netp.onnx")
    picture = np.zeros((60, 80, 3), np.uint8)
    picture[15:45, 20:60] = (200, 60, 30)
    save_image(str(homes / "in.png"), picture)
    r = cli("image", "in.png", "-o", "mask.png", "--model", "u2netp", "--raw", "-b", "matte")
    assert r.returncode == 0, r.stderr
    written = load_image(str(homes / "mask.png"))[..., 0]
    want = registry.create("u2netp", weights=str(net), device="cpu").mask(picture)
    assert np.abs(written.astype(int) - want).max() <= 1
    r = cli("image", "in.png", "-o", "m2.png", "--model", "u2net", "-b", "matte")
    assert r.returncode == 2 and "u2net.onnx not found" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (homes / "m2.png").exists()


def test_raw_is_the_person_models_own_output_upsampled():
    pytest.importorskip("ai_edge_litert", reason="LiteRT runs the selfie file here")
    import cv2

    from livematte.config import Config
    from livematte.matter import build_matter
    from livematte.models.random_weights import smooth_picture

    cfg = Config()
    cfg.quality.raw, cfg.mask.threshold = True, 0.5
    matter = build_matter(cfg)
    assert matter.partner is None and matter.refiner is None and matter.smoother is None and matter.pose is None
    image = smooth_picture(180, 320)
    state = matter.front(image)
    alpha = matter.back(state)
    assert state.crop is None and not state.tiles
    want = cv2.resize(np.asarray(state.prob, np.float32), (320, 180), interpolation=cv2.INTER_LINEAR)
    assert np.allclose(alpha, want, atol=1e-6)  # not thresholded, not refined


def test_an_object_model_runs_on_the_torch_engine_too(homes):
    from livematte.config import Config
    from livematte.engine import resolve_engine
    from livematte.matter import Matter
    from livematte.models.random_weights import smooth_picture

    (homes / "lw").mkdir()
    export_random("u2netp", homes / "lw" / "u2netp.onnx")
    cfg = Config()
    cfg.model.name, cfg.model.device = "u2netp", "cpu"
    image = smooth_picture(120, 160)
    alphas = [np.asarray(Matter(None, cfg, engine=resolve_engine(e, "cpu"))(image)) for e in ("numpy", "torch")]
    assert alphas[0].shape == (120, 160) and np.abs(alphas[0] - alphas[1]).max() <= 1 / 255
