"""Every config key with wrong types and out-of-range values: one ``LivematteError`` line each."""
from __future__ import annotations

import dataclasses
import typing

import pytest

from livematte.cli import main
from livematte.config import Config, load_config
from livematte.config_check import CHOICES, RANGES, _kind
from livematte.types import LivematteError


def _keys():
    cfg = Config()
    for section in dataclasses.fields(cfg):
        target = getattr(cfg, section.name)
        for f in dataclasses.fields(target):
            yield section.name, f.name, _kind(type(target), f.name)[0]


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)


def _bad_values(section: str, key: str, kind: type) -> typing.List[str]:
    """TOML literals that must be refused for one key."""
    wrong_type = {bool: ["1", '"yes"'], int: ["1.5", "true", '"3"'], float: ['"x"', "true"], str: ["5", "[1]"]}[kind]
    bad = list(wrong_type)
    if kind is float:
        bad += ["nan", "inf", "-inf"]
    bounds = RANGES.get((section, key))
    if bounds is not None:
        low, high, low_in, high_in = bounds
        step = 1 if kind is int else 0.001
        bad.append(_toml(kind(low - step) if low_in else kind(low)))
        bad.append(_toml(kind(high + step) if high_in else kind(high)))
    if (section, key) in CHOICES or (section, key) == ("model", "engine"):
        bad.append('"bogus"')
    return bad


CASES = [(s, k, v) for s, k, kind in _keys() for v in _bad_values(s, k, kind)]


def test_every_number_has_a_range():
    numbers = [(s, k) for s, k, kind in _keys() if kind in (int, float)]
    assert numbers and [key for key in numbers if key not in RANGES] == []


@pytest.mark.parametrize("section, key, literal", CASES, ids=[f"{s}.{k}={v}" for s, k, v in CASES])
def test_a_bad_value_is_one_line_naming_the_key(tmp_path, section, key, literal):
    path = tmp_path / "bad.toml"
    path.write_text(f"[{section}]\n{key} = {literal}\n")
    with pytest.raises(LivematteError) as err:
        load_config(str(path))
    message = str(err.value)
    assert f"[{section}] {key}" in message and "\n" not in message


def test_documented_keys_take_their_values(tmp_path):
    path = tmp_path / "good.toml"
    path.write_text("[mask]\nthreshold = 0.5\nfeather = 2\n[model]\nthreads = 2\n[effect]\nblur_strength = 10\n")
    cfg = load_config(str(path))
    assert cfg.mask.threshold == 0.5 and cfg.mask.feather == 2.0 and cfg.model.threads == 2
    assert isinstance(cfg.effect.blur_strength, float)


@pytest.mark.parametrize("flags, needle", [
    (["--blur", "nan"], "blur_strength must be a finite number"),
    (["--feather", "inf"], "feather must be a finite number"),
    (["--threshold", "1.5"], "threshold must be in (0, 1)"),
    (["--smoothing", "-0.1"], "smoothing must be in [0, 1)"),
    (["--grow", "999"], "grow must be in [-200, 200]"),
])
def test_bad_flag_numbers_are_one_line_errors(capsys, tmp_path, flags, needle):
    code = main(["video", str(tmp_path / "in.mp4"), "-o", str(tmp_path / "out.mp4"), *flags])
    err = capsys.readouterr().err
    assert code == 2 and needle in err and err.count("\n") == 1 and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []
