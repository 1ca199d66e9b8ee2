"""Backend specs (livematte.models.registry.spec) against the backends and model files they describe,
the bundled-file lookup, and the import structure of livematte.models."""
import ast
import importlib
import importlib.util
import pathlib

import numpy as np
import pytest

from livematte.models import bundled, registry
from livematte.models.spec import BackendSpec
from livematte.types import LivematteError

MODELS_DIR = pathlib.Path(registry.__file__).parent
needs_mediapipe = pytest.mark.skipif(importlib.util.find_spec("mediapipe") is None,
                                     reason="mediapipe 0.10.21 (the bundled model files) is not installed")


def test_every_registered_backend_has_a_spec_and_its_module_meets_the_contract():
    assert registry.names() == [s.name for s in registry.specs()]
    for name in registry.names():
        s = registry.spec(name)
        assert s.name == name and s.description
        module = registry.backend_module(name)
        assert callable(module.create) and callable(module.backend_info)
        if s.family == "matting":
            assert callable(module.network) and callable(module.wrap)
        row = registry.info(name)
        assert row.spec is s and row.resolution == s.input_size


def test_matting_models_is_derived_from_the_specs():
    assert registry.MATTING_MODELS == tuple(n for n in registry.names() if registry.spec(n).family == "matting")
    assert set(registry.MATTING_MODELS) == {"modnet", "rvm"}


@pytest.mark.parametrize("bad", ["nope", "", None, "Selfie"])
def test_an_unknown_name_is_a_one_line_error_listing_the_valid_ones(bad):
    for call in (registry.spec, registry.create, registry.info, registry.backend_module):
        with pytest.raises(LivematteError) as err:
            call(bad)
        message = str(err.value)
        assert "\n" not in message and f"unknown model {bad!r}" in message
        assert all(n in message for n in registry.names())


def test_partner_relations_are_symmetric_within_a_family():
    for s in registry.specs():
        if s.partner is not None:
            other = registry.spec(s.partner)
            assert other.partner == s.name and other.family == s.family and other.model_input == s.model_input
    assert registry.spec("selfie").partner == "selfie-landscape"
    assert registry.spec("modnet").partner is None and registry.spec("rvm").partner is None


def test_a_spec_that_contradicts_itself_is_refused():
    good = registry.spec("selfie")
    fields = {f: getattr(good, f) for f in good.__dataclass_fields__}
    for change in ({"family": "segmenter"}, {"engines": ("numpy", "jax")}, {"input_size": None},
                   {"partner": "selfie"}, {"resize": "nearest"}):
        with pytest.raises(ValueError, match="backend spec 'selfie'"):
            BackendSpec(**{**fields, **change})
    with pytest.raises(Exception):  # frozen
        good.recurrent = True


def test_input_range_follows_mean_and_std():
    assert registry.spec("selfie").input_range == (0.0, 1.0)
    assert registry.spec("modnet").input_range == (-1.0, 1.0)
    assert registry.spec("rvm").input_range == (0.0, 1.0)


@needs_mediapipe
@pytest.mark.parametrize("name", registry.names("selfie"))
def test_the_selfie_input_size_is_the_model_files_input_tensor(name):
    from livematte.models.tflite_reader import read_tflite

    model = read_tflite(bundled.selfie_model_path(name))
    shape_in = model.tensors[model.inputs[0]].shape
    shape_out = model.tensors[model.outputs[0]].shape
    h, w = registry.spec(name).input_size
    assert tuple(shape_in) == (1, h, w, 3)  # NHWC RGB
    assert tuple(shape_out) == (1, h, w, 1)  # the probability, at model size (output == "model")


@needs_mediapipe
@pytest.mark.parametrize("name", registry.names("selfie"))
def test_a_selfie_backend_takes_model_size_input_as_its_spec_says(name):
    pytest.importorskip("ai_edge_litert", reason="LiteRT runs the selfie file here")
    s = registry.spec(name)
    seg = registry.create(name, runtime="litert")
    assert s.model_input and tuple(seg.input_size) == s.input_size
    x = np.full((*s.input_size, 3), 128, np.uint8)
    assert seg.predict_model_input(x).shape == s.input_size
    assert seg.predict(np.zeros((90, 160, 3), np.uint8)).shape == s.input_size
    with pytest.raises(LivematteError, match="runtime"):
        registry.create(name, runtime="onnx")


@pytest.mark.parametrize("name", registry.names("matting"))
def test_random_weights_build_each_matting_backend_from_its_spec(name):
    """The network sees values in the spec's input range; recurrence, output grid and model_input as declared."""
    pytest.importorskip("torch")
    from livematte.models.random_weights import MODELS, random_backend, smooth_picture

    s = registry.spec(name)
    assert name in MODELS and s.needs_weights
    seg = random_backend(name, device="cpu", **({"ref_size": 64} if name == "modnet" else {}))
    assert seg.name == name and seg.checkpoint == "random"
    assert hasattr(seg, "predict_model_input") == s.model_input
    seen = []
    hook = seg.net.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach().clone()))
    frame = np.zeros((64, 64, 3), np.uint8)  # at a working size for both: no resize, exact extremes
    frame[:, 32:] = 255
    try:
        out = seg.predict(frame)
    finally:
        hook.remove()
    lo, hi = s.input_range
    assert float(seen[0].min()) == pytest.approx(lo) and float(seen[0].max()) == pytest.approx(hi)
    assert out.shape == (64, 64)
    big = seg.predict(smooth_picture(96, 160))
    assert big.shape == ((96, 160) if s.output == "frame" else (64, 96))  # modnet: short side ref_size 64
    if s.recurrent:  # memory across frames, cleared by reset()
        assert seg.has_state
        seg.reset()
        assert not seg.has_state
    else:
        assert not hasattr(seg, "has_state")


@pytest.mark.parametrize("name", registry.names("selfie"))
def test_random_weights_refuse_a_backend_with_shipped_weights(name):
    pytest.importorskip("torch")
    from livematte.models.random_weights import random_network

    with pytest.raises(LivematteError, match="ships with its own weights"):
        random_network(name)
    with pytest.raises(LivematteError, match="unknown model"):
        random_network("nope")


# ----------------------------------------------------------------------------- bundled files
@needs_mediapipe
@pytest.mark.parametrize("name", sorted(bundled.FILES))
def test_each_bundled_name_resolves_to_a_file_in_the_installed_mediapipe(name):
    found = pathlib.Path(bundled.path(name))
    assert found.is_file() and found.stat().st_size > 0
    assert found.parts[-2:] == bundled.FILES[name]
    if found.suffix == ".tflite" and importlib.util.find_spec("ai_edge_litert"):  # a model LiteRT opens
        from ai_edge_litert.interpreter import Interpreter

        shape = Interpreter(model_path=str(found)).get_input_details()[0]["shape"]
        assert len(shape) == 4 and shape[0] == 1 and shape[3] == 3  # one NHWC RGB image


def test_the_detector_files_of_issue_13_are_named():
    files = {f for _, f in bundled.FILES.values()}
    assert {"pose_detection.tflite", "face_detection_short_range.tflite",
            "face_detection_full_range_sparse.tflite"} <= files


@needs_mediapipe
def test_a_missing_bundled_file_is_one_line_naming_it_and_the_fix(monkeypatch):
    monkeypatch.setitem(bundled.FILES, "selfie", ("selfie_segmentation", "gone.tflite"))
    with pytest.raises(LivematteError) as err:
        bundled.selfie_model_path("selfie")
    message = str(err.value)
    assert "\n" not in message and "gone.tflite" in message and "model file missing" in message
    assert "pip install mediapipe==0.10.21" in message
    info = registry.info("selfie")
    assert not info.available and "gone.tflite" in info.reason


def test_no_mediapipe_is_one_line_with_the_fix(monkeypatch):
    monkeypatch.setattr(bundled.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(LivematteError, match=r"^mediapipe is not installed: pip install mediapipe==0\.10\.21$"):
        bundled.path("pose")


def test_unknown_bundled_and_selfie_names_are_user_errors():
    with pytest.raises(LivematteError, match="no bundled model file 'nope'"):
        bundled.path("nope")
    with pytest.raises(LivematteError, match="unknown selfie model 'modnet'; choose one of: selfie, selfie-landscape"):
        bundled.selfie_model_path("modnet")


# ----------------------------------------------------------------------------- import structure
def _module_level_imports(path: pathlib.Path):
    """(module, level, names) of the imports run when ``path`` is imported (not those inside
    functions or classes, nor under ``if TYPE_CHECKING``)."""
    out = []

    def visit(body):
        for node in body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, ast.ImportFrom):
                out.append((node.module or "", node.level, [a.name for a in node.names]))
            elif isinstance(node, ast.Import):
                out.extend((a.name, 0, []) for a in node.names)
            elif isinstance(node, (ast.If, ast.Try, ast.With)):
                visit(node.body)
                visit(getattr(node, "orelse", []))
                for h in getattr(node, "handlers", []):
                    visit(h.body)
                visit(getattr(node, "finalbody", []))

    visit(ast.parse(path.read_text()).body)
    return out


def test_no_module_level_import_cycle_among_livematte_models():
    modules = {p.stem for p in MODELS_DIR.glob("*.py")} - {"__init__"}
    graph = {}
    for stem in modules:
        edges = set()
        for module, level, names in _module_level_imports(MODELS_DIR / f"{stem}.py"):
            if level == 1:
                target = module.split(".")[0] if module else None
                edges.update({target} if target else set(names))
            elif module.startswith("livematte.models."):
                edges.add(module.split(".")[2])
        graph[stem] = edges & modules

    def reaches(start, goal, seen):
        for n in graph[start]:
            if n == goal or (n not in seen and reaches(n, goal, seen | {n})):
                return True
        return False

    assert [m for m in sorted(modules) if reaches(m, m, {m})] == []
    # the cycle of issue #12: pose -> selfie -> torch_port -> pose
    assert "selfie" not in graph["pose"] and "pose" not in graph["torch_port"] and "selfie" not in graph["torch_port"]


def test_no_private_name_is_imported_across_livematte_models():
    private = []
    for p in sorted(MODELS_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("livematte")):
                private += [f"{p.name}: {a.name}" for a in node.names if a.name.startswith("_")]
    assert private == []


@pytest.mark.parametrize("stem", sorted(p.stem for p in MODELS_DIR.glob("*.py")))
def test_each_models_module_imports(stem):
    if stem in ("modnet", "rvm", "random_weights", "checkpoints", "mobilenet", "torch_port"):
        pytest.importorskip("torch")
    importlib.import_module("livematte.models" if stem == "__init__" else f"livematte.models.{stem}")
