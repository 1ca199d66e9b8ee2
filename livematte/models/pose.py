"""The person mask of MediaPipe's full-body pose model, as a second opinion on the subject crop.

MediaPipe 0.10.21 ships BlazePose GHUM's landmark model ("full" variant,
``mediapipe/modules/pose_landmark/pose_landmark_full.tflite``, Apache-2.0). Besides the 33 body
landmarks it predicts a person segmentation of its 256x256 input (output ``Identity_2``, logits, shape
``(1, 256, 256, 1)``). It was trained on whole bodies in every posture, where the selfie models were
trained on upper bodies facing a camera: on a crop around the person it finds raised legs and
stretched arms that the selfie model misses, and the selfie model keeps hair and held objects that
it misses; combined (their average, the pose model's where it is sure) they beat either (see
docs/quality.md, revision 5). It is poor on head-and-shoulders shots, which therefore skip it.

The model expects a crop that holds the whole person (MediaPipe feeds it the pose detector's box);
:class:`~livematte.matter.Matter` gives it the square around the tracked person. Input: RGB scaled to
[0, 1], as for the selfie models. It runs with LiteRT (XNNPACK): ~9 ms on one core, ~6 ms on two.
"""
from __future__ import annotations

import numpy as np

from ..quiet import native_stderr_silenced
from ..types import LivematteError
from .bundled import FILES, bundled_file

#: where the model lives inside mediapipe (module folder, file name), and its square input side
FILE = FILES["pose"]
SIDE = 256


class PoseMask:
    """Person probability of a square crop from the pose landmark model's segmentation output.

    >>> pose = PoseMask()
    >>> pose.predict_model_input(np.zeros((256, 256, 3), np.uint8)).shape
    (256, 256)
    """

    input_size = (SIDE, SIDE)

    def __init__(self, threads: int = 1, runtime: str = "litert"):
        """``runtime``: ``litert`` (XNNPACK, the fast one) or ``torch`` (the port the torch engine
        runs, here on the CPU: the same network on both engines, for the twin tests)."""
        self.runtime = "torch" if runtime == "torch" else "litert"
        self._net = None
        if self.runtime == "torch":
            from .torch_port import load_pose_torch

            self._net = load_pose_torch("cpu")
            return
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as err:  # pragma: no cover - a dependency of the package
            raise LivematteError("the pose mask needs ai-edge-litert: pip install ai-edge-litert") from err
        path = bundled_file(*FILE)
        with native_stderr_silenced():  # "Created TensorFlow Lite XNNPACK delegate"
            self._it = Interpreter(model_path=path, num_threads=max(1, int(threads)))
            self._it.allocate_tensors()
        self._in = self._it.get_input_details()[0]["index"]
        outs = {d["name"]: d for d in self._it.get_output_details()}
        seg = outs.get("Identity_2")
        if seg is None or tuple(seg["shape"]) != (1, SIDE, SIDE, 1):
            raise LivematteError(f"{path}: no {SIDE}x{SIDE} segmentation output; mediapipe 0.10.21 ships the expected model")
        self._out = seg["index"]

    def predict_model_input(self, x: np.ndarray) -> np.ndarray:
        """RGB uint8 ``(256, 256, 3)`` (a square crop at model size) -> person probability float32 ``(256, 256)``."""
        if self._net is not None:
            import torch

            with torch.inference_mode():
                t = (torch.from_numpy(np.ascontiguousarray(x)).permute(2, 0, 1).float() * (1 / 255))[None]
                return self._net(t.contiguous(memory_format=torch.channels_last))[0, 0].numpy()
        self._it.set_tensor(self._in, (x.astype(np.float32) * np.float32(1 / 255))[None])
        self._it.invoke()
        logits = self._it.get_tensor(self._out)[0, :, :, 0]  # float32 (256, 256)
        # sigmoid, with logits clipped so exp cannot overflow
        return (1.0 / (1.0 + np.exp(-np.clip(logits, -30.0, 30.0)))).astype(np.float32)

    def reset(self) -> None:
        """Stateless."""
