"""Quality profiles (--quality fast|balanced|best, [quality] profile) and the look-ahead smoother (issue #17)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from livematte.cli import build_parser
from livematte.cli.common import config_from_args
from livematte.config import Config, QualityConfig, load_config
from livematte.engine import NUMPY
from livematte.profiles import PROFILES, for_live, resolve_profile
from livematte.stages.lookahead import LookaheadSmoother, small_grey
from livematte.types import LivematteError

from .helpers import sample_frame
from .test_evaluate import data  # noqa: F401 (the synthetic DAVIS-layout fixture)

DEFAULTS = QualityConfig()


def _cfg(*argv, command="video"):
    extra = {"video": ["in.mp4", "-o", "out.mp4"], "eval": ["data"], "matte": ["in.mp4", "-o", "out"], "cam": ["--to", "null"],
             "bench": []}[command]
    return config_from_args(build_parser().parse_args([command, *extra, *argv]))


def _changed(q: QualityConfig) -> dict:
    return {f.name: getattr(q, f.name) for f in dataclasses.fields(q)
            if getattr(q, f.name) != getattr(DEFAULTS, f.name) and f.name != "profile"}


def test_each_profile_resolves_to_its_settings():
    assert _changed(_cfg().quality) == {}  # balanced is the default: today's settings
    # the front's schedule of balanced (and of the profiles that leave it alone): issue #17
    assert (DEFAULTS.search_every, DEFAULTS.idle_every, DEFAULTS.model_every) == (8, 2, 2)
    assert DEFAULTS.crop_extend == "body"  # balanced grows the crop of a whole body only
    assert _cfg("--quality", "fast").quality.search_every == 8
    assert _cfg().quality.profile == "balanced"
    assert _changed(_cfg("--quality", "balanced").quality) == {}
    assert _changed(_cfg("--quality", "fast").quality) == {
        "pose": False, "ensemble": False, "attach": False, "refine": "none", "solid": False, "temporal": "none",
        "crop_extend": "off"}
    assert _changed(_cfg("--quality", "best").quality) == {"lookahead": 4, "model_every": 1, "flow_width": 480,
                                                            "tile_views": 2, "crop_extend": "all"}
    for command in ("video", "matte", "eval", "bench", "cam"):
        assert _cfg("--quality", "fast", command=command).quality.model_every == 2, command


def test_flags_and_preset_keys_override_a_profile(tmp_path):
    q = _cfg("--quality", "fast", "--pose", "--refine", "guided").quality
    assert q.pose is True and q.refine == "guided" and q.ensemble is False and q.model_every == 2
    preset = tmp_path / "p.toml"
    preset.write_text('[quality]\nprofile = "fast"\nattach = true\n')
    q = load_config(str(preset)).quality
    assert q.profile == "fast" and q.attach is True and q.pose is False
    q = _cfg("--config", str(preset), "--quality", "best").quality  # the flag's profile wins, the preset's key stays
    assert q.profile == "best" and q.lookahead == 4 and q.attach is True and q.pose is True and q.model_every == 1


def test_crop_extend_takes_its_names_and_an_older_files_booleans(tmp_path):
    f = tmp_path / "q.toml"
    for text, want in (("true", "all"), ("false", "off"), ('"body"', "body"), ('"all"', "all")):
        f.write_text(f"[quality]\ncrop_extend = {text}\n")
        assert load_config(str(f)).quality.crop_extend == want, text
    f.write_text('[quality]\ncrop_extend = "legs"\n')
    with pytest.raises(LivematteError, match="crop_extend must be one of off, body, all"):
        load_config(str(f))


def test_a_profile_resolves_again_and_keeps_directly_set_values():
    cfg = Config()
    cfg.quality.solid = False  # set directly, not through override
    cfg.override("quality", profile="fast")
    resolve_profile(cfg)
    assert cfg.quality.model_every == 2 and cfg.quality.solid is False
    cfg.quality.profile = "best"
    resolve_profile(cfg)
    assert cfg.quality.model_every == 1 and cfg.quality.pose is True and cfg.quality.solid is False
    cfg.quality.profile = "balanced"
    resolve_profile(cfg)
    assert cfg.quality.model_every == 2 and cfg.quality.lookahead == 0 and cfg.quality.solid is False
    cfg.quality.profile = "nope"
    with pytest.raises(LivematteError):
        resolve_profile(cfg)
    assert set(PROFILES) == {"fast", "balanced", "best"}


def test_bad_profiles_are_one_line_errors(tmp_path):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["video", "a.mp4", "-o", "b.mp4", "--quality", "ultra"])
    preset = tmp_path / "p.toml"
    preset.write_text('[quality]\nprofile = "ultra"\n')
    with pytest.raises(LivematteError, match="profile"):
        load_config(str(preset))


def test_live_has_no_look_ahead():
    cfg = _cfg("--quality", "best", command="cam")
    note = for_live(cfg)
    assert note is not None and "\n" not in note and "balanced" in note
    assert cfg.quality.lookahead == 0 and cfg.quality.profile == "balanced"
    assert cfg.quality.crop_extend == "off"  # the grown crop of a whole body is a file pass
    plain = _cfg(command="cam")
    assert for_live(plain) is None and plain.quality.crop_extend == "off"
    asked = _cfg(command="cam")
    asked.quality.crop_extend = "all"
    asked.given.add("quality.crop_extend")  # a preset's or the API's own value stays
    assert for_live(asked) is None and asked.quality.crop_extend == "all"


def test_cam_with_best_says_it_runs_balanced(tmp_path, capfd):
    from livematte import cli

    from .helpers import small_clip

    clip = small_clip(str(tmp_path / "c.mp4"), 320, 180, 12)
    assert cli.main(["cam", "--source", clip, "--to", "null", "--frames", "5", "--quality", "best"]) == 0
    err = capfd.readouterr().err
    assert "--quality best needs frames from the future" in err


# ------------------------------------------------------------------------------ the look-ahead smoother
def _moving_disc(n=12, size=(90, 160), noise=0.0, seed=0):
    """A textured disc moving right over a textured background; its alpha, with flicker of ``noise``."""
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    bg = (np.sin(xx / 5.0) * 40 + np.cos(yy / 7.0) * 40 + 100).astype(np.float32)
    images, alphas, truth = [], [], []
    for i in range(n):
        cx, cy = 50 + 3 * i, 45
        d = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2)
        a = np.clip(20.5 - d, 0, 1).astype(np.float32)
        fg = 170 + 50 * np.sin((xx - 3 * i) / 3.0) * np.sin(yy / 4.0)  # the texture moves with the disc
        grey = bg * (1 - a) + fg * a
        images.append(np.repeat(grey[..., None], 3, axis=2).astype(np.uint8))
        truth.append(a)
        edge = (a > 0) & (a < 1) | (np.abs(d - 20) < 2)
        alphas.append(np.clip(a + noise * edge * rng.standard_normal(a.shape), 0, 1).astype(np.float32))
    return images, alphas, truth


def _run(stage, images, alphas, cuts=None):
    out = []
    for i, (img, a) in enumerate(zip(images, alphas)):
        out += stage.push(a, small_grey(img), bool(cuts and i in cuts))
    return out + stage.flush()


def test_look_ahead_hands_out_every_frame_in_order_in_blocks():
    images, alphas, _ = _moving_disc(11)
    stage = LookaheadSmoother(NUMPY, lookahead=3)
    handed = [len(stage.push(a, small_grey(img))) for img, a in zip(images, alphas)]
    assert handed == [0, 0, 0, 0, 0, 3, 0, 0, 3, 0, 0]  # blocks of 3 once 6 wait: each sees >= 3 later frames
    assert stage.waiting == 5 and len(stage.flush()) == 5 and stage.waiting == 0
    # a still, clean matte comes out as it went in (nothing to average)
    out = _run(LookaheadSmoother(NUMPY, lookahead=3), [images[0]] * 8, [alphas[0]] * 8)
    assert len(out) == 8 and all(np.abs(o - alphas[0]).max() < 1e-6 for o in out)


def test_look_ahead_averages_flicker_along_the_motion_and_not_across_a_cut():
    images, alphas, truth = _moving_disc(12, noise=0.25)
    out = _run(LookaheadSmoother(NUMPY, lookahead=3), images, alphas)

    def flicker(xs):  # as dtSSD: the change from frame to frame against the truth's change
        return np.mean([np.sqrt(np.mean((xs[i] - xs[i - 1] - truth[i] + truth[i - 1]) ** 2)) for i in range(1, len(xs))])

    assert flicker(out) < 0.9 * flicker(alphas)  # flicker averaged with the moved future
    backward_only = _run(LookaheadSmoother(NUMPY, lookahead=3, forward=0.0), images, alphas)
    assert flicker(out) < 0.95 * flicker(backward_only)  # ... and with the moved past (the forward pass)
    # no ghost: the disc has moved 3 px a frame, the output's disc is where the frame's is
    for o, t in zip(out, truth):
        assert np.abs((o > 0.5).astype(int) - (t > 0.5)).sum() < 0.1 * (t > 0.5).sum()
    # a cut: the frame before it takes nothing from the (different) frames after it
    other = [np.zeros_like(a) for a in alphas[6:]]
    out = _run(LookaheadSmoother(NUMPY, lookahead=3), images[:6] + images[:6], alphas[:6] + other, cuts={6})
    alone = _run(LookaheadSmoother(NUMPY, lookahead=3), images[:6], alphas[:6])
    assert all(np.array_equal(o, a) for o, a in zip(out[:6], alone)) and all(o.max() == 0 for o in out[6:])


def test_look_ahead_flows_only_around_the_person():
    """Motion far from the person (outside their box grown by the flow's margin) changes nothing:
    the flows are computed on the person's box alone; with nobody there nothing is computed."""
    images, alphas, _ = _moving_disc(10, size=(90, 320), noise=0.2)
    busy = [img.copy() for img in images]
    for i, img in enumerate(busy):  # a textured patch sliding along at the far right
        img[20:70, 250:310] = (np.sin((np.arange(60)[None, :] + 4 * i) / 2.0) * 80 + 120).astype(np.uint8)[..., None]
    calm = _run(LookaheadSmoother(NUMPY, lookahead=3), images, alphas)
    moved = _run(LookaheadSmoother(NUMPY, lookahead=3), busy, alphas)
    assert all(np.array_equal(a, b) for a, b in zip(calm, moved))
    stage = LookaheadSmoother(NUMPY, lookahead=3)

    class NoFlow:
        def calc(self, *args):
            raise AssertionError("a flow was computed with nobody in view")

    stage.flow = NoFlow()
    empty = [np.zeros_like(a) for a in alphas]
    assert all(o.max() == 0 for o in _run(stage, busy, empty))


def test_look_ahead_twins_on_both_engines():
    torch = pytest.importorskip("torch")
    from livematte.engine import resolve_engine

    T = resolve_engine("torch", "cpu").ops
    images, alphas, _ = _moving_disc(8, noise=0.2)
    a = _run(LookaheadSmoother(NUMPY, lookahead=2), images, alphas)
    b = _run(LookaheadSmoother(T, lookahead=2), images, [torch.from_numpy(x) for x in alphas])
    for x, y in zip(a, b):
        d = np.abs(np.round(x * 255) - np.round(y.numpy() * 255))
        assert d.max() <= 3 and d.mean() < 0.05  # OpenCV's remap quantises its weights to 1/32 of a pixel


def test_warp_primitive_agrees_on_both_engines():
    torch = pytest.importorskip("torch")
    from livematte.engine import resolve_engine

    T = resolve_engine("torch", "cpu").ops
    x = np.asarray(sample_frame(30)[::4, ::4, 1], np.float32) / 255  # (180, 320)
    flow = np.zeros((45, 80, 2), np.float32)
    flow[..., 0], flow[..., 1] = 1.25, -0.5  # cells of the flow's grid: 5 px right, 2 px up
    a = NUMPY.remap(x, NUMPY.flow_maps(flow, x.shape))
    b = T.remap(torch.from_numpy(x), T.flow_maps(flow, x.shape)).numpy()
    assert np.allclose(a[10:-10, 10:-10], x[8:-12, 15:-5], atol=1e-6)  # x(p + (5, -2))
    assert np.abs(a - b).max() < 1.0 / 32 + 1e-3
    box = (20, 60, 30, 100)
    assert np.array_equal(NUMPY.remap(x, NUMPY.flow_maps(flow, x.shape), box), a[20:60, 30:100])


@pytest.mark.parametrize("threads", [True, False])
def test_the_file_pipeline_writes_every_look_ahead_frame_in_order(tmp_path, threads):
    from livematte.lookahead import LookaheadMatter, file_matter
    from livematte.pipeline import Output, run
    from livematte.sources.video import VideoFileSource

    from .helpers import small_clip

    class OneThread(LookaheadMatter):
        two_threads = False  # the torch engine's path: the matter whole on the calling thread

    class Keep:
        def __init__(self):
            self.frames = []

        def open(self, info, alpha=False):
            pass

        def write(self, picture, frame):
            self.frames.append((frame.index, picture.copy()))

        def close(self):
            pass

        def abort(self):
            pass

    clip = small_clip(str(tmp_path / "c.mp4"), 320, 180, 14)
    cfg = _cfg("--quality", "best")
    matter = file_matter(cfg)
    assert isinstance(matter, LookaheadMatter) and matter.lookahead == 4
    stage = matter.stage  # best's smoother: flow-warped forward (0.8, jump 2) then backward (0.8, jump 1)
    assert (stage.forward, stage.forward_jump, stage.strength, stage.jump, stage.noise) == (0.8, 2.0, 0.8, 1.0, 16.0)
    assert stage.flow_width == 480  # flows on a 480-wide grey (best's flow_width), around the person
    if not threads:
        matter = OneThread(matter.matter)
    plain = file_matter(_cfg())
    results = []
    for m in (matter, plain):
        sink = Keep()
        with VideoFileSource(clip) as source:
            stats = run(source, source.info, m, _AlphaOut(), [Output(sink, "alpha")])
        assert stats.frames == 14
        results.append(sink.frames)
    best, balanced = results
    assert [i for i, _ in best] == list(range(14))  # every frame, in order
    diff = [np.abs(a.astype(int) - b.astype(int)) for (_, a), (_, b) in zip(best, balanced)]
    assert max(d.max() for d in diff) > 0  # the look-ahead changed the matte
    assert np.mean([d.mean() for d in diff]) < 2.0  # ... at its edges only


class _AlphaOut:
    alpha = False

    def apply(self, image, alpha):
        return image

    def reset(self):
        pass


def test_eval_scores_a_look_ahead_matters_frames_in_their_places(data):
    """A matter that hands frames out two later (and the rest at the end) scores exactly as one
    that answers at once, also with a frame missing in the middle."""
    from livematte.evaluate import evaluate
    from livematte.lookahead import LookaheadMatter

    from .test_evaluate import Matter as Threshold

    class TwoLater(LookaheadMatter):
        def __init__(self):
            self.inner, self.waiting = Threshold(lambda m, f: m * (0.5 + 0.1 * f.index)), []

        def reset(self):
            self.inner.reset()
            self.waiting = []

        def push(self, frame):
            self.waiting.append((frame, self.inner(frame)))
            return [self.waiting.pop(0)] if len(self.waiting) > 2 else []

        def flush(self):
            out, self.waiting = self.waiting, []
            return out

    (data / "moving" / "frames" / "00002.jpg").unlink()
    now = evaluate(data, lambda: Threshold(lambda m, f: m * (0.5 + 0.1 * f.index)))
    later = evaluate(data, TwoLater)
    assert later["per_sequence"] == now["per_sequence"] and later["run"]["frames"] == now["run"]["frames"] == 10


def test_model_every_reuses_the_model_outputs_only_while_still():
    from livematte.matter import build_matter

    cfg = Config()
    cfg.override("quality", model_every=2)
    m = build_matter(cfg)
    still = sample_frame(30)
    moved = np.ascontiguousarray(np.roll(still, 60, axis=1))
    reused, alphas = [], []
    for image in [still] * 5 + [moved, moved]:
        state = m.front(image)
        reused.append(state.reused)
        alphas.append(m.back(state))
    assert reused == [False, True, False, True, False, False, True]  # every second still frame; not on motion
    assert np.abs(alphas[1] - alphas[0]).max() < 0.05  # the same person, refined and smoothed again
    # a reused frame reuses the refiner's fit of the same tiles: the matte of fitting them again
    again = build_matter(cfg)
    again._tile_fits = lambda state: [None] * len(state.tiles)  # fit on every frame
    for image, alpha in zip([still] * 5 + [moved, moved], alphas):
        assert np.array_equal(again.back(again.front(image)), alpha)
    assert alphas[1] is not alphas[0]  # guided refinement follows the new frame: a matte of its own
    plain = build_matter(Config().override("quality", model_every=1))
    assert not any(plain.front(still).reused for _ in range(3))
    # without refinement (fast) a reused frame's matte is the last one, smoothing included; the
    # smoother sees the frame's motion all the same (a moved frame then runs the models again)
    cfg = Config()
    cfg.override("quality", profile="fast", temporal="motion")
    m = build_matter(cfg)
    states, alphas, seen = [], [], []
    for image in [still, np.ascontiguousarray(still[:, ::-1][:, ::-1]), still, moved]:
        states.append(m.front(image))
        alphas.append(m.back(states[-1]))
        seen.append(m.smoother._grey)
    assert [s.reused for s in states] == [False, True, False, False]
    assert alphas[1] is alphas[0] and not alphas[1].flags.writeable
    assert np.abs(alphas[2] - alphas[0]).max() < 0.05 and alphas[2] is not alphas[0]
    assert seen[1] is not seen[0] and np.array_equal(seen[1], states[1].thumb_grey)  # the reused frame's picture
