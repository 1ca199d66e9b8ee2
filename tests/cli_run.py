"""An in-process ``livematte`` runner for tests: no interpreter start per call, no model files found."""
import pytest


class Run:
    """What one ``livematte`` call gave: ``returncode``, ``stdout``, ``stderr``."""

    def __init__(self, code, out, err):
        self.returncode, self.stdout, self.stderr = code, out, err


@pytest.fixture
def cli(tmp_path, monkeypatch, capfd):
    """``cli(*ARGS)`` runs ``livematte ARGS`` in this process (a fresh parser per call) in ``tmp_path``;
    the weights and rembg folders point at ``tmp_path/lw``, ``u2``, ``rh`` (empty unless a test fills them)."""
    from livematte.cli import main

    monkeypatch.chdir(tmp_path)
    for var, sub in (("LIVEMATTE_WEIGHTS", "lw"), ("U2NET_HOME", "u2"), ("REMBG_HOME", "rh")):
        monkeypatch.setenv(var, str(tmp_path / sub))

    def run(*args):
        capfd.readouterr()
        code = main(list(args))
        out, err = capfd.readouterr()
        return Run(code, out, err)

    return run
