"""The MediaPipe selfie segmentation models (MobileNetV3-based), loaded from the installed mediapipe.

Two models ship inside mediapipe 0.10.21 (Apache-2.0):

* ``selfie``: general model, input 256x256.
* ``selfie-landscape``: landscape model, input 144x256 (H x W).

Preprocessing is MediaPipe's own: the frame is warped (bilinear) to the model size and scaled to
[0, 1]; the model's output is already the sigmoid probability. Runtimes:

* ``mediapipe``: MediaPipe's own graph and TFLite build, returning the mask at model size:
  equals ``mediapipe.solutions.selfie_segmentation`` (~2.3 ms at 720p).
* ``litert`` (what ``auto`` picks on CPU): the model file run directly by LiteRT with XNNPACK
  (~1.2 ms at 256x256 plus a 0.1 ms warp; MediaPipe's runtime costs ~2.3 ms, most of it copying the
  frame into its graph). Its OpenCV warp rounds slightly differently from MediaPipe's build: mean
  difference < 1e-3.
* ``torch``: the file rebuilt as a ``torch.nn.Module`` (:mod:`livematte.models.torch_port`).
"""
from __future__ import annotations

import os
from typing import Tuple

import cv2
import numpy as np

from ..quiet import native_stderr_silenced
from ..types import LivematteError
from .base import BackendInfo
from .bundled import path as bundled_path
from .bundled import selfie_model_path
from .registry import spec

#: name -> MediaPipe's ``model_selection`` side input for its own graph (the mediapipe runtime)
MODEL_SELECTION = {"selfie": 0, "selfie-landscape": 1}
#: the ``runtime`` values the selfie models take
RUNTIMES = ("auto",) + spec("selfie").runtimes


def to_model_input(image: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """Warp an RGB uint8 frame ``(H, W, 3)`` to the model size ``(h, w)`` exactly as MediaPipe does.

    Returns uint8 ``(h, w, 3)``; the model wants it as float32 / 255.
    """
    h, w = size
    H, W = image.shape[:2]
    if (H, W) == (h, w):  # the warp would be the identity (a crop already resized by the caller)
        return image
    m = np.float32([[W / w, 0, 0], [0, H / h, 0]])
    return cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)


def backend_info(name: str) -> BackendInfo:
    """Available when the model file is in the installed mediapipe."""
    s = spec(name)
    try:
        selfie_model_path(name)
    except LivematteError as err:
        return BackendInfo(name, s.description, False, str(err), s.input_size)
    return BackendInfo(name, s.description, True, "", s.input_size)


class _MediaPipeRunner:
    """MediaPipe's own selfie graph, with its mask size taken from a model-size image instead of the frame.

    MediaPipe warps the frame to the model size itself (its OpenCV build rounds a little differently
    from ours), runs the model, and returns the mask at model resolution: the raw probability.
    """

    def __init__(self, name: str, threads: int):
        os.environ.setdefault("GLOG_minloglevel", "2")
        with native_stderr_silenced():  # MediaPipe logs its set-up on fd 2
            from mediapipe.framework import calculator_pb2
            from mediapipe.python.solution_base import PacketDataType, SolutionBase

            graph = calculator_pb2.CalculatorGraphConfig()
            with open(bundled_path("selfie-graph"), "rb") as fh:
                graph.ParseFromString(fh.read())
            for node in graph.node:
                if node.calculator == "ImagePropertiesCalculator":  # feeds the mask's OUTPUT_SIZE
                    node.input_stream[0] = "IMAGE_CPU:size_image"
            graph.input_stream.append("size_image")
            self._size_image = np.zeros((*spec(name).input_size, 3), np.uint8)
            self._solution = SolutionBase(
                graph_config=graph,
                side_inputs={"model_selection": MODEL_SELECTION[name]},
                outputs=["segmentation_mask"],
                stream_type_hints={"size_image": PacketDataType.IMAGE_FRAME},
            )
            self(self._size_image)  # the first run logs too

    def __call__(self, image: np.ndarray) -> np.ndarray:
        # image: uint8 (H, W, 3), any size -> float32 (h, w) at model size
        out = self._solution.process({"image": image, "size_image": self._size_image})
        return out.segmentation_mask

    def close(self) -> None:
        self._solution.close()


class _LiteRTRunner:
    """Runs the .tflite file with LiteRT (XNNPACK provides the custom transposed-conv op)."""

    def __init__(self, name: str, threads: int):
        from ai_edge_litert.interpreter import Interpreter

        with native_stderr_silenced():  # "Created TensorFlow Lite XNNPACK delegate"
            self._it = Interpreter(model_path=selfie_model_path(name), num_threads=threads)
            self._it.allocate_tensors()
        self._in = self._it.get_input_details()[0]["index"]
        self._out = self._it.get_output_details()[0]["index"]
        self._size = spec(name).input_size

    def __call__(self, image: np.ndarray) -> np.ndarray:
        x = to_model_input(image, self._size)
        self._it.set_tensor(self._in, (x.astype(np.float32) * np.float32(1 / 255))[None])
        self._it.invoke()
        return self._it.get_tensor(self._out)[0, :, :, 0].copy()

    def close(self) -> None:
        pass


class _TorchRunner:
    """Runs the torch port of the model file on the CPU (the GPU path uses the module directly)."""

    def __init__(self, name: str, threads: int):
        import torch

        from .torch_port import load_selfie_torch

        self._torch = torch
        if threads:
            torch.set_num_threads(threads)
        self._module = load_selfie_torch(name, device="cpu")
        self._size = spec(name).input_size

    def __call__(self, image: np.ndarray) -> np.ndarray:
        torch = self._torch
        x = to_model_input(image, self._size)
        with torch.inference_mode():
            t = torch.from_numpy(x).permute(2, 0, 1)[None].float().div_(255)  # [1, 3, h, w]
            return self._module(t)[0, 0].numpy()

    def close(self) -> None:
        pass


_RUNNERS = {"mediapipe": _MediaPipeRunner, "litert": _LiteRTRunner, "torch": _TorchRunner}


class SelfieSegmenter:
    """A MediaPipe selfie model behind the :class:`~livematte.models.base.Segmenter` contract.

    >>> seg = SelfieSegmenter("selfie", runtime="litert")
    >>> prob = seg.predict(np.zeros((480, 640, 3), np.uint8))
    >>> prob.shape, prob.dtype
    ((256, 256), dtype('float32'))
    """

    def __init__(self, name: str = "selfie", *, runtime: str = "auto", threads: int = 1):
        selfie_model_path(name)  # an unknown name or a missing file: a clear error before any runtime is imported
        if runtime not in RUNTIMES:
            raise LivematteError(f"unknown runtime {runtime!r}; choose one of: {', '.join(RUNTIMES)}")
        self.name = name
        self.input_size = spec(name).input_size
        self.runtime = "litert" if runtime == "auto" else runtime  # the fastest on CPU, measured
        self._run = _RUNNERS[self.runtime](name, threads)

    def predict(self, image: np.ndarray) -> np.ndarray:
        """RGB uint8 ``(H, W, 3)`` of any size -> person probability float32 ``(h, w)`` at model size.

        The frame is warped to the model size bilinearly, as MediaPipe does; an image already at
        model size (say a crop you resized yourself) goes in unchanged.
        """
        return self._run(np.ascontiguousarray(image))

    predict_model_input = predict  # an input already at model size passes through the warp unchanged

    def reset(self) -> None:
        """Stateless: nothing to clear."""

    def close(self) -> None:
        self._run.close()


def create(name: str, *, runtime: str = "auto", threads: int = 0, device: str = "cpu", **_ignored) -> SelfieSegmenter:
    """``threads`` 0 means one: measured on 2 cores, one model thread leaves the other core to decoding,
    encoding and the effect (live: 30 fps with p50 17 ms, against 27 fps and 28 ms with two)."""
    return SelfieSegmenter(name, runtime=runtime, threads=threads or 1)
