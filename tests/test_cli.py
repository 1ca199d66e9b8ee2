"""The command line end to end: real files in, real encoders out, bad input as one-line errors."""
import os
import shutil
import signal
import subprocess
import sys
import time

import av
import cv2
import numpy as np
import pytest

from livematte.bench import make_clip
from livematte.cli import build_parser, main
from livematte.cli.common import config_from_args

from .helpers import REPO, SAMPLES, sample_frame, x264_options

SAMPLE = os.path.join(SAMPLES, "person.mp4")
BACKGROUND = os.path.join(SAMPLES, "background.jpg")


@pytest.fixture(scope="module")
def small_clip(tmp_path_factory):
    """A 320x180, 30-frame cut of the sample clip (a real person), no audio."""
    path = str(tmp_path_factory.mktemp("clip") / "small.mp4")
    make_clip(path, (320, 180), 1.0)
    return path


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def probe(path):
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        n = sum(1 for _ in c.decode(video=0))
        return {"frames": n, "rate": v.average_rate, "audio": len(c.streams.audio), "size": (v.width, v.height)}


def one_line_error(code, err, *needles):
    assert code == 2, err
    lines = [l for l in err.strip().splitlines() if l]
    assert len(lines) == 1 and lines[0].startswith("livematte: error: "), err
    for n in needles:
        assert n in lines[0], (n, lines[0])


def test_video_keeps_frames_rate_and_audio(capsys, tmp_path):
    out = tmp_path / "out.mp4"
    code, stdout, err = run_cli(capsys, "video", SAMPLE, "-o", out, "--background", "blur")
    assert code == 0, err
    src, got = probe(SAMPLE), probe(out)
    assert got["frames"] == src["frames"] == 120
    assert got["rate"] == src["rate"] and got["size"] == src["size"]
    assert src["audio"] == 1 and got["audio"] == 1
    assert not [p for p in os.listdir(tmp_path) if p != "out.mp4"], "temporary files left behind"
    x264 = x264_options(out)  # a file keeps the files' encoder settings (veryfast; cam's are live ones)
    assert (x264["subme"], x264["bframes"], x264["rc_lookahead"]) == ("2", "3", "10")


def test_transparent_webm_and_alpha_out_match_matte_command(capsys, tmp_path, small_clip):
    from livematte.sources.video import read_alpha_frames

    webm, alpha_dir, mattes = tmp_path / "cut.webm", str(tmp_path / "alpha") + os.sep, tmp_path / "mattes"
    code, _, err = run_cli(capsys, "video", small_clip, "-o", webm, "--background", "transparent", "--alpha-out", alpha_dir)
    assert code == 0, err
    code, _, err = run_cli(capsys, "matte", small_clip, "--out", mattes)
    assert code == 0, err
    names = sorted(os.listdir(mattes))
    assert names[0] == "00000.png" and len(names) == 30
    assert names == sorted(os.listdir(alpha_dir))
    for name in names[::7]:  # `matte` applies exactly the processing `video` applies
        a = cv2.imread(os.path.join(mattes, name), cv2.IMREAD_UNCHANGED)
        b = cv2.imread(os.path.join(alpha_dir, name), cv2.IMREAD_UNCHANGED)
        assert a.ndim == 2 and a.dtype == np.uint8 and (a == b).all()
    rgba = read_alpha_frames(str(webm))
    assert len(rgba) == 30
    matte = cv2.imread(os.path.join(mattes, names[15]), cv2.IMREAD_UNCHANGED)
    person, background = matte > 250, matte < 5
    assert person.mean() > 0.05 and background.mean() > 0.3
    assert rgba[15][..., 3][person].mean() > 240 and rgba[15][..., 3][background].mean() < 15


def test_image_effects_and_formats(capsys, tmp_path):
    still = tmp_path / "still.png"
    with av.open(SAMPLE) as c:
        frame = next(f for i, f in enumerate(c.decode(video=0)) if i == 60).to_ndarray(format="rgb24")
    cv2.imwrite(str(still), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    code, _, err = run_cli(capsys, "image", still, "-o", tmp_path / "cut.png", "--background", "transparent")
    assert code == 0, err
    rgba = cv2.imread(str(tmp_path / "cut.png"), cv2.IMREAD_UNCHANGED)
    assert rgba.shape == (720, 1280, 4) and rgba[..., 3].min() < 5 and rgba[..., 3].max() > 250
    code, _, err = run_cli(capsys, "image", still, "-o", tmp_path / "white.jpg", "--config", "product-white")
    assert code == 0, err
    white = cv2.imread(str(tmp_path / "white.jpg"))
    assert (white[:40, :40] > 245).all()  # a corner of the room is background
    code, _, err = run_cli(capsys, "image", still, still, "-o", tmp_path / "many")
    one_line_error(code, err, "would both be written to")


def test_preset_and_override(capsys, tmp_path, small_clip):
    out = tmp_path / "green.png"
    with av.open(small_clip) as c:
        img = next(c.decode(video=0)).to_ndarray(format="rgb24")
    still = tmp_path / "s.png"
    cv2.imwrite(str(still), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    assert run_cli(capsys, "image", still, "-o", out, "--config", "green-screen")[0] == 0
    assert tuple(cv2.imread(str(out))[2, 2]) == (0, 255, 0)  # BGR of pure green
    assert run_cli(capsys, "image", still, "-o", out, "--config", "green-screen", "--background", "blue")[0] == 0
    assert tuple(cv2.imread(str(out))[2, 2]) == (255, 0, 0)  # BGR of pure blue


@pytest.mark.parametrize("name,needles", [
    ("transparent.mp4", [".mp4", ".webm", ".mov"]),
])
def test_transparency_in_a_format_that_cannot_hold_it(capsys, tmp_path, small_clip, name, needles):
    code, _, err = run_cli(capsys, "video", small_clip, "-o", tmp_path / name, "--background", "transparent")
    one_line_error(code, err, *needles)
    assert os.listdir(tmp_path) == []


def test_transparency_to_jpeg_is_flattened(capsys, tmp_path):
    still = tmp_path / "person.png"  # a person: the picture has a subject whatever --subject decides
    cv2.imwrite(str(still), cv2.cvtColor(sample_frame(30), cv2.COLOR_RGB2BGR))
    code, _, err = run_cli(capsys, "image", still, "-o", tmp_path / "x.jpg", "--background", "transparent")
    assert code == 0, err
    flat = cv2.imread(str(tmp_path / "x.jpg"))
    assert flat.shape == (720, 1280, 3) and (flat[:20, :20] > 245).all()  # the room flattened onto white


def test_bad_inputs_are_one_line_errors(capsys, tmp_path):
    garbage_video = tmp_path / "garbage.mp4"
    garbage_video.write_bytes(os.urandom(5000))
    garbage_image = tmp_path / "garbage.jpg"
    garbage_image.write_bytes(b"this is not a picture")
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    cases = [
        (["video", tmp_path / "missing.mp4", "-o", tmp_path / "o.mp4"], "missing.mp4"),
        (["video", garbage_video, "-o", tmp_path / "o.mp4"], "garbage.mp4"),
        (["image", garbage_image, "-o", tmp_path / "o.png"], "garbage.jpg"),
        (["image", tmp_path / "missing.png", "-o", tmp_path / "o.png"], "missing.png"),
        (["video", empty_dir, "-o", tmp_path / "o.mp4"], "empty"),
        (["video", SAMPLE, "-o", tmp_path / "o.xyz"], "o.xyz"),
        (["video", SAMPLE, "-o", tmp_path / "nodir" / "o.mp4"], "does not exist"),
        (["video", SAMPLE, "-o", tmp_path / "o.mp4", "--config", "no-such-preset"], "no-such-preset"),
        (["video", SAMPLE, "-o", tmp_path / "o.mp4", "--model", "nope"], "nope"),
        (["video", SAMPLE, "-o", tmp_path / "o.mp4", "--threshold", "3"], "threshold"),
        (["video", SAMPLE, "-o", tmp_path / "o.mp4", "--crf", "-5"], "crf"),
        (["video", SAMPLE, "-o", tmp_path / "o.webm", "--crf", "99"], "crf"),
        (["video", SAMPLE, "-o", tmp_path / "o.mp4", "--preset", "bogus"], "bogus"),
        (["video", BACKGROUND, "-o", tmp_path / "o.mp4"], "livematte image"),  # a still is not a video
    ]
    for argv, needle in cases:
        code, _, err = run_cli(capsys, *argv)
        one_line_error(code, err, needle)
    leftovers = sorted(p for p in os.listdir(tmp_path) if p.startswith("o"))
    assert leftovers == [], leftovers


def test_outputs_that_would_clobber_inputs_or_each_other_are_one_line_errors(capsys, tmp_path, small_clip):
    clip = tmp_path / "clip.mp4"
    shutil.copy(small_clip, clip)
    before = clip.read_bytes()
    still = tmp_path / "s.png"
    cv2.imwrite(str(still), np.full((40, 60, 3), 90, np.uint8))
    a_file = tmp_path / "a_file"
    a_file.write_text("keep")
    bad_utf8 = tmp_path / "latin1.toml"
    bad_utf8.write_bytes(b"[effect]\nbackground = '\xe9'\n")
    cases = [
        (["video", clip, "-o", clip], "is the input file"),
        (["video", clip, "-o", tmp_path / "o.mp4", "--alpha-out", tmp_path / "o.mp4"], "same file"),
        (["video", clip, "-o", tmp_path / "o.mp4", "--alpha-out", clip], "is the input file"),
        (["image", still, "-o", still], "is the input file"),
        (["image", still, still, "-o", a_file], "is a file"),
        (["video", clip, "-o", tmp_path / "o.mp4", "--config", bad_utf8], "latin1.toml"),
    ]
    for argv, needle in cases:
        code, _, err = run_cli(capsys, *argv)
        one_line_error(code, err, needle)
    assert clip.read_bytes() == before and a_file.read_text() == "keep"
    assert sorted(os.listdir(tmp_path)) == ["a_file", "clip.mp4", "latin1.toml", "s.png"]


def test_report_files_are_checked_before_the_work(capsys, tmp_path, small_clip):
    nodir = tmp_path / "nodir"
    cases = [
        (["bench", "--clip", small_clip, "--json", nodir / "b.json"], "nodir"),
        (["eval", tmp_path, "--json", nodir / "e.json"], "nodir"),
        (["cam", "--source", small_clip, "--to", "null", "--stats-json", nodir / "s.json"], "nodir"),
        (["cam", "--source", small_clip, "--to", tmp_path / "r.mp4", "--to", tmp_path / "r.mp4"], "given twice"),
    ]
    for argv, needle in cases:
        started = time.perf_counter()
        code, _, err = run_cli(capsys, *argv)
        one_line_error(code, err, needle)
        assert time.perf_counter() - started < 5  # refused up front, not after the run
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "--seconds", "0"])
    assert exit_info.value.code == 2 and "--seconds: must be > 0" in capsys.readouterr().err
    assert os.listdir(tmp_path) == []


def test_zero_frame_video(capsys, tmp_path):
    path = tmp_path / "zero.mp4"
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=30)
        s.width, s.height = 64, 64
    code, _, err = run_cli(capsys, "video", path, "-o", tmp_path / "o.mp4")
    one_line_error(code, err, "zero.mp4")
    assert not (tmp_path / "o.mp4").exists()


def test_truncated_video_gives_playable_output_of_decoded_frames(capsys, tmp_path, small_clip):
    data = open(small_clip, "rb").read()
    cut = tmp_path / "cut.mp4"
    # move the index to the front first so a cut file still opens (like a recording that stopped)
    faststart = tmp_path / "fs.mp4"
    with av.open(small_clip) as src, av.open(str(faststart), "w", options={"movflags": "+faststart"}) as dst:
        s = dst.add_stream_from_template(src.streams.video[0])
        for p in src.demux(src.streams.video[0]):
            if p.dts is not None:
                p.stream = s
                dst.mux(p)
    data = faststart.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.6)])
    out = tmp_path / "o.mp4"
    code, stdout, err = run_cli(capsys, "video", cut, "-o", out)
    assert code == 0, err
    assert "warning" in err and "cut.mp4" in err
    n = probe(out)["frames"]
    assert 5 <= n < 30


def test_odd_size_video(capsys, tmp_path):
    src = tmp_path / "odd.mkv"
    with av.open(str(src), "w") as c:
        s = c.add_stream("ffv1", rate=25)
        s.width, s.height, s.pix_fmt = 101, 77, "yuv444p"
        for i in range(10):
            img = np.full((77, 101, 3), i * 20, np.uint8)
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    out = tmp_path / "o.mp4"
    code, _, err = run_cli(capsys, "video", src, "-o", out)
    assert code == 0, err
    assert probe(out)["frames"] == 10


def test_ctrl_c_leaves_a_playable_file(tmp_path):
    clip = str(tmp_path / "long.mp4")
    make_clip(clip, (640, 360), 10.0)  # 300 frames: still going when the first 20 kB are written
    out = tmp_path / "o.mp4"
    # --crf 8: the muxer writes in 256 kB blocks, so the first 20 kB show early in the run (at the default
    # crf the first block came after the last frame was matted: the 32 frames the presence window holds
    # are finished on Ctrl-C, so every frame was written)
    proc = subprocess.Popen([sys.executable, "-m", "livematte", "video", clip, "-o", str(out), "--crf", "8"], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline:  # wait until frames are being written
        tmp = [p for p in os.listdir(tmp_path) if p not in ("long.mp4",)]
        if tmp and os.path.getsize(tmp_path / tmp[0]) > 20000:
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert out.exists() and [p for p in os.listdir(tmp_path) if p not in ("long.mp4", "o.mp4")] == []
    n = probe(out)["frames"]
    assert 0 < n < 300


# ------------------------------------------------------------------------------ --engine, the package's shape

ENGINE_ARGV = {
    "video": ["video", "in.mp4", "-o", "out.mp4"],
    "image": ["image", "in.jpg", "-o", "out.png"],
    "matte": ["matte", "in.mp4", "--out", "mattes"],
    "cam": ["cam", "--to", "null"],
    "bench": ["bench"],
    "eval": ["eval", "data"],
}


def test_engine_flag_lands_in_the_config_of_every_processing_command(tmp_path):
    parser = build_parser()
    preset = tmp_path / "torch.toml"
    preset.write_text('[model]\nengine = "torch"\n')
    for name, argv in ENGINE_ARGV.items():
        assert config_from_args(parser.parse_args(argv)).model.engine == "auto", name
        for engine in ("numpy", "torch", "auto"):
            assert config_from_args(parser.parse_args(argv + ["--engine", engine])).model.engine == engine, name
        with_preset = argv + ["--config", str(preset)]
        assert config_from_args(parser.parse_args(with_preset)).model.engine == "torch", name
        assert config_from_args(parser.parse_args(with_preset + ["--engine", "numpy"])).model.engine == "numpy"


def test_engine_reaches_the_work_through_main(capsys, tmp_path, monkeypatch):
    from livematte.stills import job

    seen, real = [], job.still_matter
    monkeypatch.setattr(job, "still_matter", lambda config: seen.append(config) or real(config))
    still = tmp_path / "s.png"
    cv2.imwrite(str(still), np.full((40, 60, 3), 90, np.uint8))
    code, _, err = run_cli(capsys, "image", still, "-o", tmp_path / "o.png", "--engine", "numpy", "--subject", "person")
    assert code == 0, err  # (a flat grey picture: --subject auto would find nothing to cut out and write nothing)
    assert [c.model.engine for c in seen] == ["numpy"]


def test_a_wrong_engine_is_refused(capsys, tmp_path):
    for argv in ENGINE_ARGV.values():
        with pytest.raises(SystemExit) as exit_info:
            main(argv + ["--engine", "gpu"])
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and "--engine: invalid choice: 'gpu'" in err, err
    bad = tmp_path / "gpu.toml"
    bad.write_text('[model]\nengine = "gpu"\n')
    still = tmp_path / "s.png"
    cv2.imwrite(str(still), np.full((40, 60, 3), 90, np.uint8))
    code, _, err = run_cli(capsys, "image", still, "-o", tmp_path / "o.png", "--config", bad)
    one_line_error(code, err, "gpu.toml", "engine must be auto, numpy or torch")
    assert not (tmp_path / "o.png").exists()


def test_the_cli_package_imports_no_private_names_and_not_itself():
    import ast

    from livematte import cli

    folder = os.path.dirname(cli.__file__)
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".py"):
            continue
        tree = ast.parse(open(os.path.join(folder, name), encoding="utf-8").read())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                private = [a.name for a in node.names if a.name.startswith("_") and a.name != "__version__"]
                assert not private, (name, node.module, private)
                if name not in ("__init__.py", "__main__.py"):  # the job modules never import the package
                    assert not (node.level == 1 and node.module is None), (name, "from . import")
                    assert node.module != "livematte.cli", name
