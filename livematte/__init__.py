"""livematte: real-time video background removal and replacement.

The public names are imported on first use (PEP 562), so ``import livematte`` is instant and the
command line can take over Ctrl-C before the heavy libraries load.
"""
__version__ = "0.1.0"

import importlib
import os

#: OpenCV's worker threads spin after each parallel call before they sleep; livematte makes ~20 short
#: OpenCV calls a frame, so on a 2-core laptop the spinning cost ~8 ms of CPU per 720p frame (38 -> 30 ms
#: in ``livematte bench --baseline``, the wall time no longer). Set before OpenCV's pool starts (its
#: first parallel call); a value already in the environment wins. See BENCHMARKS.md (issue #17).
OPENCV_NO_SPIN = {"OPENCV_THREAD_POOL_ACTIVE_WAIT_PAUSE_LIMIT": "0", "OPENCV_THREAD_POOL_ACTIVE_WAIT_WORKER": "0",
                  "OPENCV_THREAD_POOL_ACTIVE_WAIT_MAIN": "0"}
for _name, _value in OPENCV_NO_SPIN.items():
    os.environ.setdefault(_name, _value)

_EXPORTS = {
    "Livematte": "api", "process_file": "api", "process_image": "api", "process_images": "api",
    "write_mattes": "api", "Config": "config", "load_config": "config", "Frame": "types",
    "LivematteError": "types", "StreamInfo": "types",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'livematte' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value
