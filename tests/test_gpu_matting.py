"""The torch modnet / rvm frame path (livematte.gpu.matting) against the CPU Matter, on CPU torch.

Random weights (livematte.models.random_weights), 320x240 frames, the recurrent state carried.
Tolerances (also in docs/gpu.md): per frame, mean |alpha_torch - alpha_cpu| < 1e-5 and max < 1e-3
(the networks run the same ops on the same device; the rest is cv2 vs torch bilinear upsampling and
the temporal smoother's twin). Neither path removes lukewarm blobs for a matting backend, so the torch
path is compared with ``Matter`` as it is, default settings.
The ``gpu`` test runs the CUDA path (graphs, fp16) where a CUDA device exists.
"""
import json

import numpy as np
import pytest
import torch

from livematte.config import Config
from livematte.gpu import TorchMattingMatter, build_device_matter, build_frame_path, cuda_available
from livematte.matter import Matter
from livematte.models import rvm
from livematte.models.random_weights import random_backend, smooth_picture
from livematte.types import Frame, LivematteError

MEAN_TOL, MAX_TOL = 1e-5, 1e-3
H, W = 240, 320
OPTIONS = {"modnet": {"ref_size": 128}, "rvm": {}}  # modnet at 128x160: quick on 2 cores


def config(name, device="cpu", **quality):
    cfg = Config()
    cfg.model.name, cfg.model.device = name, device
    for k, v in quality.items():
        setattr(cfg.quality, k, v)
    return cfg


def backend(name, device="cpu", **options):
    return random_backend(name, device=device, **{**OPTIONS[name], **options})


def clip(n=4):
    """n frames of one scene (a little brighter each frame), then a scene cut (another, darker
    picture: a colour-histogram cut) and one more frame of that scene."""
    a = smooth_picture(H, W, 1)
    same = [np.clip(a.astype(int) + 3 * i, 0, 255).astype(np.uint8) for i in range(n)]
    b = smooth_picture(H, W, 7) // 2
    return same + [b, b + 2]


def cpu_matter(name, cfg, **options):
    return Matter(backend(name, **options), cfg)


def assert_close(a, b, where):
    assert b.shape == a.shape and b.dtype == np.float32
    d = np.abs(a - b)
    assert d.mean() < MEAN_TOL and d.max() < MAX_TOL, f"{where}: mean {d.mean():.2e}, max {d.max():.2e}"


@pytest.mark.parametrize("name,temporal", [("rvm", "motion"), ("rvm", "ema"), ("modnet", "motion"), ("modnet", "none")])
def test_torch_path_agrees_with_the_cpu_matter(name, temporal):
    cfg = config(name, temporal=temporal)
    ref = cpu_matter(name, cfg)
    tm = TorchMattingMatter(cfg, device="cpu", segmenter=backend(name))
    for i, image in enumerate(clip()):
        assert_close(ref(Frame(image=image)), tm(Frame(image=image)), f"{name} {temporal} frame {i}")
    assert tm.last_crop is None and tm.precision == "fp32" and not tm.graphed
    assert tm.describe() == f"torch {name} on cpu, fp32, CUDA graphs off"


def test_neither_path_removes_a_lukewarm_blob_of_a_matting_network():
    """A blob with no confident core (which ``Matter`` drops for the selfie models) stays in both."""
    prob = torch.zeros((1, 1, 128, 160))  # MODNet's grid for 320x240 at ref_size 128
    prob[..., 20:110, 10:60] = 1.0  # a person: all core
    prob[..., 40:80, 100:140] = 0.7  # lukewarm, no core
    from livematte.roi import person_blobs

    assert person_blobs(prob[0, 0].numpy())[1][40:80, 100:140].all()  # what the selfie path would drop
    segs = [backend("modnet"), backend("modnet")]
    for seg in segs:
        seg.infer = lambda x: prob.clone()
    cfg = config("modnet", temporal="none")
    image = clip()[0]
    ref = Matter(segs[0], cfg)(Frame(image=image))
    got = TorchMattingMatter(cfg, device="cpu", segmenter=segs[1])(image)
    assert_close(ref, got, "lukewarm blob")
    for alpha in (ref, got):
        assert np.allclose(alpha[90:140, 210:270], 0.7, atol=1e-5) and np.allclose(alpha[60:190, 30:100], 1.0)


def test_zero_state_is_rvms_none_start():
    seg = backend("rvm")
    x = torch.from_numpy(smooth_picture(H, W, 4)).permute(2, 0, 1)[None].float() / 255
    with torch.inference_mode():
        pha, _, rec = seg.net(x, [None] * 4, 1.0)
        pha0, _, rec0 = seg.net(x, [torch.zeros_like(r) for r in rec], 1.0)
    assert torch.equal(pha, pha0) and all(torch.equal(a, b) for a, b in zip(rec, rec0))
    assert all(r.abs().max() > 0 for r in rec)  # the state is not trivially zero


def test_the_captured_step_is_the_eager_network():
    """What a CUDA graph captures (``step_call.fn``, run eagerly here) equals the backend's own step."""
    cfg = config("rvm", temporal="none")
    tm = TorchMattingMatter(cfg, device="cpu", segmenter=backend("rvm"), output="tensor")
    seg = backend("rvm")
    for i, image in enumerate(clip(3)[:3]):
        got = tm(image)
        assert tm.step_call.fn == tm._step
        want = seg.step(torch.from_numpy(image).permute(2, 0, 1)[None].float().div_(255.0))[0][0, 0]
        assert torch.equal(got, want), f"frame {i}"
        assert all(torch.equal(a, b) for a, b in zip(tm.rvm_state, seg.rec))

    modnet = TorchMattingMatter(config("modnet"), device="cpu", segmenter=backend("modnet"))
    image = clip()[0]
    modnet(image)  # sets up the state for this size
    frame = torch.from_numpy(image)
    with torch.inference_mode():
        prob = modnet._model(frame, torch.ones(()), modnet._state[0])[0]  # the network part of ``_step``
        want = backend("modnet").infer(frame.permute(2, 0, 1)[None].float().div_(255.0))[0, 0]
    assert prob.shape == (128, 160) and torch.equal(prob, want)


@pytest.mark.parametrize("scene_cut", [rvm.SCENE_CUT, None])
def test_scene_cut_and_reset_zero_the_rvm_state_in_both(scene_cut):
    """A colour-histogram cut restarts both paths from a zero state (RVM's own thumbnail test off or on)."""
    cfg = config("rvm")
    frames = clip(3)
    cut = frames[3]
    def torch_matter():
        return TorchMattingMatter(cfg, device="cpu", segmenter=backend("rvm", scene_cut=scene_cut))

    ref, tm = cpu_matter("rvm", cfg, scene_cut=scene_cut), torch_matter()
    for image in frames[:3]:
        ref(Frame(image=image)), tm(image)
    assert ref.segmenter.has_state and all(r.abs().max() > 0 for r in tm.rvm_state)
    fresh_ref = cpu_matter("rvm", cfg, scene_cut=scene_cut)
    fresh_tm = torch_matter()
    assert np.array_equal(ref(Frame(image=cut)), fresh_ref(Frame(image=cut)))
    assert np.array_equal(tm(cut), fresh_tm(cut))
    assert all(torch.equal(a, b) for a, b in zip(ref.segmenter.rec, fresh_ref.segmenter.rec))
    assert all(torch.equal(a, b) for a, b in zip(tm.rvm_state, fresh_tm.rvm_state))
    # the frame after the cut carries the cut frame's state: not a fresh start
    assert np.abs(tm(frames[4]) - torch_matter()(frames[4])).max() > 1e-3

    ref.reset(), tm.reset()
    assert not ref.segmenter.has_state
    assert len(tm.rvm_state) == 4 and all(not r.any() for r in tm.rvm_state)
    assert np.array_equal(tm(frames[0]), torch_matter()(frames[0]))


def test_fp16_is_refused_on_the_cpu_and_other_models_elsewhere():
    with pytest.raises(LivematteError, match="fp16") as err:
        TorchMattingMatter(config("rvm"), device="cpu", precision="fp16", segmenter=backend("rvm"))
    assert "\n" not in str(err.value)
    with pytest.raises(LivematteError, match="modnet and rvm"):
        TorchMattingMatter(config("selfie"), device="cpu")
    with pytest.raises(ValueError, match="expected modnet"):
        TorchMattingMatter(config("modnet"), device="cpu", segmenter=backend("rvm"))


def test_frame_path_on_cpu_keeps_the_numpy_matter():
    seg = backend("rvm")
    matter, effect = build_frame_path(config("rvm"), segmenter=seg)
    assert isinstance(matter, Matter) and matter.segmenter is seg and type(effect).__module__ == "livematte.effects"
    assert matter(Frame(image=clip()[0])).shape == (H, W)
    # what the CUDA branch (and the live path) builds for a matting backend, here on the CPU
    tm = build_device_matter(config("modnet"), torch.device("cpu"), output="tensor", segmenter=backend("modnet"))
    assert isinstance(tm, TorchMattingMatter) and isinstance(tm(clip()[0]), torch.Tensor)
    with pytest.raises(LivematteError, match="prebuilt backend"):
        build_frame_path(config("selfie"), segmenter=seg)
    if not cuda_available():
        with pytest.raises(LivematteError, match="CUDA is not available"):
            build_frame_path(config("rvm", device="cuda"), segmenter=seg)


def test_bench_random_weights_runs_rvm_end_to_end(tmp_path, capsys):
    from livematte import cli

    report = tmp_path / "bench.json"
    code = cli.main(["bench", "--model", "rvm", "--random-weights", "--device", "cpu", "--size", "160x120",
                     "--seconds", "0.3", "--json", str(report)])
    out = capsys.readouterr().out
    assert code == 0 and "160x120 rvm on cpu" in out and "weights: random" in out.splitlines()[0]
    result = json.loads(report.read_text())
    assert result["weights"] == "random" and result["model"] == "rvm" and result["frames"] == 9
    assert result["matte_fps"] > 0 and result["pipeline_fps"] > 0


def test_bench_random_weights_is_refused_for_selfie_and_other_commands(capsys):
    from livematte import cli
    from livematte.bench import bench

    assert cli.main(["bench", "--random-weights", "--device", "cpu"]) == 2  # selfie: before any clip is made
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--random-weights is for modnet and rvm" in err[0]
    with pytest.raises(LivematteError, match="exclude each other"):
        cfg = config("rvm")
        cfg.model.weights = "x.pth"
        bench(cfg, random_weights=True)
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["video", "in.mp4", "-o", "out.mp4", "--random-weights"])
    capsys.readouterr()


@pytest.mark.gpu
@pytest.mark.skipif(not cuda_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", ["rvm", "modnet"])
def test_cuda_graphs_and_fp16_agree_with_eager_fp32(name):
    cfg = config(name, device="cuda")
    seg_options = {"ref_size": 512} if name == "modnet" else {}
    a = smooth_picture(720, 1280, 1)
    b = smooth_picture(720, 1280, 7) // 2
    frames = [np.clip(a.astype(int) + 3 * i, 0, 255).astype(np.uint8) for i in range(6)] + [b, b + 2]

    def matter(**options):
        seg = random_backend(name, device="cuda", **seg_options)
        return TorchMattingMatter(cfg, device="cuda", segmenter=seg, **options)

    eager = matter(precision="fp32", graphs=False)
    graphed = matter(precision="fp32", graphs=True)
    half = matter(precision="fp16", graphs=True)
    auto = matter(precision="auto", graphs=True)
    for i, image in enumerate(frames):
        want = eager(image)
        g, h = graphed(image), half(image)
        auto(image)
        assert np.abs(g - want).max() < 1e-3, f"frame {i}: graph vs eager fp32"
        assert np.abs(h - want).mean() < 5e-3, f"frame {i}: fp16 vs fp32"
    for m in (graphed, half, auto):
        assert m.graphed, m.describe()
    assert half.precision == "fp16" and auto.precision_check is not None, auto.describe()
    graphed.reset()
    assert all(not r.any() for r in graphed.rvm_state)
    assert np.abs(graphed(frames[0]) - matter(precision="fp32", graphs=False)(frames[0])).max() < 1e-3
