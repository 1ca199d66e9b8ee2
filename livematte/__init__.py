"""livematte: real-time video background removal and replacement.

The public names are imported on first use (PEP 562), so ``import livematte`` is instant and the
command line can take over Ctrl-C before the heavy libraries load.
"""
__version__ = "0.1.0"

import importlib

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
