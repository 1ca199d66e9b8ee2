"""Files of the source checkout that an installed wheel does not ship: the sample clip and picture.

An installed package never needs them: only ``make demo`` and ``livematte bench`` without ``--clip``
use them, and they look in the checkout the package runs from, else in ``./samples``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from .types import LivematteError

_PACKAGE_PARENT = Path(__file__).resolve().parents[1]


def source_checkout() -> Optional[Path]:
    """The source checkout this package runs from (a ``pyproject.toml`` beside it), else None."""
    root = _PACKAGE_PARENT
    if (root / "pyproject.toml").is_file() and (root / "livematte").is_dir():
        return root
    return None


def sample_path(name: str, hint: str = "run from the checkout") -> str:
    """Path of ``samples/NAME``: in the source checkout, else under the current folder.

    Raises LivematteError (one line, ending in ``hint``) when neither has it, as from an installed
    wheel run elsewhere.
    """
    root = source_checkout()
    for folder in ([root / "samples"] if root else []) + [Path.cwd() / "samples"]:
        path = folder / name
        if path.is_file():
            return str(path)
    raise LivematteError(f"samples/{name} not found: it comes with the source checkout, not the installed package; "
                         f"{hint}")


def out_root() -> str:
    """Where ``make demo`` writes ``out/``: the source checkout, else the current folder."""
    root = source_checkout()
    return str(root) if root else os.getcwd()
