"""The torch port of the selfie models agrees with LiteRT running the .tflite file itself."""
from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from livematte.models.tflite_reader import read_tflite
from livematte.models.bundled import selfie_model_path as model_path
from livematte.models.torch_port import build_selfie_module, load_selfie_torch
from livematte.types import LivematteError

from .helpers import sample_frame

MODELS = ["selfie", "selfie-landscape"]
PERSON_IMAGES = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "person-unlabeled" / "images"
TOLERANCE = 1e-4  # probability units, float32 on CPU


def _have_models() -> bool:
    try:
        for name in MODELS:
            model_path(name)
    except LivematteError:
        return False
    return True


needs_models = pytest.mark.skipif(not _have_models(), reason="mediapipe 0.10.21 model files absent")


def _images():
    """(id, RGB uint8 image) pairs: frames of the shipped sample always, the person photos when present."""
    yield "sample-30", sample_frame(30)
    yield "sample-90", sample_frame(90)
    for path in sorted(PERSON_IMAGES.glob("*.jpg")) if PERSON_IMAGES.is_dir() else []:
        bgr = cv2.imread(str(path))
        if bgr is not None:
            yield path.name, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _preprocess(rgb: np.ndarray, size) -> np.ndarray:
    """MediaPipe's input: ``(H, W, 3)`` float32 in [0, 1] at the model size (see ENVIRONMENT.md)."""
    h, w = rgb.shape[:2]
    height, width = size
    matrix = np.float32([[w / width, 0, 0], [0, h / height, 0]])
    warped = cv2.warpAffine(rgb, matrix, (width, height),
                            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
    return warped.astype(np.float32) / 255.0


@pytest.fixture(scope="module")
def litert():
    """model name -> function running LiteRT on one ``(H, W, 3)`` input -> ``(H, W)`` mask."""
    interpreter_mod = pytest.importorskip("ai_edge_litert.interpreter")
    runners = {}
    for name in MODELS:
        it = interpreter_mod.Interpreter(model_path=model_path(name), num_threads=2)
        it.allocate_tensors()
        src, dst = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]

        def run(x, it=it, src=src, dst=dst):
            it.set_tensor(src, x[None])
            it.invoke()
            return it.get_tensor(dst)[0, :, :, 0].copy()

        runners[name] = run
    return runners


def _torch_mask(net, x: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        out = net(torch.from_numpy(x).permute(2, 0, 1)[None])  # [1, 1, H, W]
    assert out.shape == (1, 1) + x.shape[:2]
    return out[0, 0].numpy()


@needs_models
@pytest.mark.parametrize("name", MODELS)
def test_port_matches_litert_on_real_images(name, litert):
    net = load_selfie_torch(name)
    assert net.input_size == ((256, 256) if name == "selfie" else (144, 256))
    for image_id, rgb in _images():
        x = _preprocess(rgb, net.input_size)
        expected = litert[name](x)
        got = _torch_mask(net, x)
        diff = float(np.abs(got - expected).max())
        assert diff <= TOLERANCE, f"{name} on {image_id}: max abs diff {diff:.2e}"
        # the comparison means something: the mask has a person and a background in it
        assert (expected > 0.9).mean() > 0.05 and (expected < 0.1).mean() > 0.05, image_id


@needs_models
def test_port_is_layout_and_batch_independent(litert):
    background = cv2.cvtColor(cv2.imread(str(Path(__file__).resolve().parents[1] / "samples" / "background.jpg")),
                              cv2.COLOR_BGR2RGB)
    rgbs = [sample_frame(30), background]
    nchw = load_selfie_torch("selfie", channels_last=False)
    nhwc = load_selfie_torch("selfie")
    xs = [_preprocess(rgb, nchw.input_size) for rgb in rgbs]
    batch = torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2)  # [2, 3, H, W]
    with torch.inference_mode():
        a, b = nchw(batch), nhwc(batch)
    assert a.shape == (2, 1, 256, 256)
    assert float((a - b).abs().max()) <= TOLERANCE
    for i, x in enumerate(xs):
        assert np.abs(a[i, 0].numpy() - litert["selfie"](x)).max() <= TOLERANCE
    assert float((a[0] - a[1]).abs().max()) > 0.5  # different pictures, different masks


@needs_models
def test_reader_sees_the_whole_graph():
    for name, size in zip(MODELS, [(256, 256), (144, 256)]):
        model = read_tflite(model_path(name))
        counts = model.op_counts()
        assert len(model.operators) == 246
        assert counts["Convolution2DTransposeBias"] == 1 and counts["DEQUANTIZE"] == 110
        assert model.tensors[model.inputs[0]].shape == (1,) + size + (3,)
        assert model.tensors[model.outputs[0]].shape == (1,) + size + (1,)


@needs_models
def test_loads_are_independent_copies():
    a, b = load_selfie_torch("selfie"), load_selfie_torch("selfie")
    first = next(iter(a.buffers()))
    first.zero_()
    assert float(next(iter(b.buffers())).abs().max()) > 0


def test_missing_model_file_is_a_user_error(tmp_path):
    missing = tmp_path / "nope.tflite"
    with pytest.raises(LivematteError, match="nope.tflite"):
        build_selfie_module(missing)


def test_unknown_model_name_is_a_user_error():
    with pytest.raises(LivematteError, match="unknown selfie model"):
        model_path("selfie-xl")


@needs_models
@pytest.mark.parametrize("damage", ["empty", "garbage", "truncated", "scrambled"])
def test_corrupt_model_file_is_a_user_error(tmp_path, damage):
    path = tmp_path / "bad.tflite"
    shutil.copyfile(model_path("selfie"), path)
    raw = bytearray(path.read_bytes())
    if damage == "empty":
        raw = bytearray()
    elif damage == "garbage":
        raw = bytearray(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    elif damage == "truncated":
        raw = raw[: len(raw) // 3]
    else:  # keep the header, overwrite the tables after it
        raw[8:4096] = b"\xff" * (4096 - 8)
    path.write_bytes(bytes(raw))
    with pytest.raises(LivematteError, match="bad.tflite"):
        build_selfie_module(path)


def test_pose_mask_port_matches_litert_on_a_real_crop():
    """The pose model's segmentation branch, ported (the operators it depends on only), against
    LiteRT on a whole-body crop: its logits reach -1500, where float32 summation order alone moves
    them by ~0.1, so the probability is compared (measured: 6e-4 max)."""
    import glob

    from livematte.models.pose import PoseMask
    from livematte.models.torch_port import load_pose_torch

    from .helpers import SHARED, read_rgb

    paths = sorted(glob.glob(str(Path(SHARED) / "davis2016" / "hike" / "frames" / "*.jpg")))
    image = read_rgb(paths[40]) if paths else sample_frame(30)
    crop = cv2.resize(image[50:450, 250:650], (256, 256), interpolation=cv2.INTER_AREA)
    ref = PoseMask().predict_model_input(crop)
    net = load_pose_torch("cpu")
    with torch.inference_mode():
        out = net(torch.from_numpy(crop).permute(2, 0, 1)[None].float() / 255)[0, 0].numpy()
    assert out.shape == (256, 256)
    diff = np.abs(out - ref)
    assert diff.max() < 3e-3 and diff.mean() < 1e-4
    assert 0.05 < (out >= 0.5).mean() < 0.9  # it sees a person, not nothing


def test_porting_one_named_output_ports_only_what_it_needs():
    from livematte.models.bundled import path as bundled_path
    from livematte.models.tflite_torch import build_module

    path = bundled_path("pose")
    with pytest.raises(LivematteError, match="expected one output"):
        build_module(path)  # five outputs: say which
    with pytest.raises(LivematteError, match="no output named"):
        build_module(path, "Identity_9")
    seg = build_module(path, "Identity_2")  # the segmentation: no landmark head (RESHAPE, MAX_POOL_2D)
    assert "max_pool2d" not in seg.code and "reshape" not in seg.code
