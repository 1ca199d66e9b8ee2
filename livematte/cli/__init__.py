"""The ``livematte`` command. The only package that prints or exits.

One module per job: :mod:`.files` (video, matte), :mod:`.stills` (image), :mod:`.serve` (serve),
:mod:`.live` (cam), :mod:`.tools` (bench, eval, doctor, models), :mod:`.common` (the shared
processing flags and the Config they make).

Exit codes: 0 success, 1 a check failed (``doctor``), 2 a user error (one line on stderr),
128 + N stopped by signal N (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP, 131 SIGQUIT: outputs are finished
and renamed into place first; see :mod:`livematte.signals`).
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional

from .. import signals as _signals

if os.path.basename(sys.argv[0]) in ("livematte", "__main__.py"):  # the program, not an import
    _signals.install(early=True)  # Ctrl-C while the libraries load: exit 130, no traceback
os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe / TFLite chatter on stderr
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")

from .. import __version__  # noqa: E402
from ..types import LivematteError  # noqa: E402
from . import batch, files, live, serve, stills, tools  # noqa: E402

# the subcommands in the order ``livematte --help`` lists them
COMMANDS = (files.add_video, stills.add_image, files.add_matte, tools.add_bench, tools.add_eval, live.add_cam,
            batch.add_batch, serve.add_serve, tools.add_doctor, tools.add_models)


def build_parser() -> argparse.ArgumentParser:
    """The ``livematte`` parser with every subcommand; ``args.func(args)`` runs the one chosen."""
    p = argparse.ArgumentParser(prog="livematte", description="Remove or replace the background of people in video and images.")
    p.add_argument("--version", action="version", version=f"livematte {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add in COMMANDS:
        add(sub)
    return p


def _load_libraries() -> None:
    """Import what the commands run on (numpy, OpenCV, PyAV, through the API) while a stop signal
    still exits at once (the early handler): once a command runs, a Ctrl-C in the middle of a C
    extension's import (OpenCV's numpy bootstrap) would come out as an ImportError, a traceback
    and exit 1 instead of 130 (tests/test_faults.py, seen under load)."""
    from .. import api  # noqa: F401


def main(argv: Optional[List[str]] = None) -> int:
    """Run ``livematte ARGV``; returns the exit code (LivematteError -> one line on stderr, 2;
    a stop signal -> 128 + its number, after the command finished what it had written)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _load_libraries()
    with _signals.handling():
        try:
            code = args.func(args)
        except LivematteError as err:
            print(f"livematte: error: {err}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("livematte: interrupted", file=sys.stderr)
            return _signals.exit_code()
        return _signals.exit_code() if _signals.received() is not None else code
