"""Presets and option checking: what a user writes in a TOML file."""
import pytest

from livematte.config import Config, from_dict, list_presets, load_config
from livematte.effects import make_effect
from livematte.types import LivematteError


def test_every_shipped_preset_loads_and_builds_its_effect():
    names = list_presets()
    assert {"meeting-blur", "green-screen", "transparent-overlay", "product-white"} <= set(names)
    for name in names:
        cfg = load_config(name)
        make_effect(cfg.effect.background, blur_strength=cfg.effect.blur_strength)
    assert load_config("green-screen").effect.background.startswith("chroma")
    assert make_effect(load_config("transparent-overlay").effect.background).alpha


def test_flags_override_the_preset_and_none_means_not_given():
    cfg = load_config("green-screen").override("effect", background="white", blur_strength=None)
    assert cfg.effect.background == "white" and cfg.effect.blur_strength == Config().effect.blur_strength


def test_a_toml_file_by_path(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('[mask]\nfeather = 2\ngrow = -3\n[quality]\nroi = false\n')
    cfg = load_config(str(path))
    assert cfg.mask.feather == 2.0 and isinstance(cfg.mask.feather, float) and cfg.mask.grow == -3
    assert cfg.quality.roi is False


@pytest.mark.parametrize("text,needle", [
    ("[nope]\nx = 1\n", "unknown section [nope]"),
    ("[mask]\nblur = 1\n", "unknown key 'blur'"),
    ("[mask]\ngrow = 'big'\n", "grow must be int"),
    ("[quality]\nradius = true\n", "radius must be int"),
    ("[mask]\nfeather = true\n", "feather must be float"),
    ("[model]\nweights = 5\n", "weights must be a string"),
    ("[mask\n", "not valid TOML"),
    ('[model]\nengine = "gpu"\n', "[model] engine must be auto, numpy or torch, got 'gpu'"),
    ("[model]\nengine = 1\n", "engine must be str"),
])
def test_bad_config_files_are_one_line_errors(tmp_path, text, needle):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(LivematteError) as err:
        load_config(str(path))
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(LivematteError, match="meeting-blur"):
        load_config("no-such-preset")
    with pytest.raises(LivematteError):
        from_dict({"effect": "blur"})


def test_presets_are_package_data_found_from_any_folder(tmp_path, monkeypatch):
    from importlib import resources

    monkeypatch.chdir(tmp_path)
    folder = resources.files("livematte.presets")
    assert {f.name for f in folder.iterdir() if f.name.endswith(".toml")} == {f"{n}.toml" for n in list_presets()}
    assert load_config("meeting-blur").effect.background == "blur"
    (tmp_path / "meeting-blur.toml").write_text('[effect]\nbackground = "white"\n')  # a file by path wins
    assert load_config("meeting-blur.toml").effect.background == "white"
    assert load_config("./meeting-blur.toml").effect.background == "white"
    with pytest.raises(LivematteError) as err:
        load_config("./missing.toml")
    assert "missing.toml" in str(err.value) and "meeting-blur" in str(err.value)


def test_engine_is_checked():
    from livematte.config import ModelConfig

    assert [ModelConfig(engine=e).validate().engine for e in ("auto", "numpy", "torch")] == ["auto", "numpy", "torch"]
    with pytest.raises(LivematteError, match="engine must be auto, numpy or torch, got 'cuda'"):
        ModelConfig(engine="cuda").validate()
    assert load_config(None).model.engine == "auto"
