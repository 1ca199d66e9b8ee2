"""The torch engine's own machinery: one upload and one download per frame, CUDA graphs and fp16
(exercised on CUDA by the ``gpu`` tests, which skip without a device), the matting networks'
recurrent state across scene cuts on both engines, and bench with random weights.

What the two engines compute is compared in tests/test_twins.py.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from livematte.config import Config
from livematte.engine import numpy_engine, torch_engine
from livematte.engine.device import cuda_available
from livematte.engine.graphs import GraphedCall, compare_precision, half_with_fp32_head
from livematte.matter import Matter, build_matter
from livematte.models.random_weights import random_backend, smooth_picture
from livematte.types import Frame, LivematteError

from .helpers import SAMPLES

gpu = [pytest.mark.gpu, pytest.mark.skipif(not cuda_available(), reason="needs a CUDA device")]


@pytest.fixture(scope="module")
def clip():
    import av

    with av.open(os.path.join(SAMPLES, "person.mp4")) as c:
        return [f.to_ndarray(format="rgb24") for _, f in zip(range(12), c.decode(video=0))]


def config(name="selfie", **quality):
    cfg = Config()
    cfg.model.name = name
    for k, v in quality.items():
        setattr(cfg.quality, k, v)
    return cfg


def scenes(h=240, w=320, n=4):
    """n frames of one scene (a little brighter each frame), then a cut to another, darker picture."""
    a = smooth_picture(h, w, 1)
    same = [np.clip(a.astype(int) + 3 * i, 0, 255).astype(np.uint8) for i in range(n)]
    b = smooth_picture(h, w, 7) // 2
    return same + [b, b + 2]


# ----------------------------------------------------------------------------- transfers, graphs, precision


def test_one_upload_per_frame_and_the_engine_alpha_reaches_the_effect(clip):
    from livematte.api import frame_path

    cfg = config()
    cfg.model.engine, cfg.model.device = "torch", "cpu"
    matter, effect = frame_path(cfg)
    transfer = matter.engine.transfer
    for img in clip[:3]:
        alpha = matter(Frame(image=img))
        assert isinstance(alpha, torch.Tensor) and alpha.shape == img.shape[:2] and alpha.dtype == torch.float32
        picture = effect.apply(img, alpha)
        assert isinstance(picture, np.ndarray) and picture.shape == img.shape and picture.dtype == np.uint8
    assert transfer.uploads == 3 and transfer.downloads == 3  # the frame up, the picture down


def test_graphs_are_off_the_gpu_and_fp16_is_refused_on_the_cpu():
    calls = []
    g = GraphedCall(lambda x: calls.append(1) or x * 2)
    assert torch.equal(g(torch.ones(2)), torch.full((2,), 2.0)) and not g.graphed and calls == [1]
    assert not torch_engine("cpu").graphs
    with pytest.raises(LivematteError, match="fp16") as err:
        build_matter(config(), engine=torch_engine("cpu"), precision="fp16")
    assert "\n" not in str(err.value)
    with pytest.raises(LivematteError, match="precision must be"):
        build_matter(config(), engine=torch_engine("cpu"), precision="fp8")


def test_fp16_head_keeps_the_sigmoid_in_fp32():
    from livematte.models.torch_port import load_selfie_torch

    net = load_selfie_torch("selfie-landscape")
    half = half_with_fp32_head(net)
    last = list(half.graph.graph.nodes)[-1].args[0]
    assert last.target is torch.sigmoid and last.args[0].target is torch.Tensor.float  # fp32 sigmoid
    assert half(torch.rand(1, 3, 144, 256).half()).dtype == torch.float32
    mean, mx = compare_precision(net, half, torch.rand(1, 3, 144, 256))
    assert mean < 2e-3 and mx < 0.1


@pytest.mark.parametrize("name", ["modnet", "rvm"])
def test_a_scene_cut_restarts_the_matting_networks_on_both_engines(name):
    """A colour-histogram cut clears RVM's recurrent state before the cut frame (both engines):
    the cut frame's alpha equals a fresh matter's; the frame after it carries the cut frame's state."""
    import copy

    frames = scenes(72, 96)  # small: ~20 network passes on the CPU
    options = {"ref_size": 64} if name == "modnet" else {}
    template = random_backend(name, device="cpu", **options)
    for engine in (numpy_engine(), torch_engine("cpu")):
        def matter():
            return Matter(copy.deepcopy(template), config(name), engine=engine)

        m = matter()
        for f in frames[:4]:
            m(f)
        assert np.array_equal(np.asarray(m(frames[4])), np.asarray(matter()(frames[4]))), engine.name
        if name == "rvm":
            assert not np.array_equal(np.asarray(m(frames[5])), np.asarray(matter()(frames[5])))
        m.reset()
        assert np.array_equal(np.asarray(m(frames[0])), np.asarray(matter()(frames[0])))


def test_a_prebuilt_backend_must_match_the_engine_and_the_model():
    from livematte.api import frame_path

    with pytest.raises(LivematteError, match="prebuilt backend"):
        from livematte.engine.runners import segmenter_runner

        segmenter_runner(torch_engine("cpu"), "selfie", backend=random_backend("rvm", device="cpu"))
    cfg = config("rvm")
    matter, effect = frame_path(cfg, segmenter=random_backend("rvm", device="cpu"))
    assert matter.engine.name == "numpy" and matter(scenes()[0]).shape == (240, 320)


def test_bench_random_weights_runs_rvm_end_to_end(tmp_path, capsys):
    from livematte import cli

    report = tmp_path / "bench.json"
    code = cli.main(["bench", "--model", "rvm", "--random-weights", "--device", "cpu", "--size", "160x120",
                     "--seconds", "0.1", "--json", str(report)])  # 3 frames: ~3 network passes each
    out = capsys.readouterr().out
    assert code == 0 and "160x120 rvm on cpu" in out and "weights: random" in out.splitlines()[0]
    result = json.loads(report.read_text())
    assert result["weights"] == "random" and result["model"] == "rvm" and result["frames"] == 3
    assert result["matte_fps"] > 0 and result["pipeline_fps"] > 0


def test_bench_random_weights_is_refused_for_selfie_and_other_commands(capsys):
    from livematte import cli
    from livematte.bench import bench

    assert cli.main(["bench", "--random-weights", "--device", "cpu"]) == 2  # selfie: before any clip is made
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--random-weights is for modnet and rvm" in err[0]
    cfg = config("rvm")
    cfg.model.weights = "x.pth"
    with pytest.raises(LivematteError, match="exclude each other"):
        bench(cfg, random_weights=True)
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["video", "in.mp4", "-o", "out.mp4", "--random-weights"])
    capsys.readouterr()


# ----------------------------------------------------------------------------- on a CUDA device


@pytest.mark.parametrize("_", [0], ids=["cuda"])
@pytest.mark.gpu
@pytest.mark.skipif(not cuda_available(), reason="needs a CUDA device")
def test_cuda_with_graphs_and_fp16_agrees_with_the_numpy_engine(clip, _):
    from livematte.api import frame_path

    cfg = config()
    cfg.model.engine, cfg.model.device = "torch", "cuda"
    cuda, effect = frame_path(cfg, reuse_output=True)
    ref = build_matter(config(), engine=numpy_engine())
    assert cuda.engine.graphs
    for i, img in enumerate(clip):
        a, b = ref(Frame(image=img)), cuda(Frame(image=img))
        d = np.abs(np.round(a * 255) - np.round(b.cpu().numpy() * 255)) / 255
        assert ref.last_crop == cuda.last_crop, f"frame {i}"
        assert d.mean() <= 1e-3 and d.max() <= 0.1, f"frame {i}: max {d.max():.4f}, mean {d.mean():.2e}"
    assert all(f.graphed and f.error is None for f in cuda._fronts.values() if f.key is not None), cuda.describe()
    assert cuda.runner.precision == "fp16" and cuda.runner.precision_check[0] < 2e-3, cuda.runner.precision_check
    picture = effect.apply(clip[-1], b)
    assert picture.shape == clip[-1].shape and picture.dtype == np.uint8


@pytest.mark.gpu
@pytest.mark.skipif(not cuda_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", ["rvm", "modnet"])
def test_cuda_matting_networks_agree_with_fp32(name):
    frames = scenes(720, 1280, 6)
    options = {"ref_size": 512} if name == "modnet" else {}

    def matter(precision):
        return Matter(random_backend(name, device="cuda", **options), config(name), engine=torch_engine("cuda"),
                      precision=precision)

    fp32, half = matter("fp32"), matter("fp16")
    for i, image in enumerate(frames):
        a, b = fp32(image), half(image)
        assert np.abs(a - b).mean() < 5e-3, f"frame {i}: fp16 vs fp32"
    assert half.precision == "fp16"
