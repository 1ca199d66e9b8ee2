"""The model files shipped inside the installed mediapipe 0.10.21, found without importing it.

mediapipe 0.10.21 is the last release that bundles its models (Apache-2.0) under
``mediapipe/modules/<module>/``; later releases ship none. :data:`FILES` names every file
livematte reads from there; :func:`path` finds one by that name. Nothing here imports
mediapipe (its import costs ~1 s and logs to stderr): the package is located with
``importlib.util.find_spec``.

>>> os.path.basename(path("selfie"))
'selfie_segmentation.tflite'
"""
from __future__ import annotations

import importlib.util
import os
from typing import Dict, Tuple

from ..types import LivematteError
from .registry import names

#: name -> (module folder under mediapipe/modules, file name)
FILES: Dict[str, Tuple[str, str]] = {
    # the selfie segmenters (backends "selfie" and "selfie-landscape") and MediaPipe's own graph for them
    "selfie": ("selfie_segmentation", "selfie_segmentation.tflite"),
    "selfie-landscape": ("selfie_segmentation", "selfie_segmentation_landscape.tflite"),
    "selfie-graph": ("selfie_segmentation", "selfie_segmentation_cpu.binarypb"),
    # BlazePose GHUM's landmark model, "full" variant: its segmentation output is the pose mask
    "pose": ("pose_landmark", "pose_landmark_full.tflite"),
    # person / face detectors (issue #13)
    "pose-detector": ("pose_detection", "pose_detection.tflite"),
    "face-short-range": ("face_detection", "face_detection_short_range.tflite"),
    "face-full-range": ("face_detection", "face_detection_full_range_sparse.tflite"),
}


def mediapipe_root() -> str:
    """The installed mediapipe package folder; LivematteError when mediapipe is not installed."""
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        raise LivematteError("mediapipe is not installed: pip install mediapipe==0.10.21")
    return list(spec.submodule_search_locations)[0]


def bundled_file(module: str, filename: str) -> str:
    """Path of ``mediapipe/modules/<module>/<filename>`` in the installed mediapipe.

    Raises LivematteError (one line, naming the file) when mediapipe or the file is missing.
    """
    found = os.path.join(mediapipe_root(), "modules", module, filename)
    if not os.path.isfile(found):
        raise LivematteError(f"{found}: model file missing; mediapipe 0.10.21 ships it (later releases do not): "
                             "pip install mediapipe==0.10.21")
    return found


def path(name: str) -> str:
    """Path of the bundled file called ``name`` in :data:`FILES`; LivematteError when unknown or missing."""
    if name not in FILES:
        raise LivematteError(f"no bundled model file {name!r}; known: {', '.join(FILES)}")
    return bundled_file(*FILES[name])


def selfie_model_path(name: str) -> str:
    """Path of the selfie-family backend ``name``'s ``.tflite`` file; LivematteError for another name
    ("unknown selfie model ...", listing the selfie models) or a missing file."""
    selfie = names("selfie")
    if name not in selfie:
        raise LivematteError(f"unknown selfie model {name!r}; choose one of: {', '.join(selfie)}")
    return path(name)
