"""The bundled MediaPipe selfie models: loading, shapes, and equality with MediaPipe's own solution."""
import numpy as np
import pytest

from livematte.models import create, list_backends
from livematte.models.selfie import SelfieSegmenter
from livematte.types import LivematteError
from livematte.engine import NUMPY

from .helpers import real_images


@pytest.fixture(scope="module")
def images():
    return real_images()


@pytest.mark.parametrize("name,selection", [("selfie", 0), ("selfie-landscape", 1)])
def test_full_resolution_mask_equals_mediapipe(images, name, selection):
    from mediapipe.python.solutions.selfie_segmentation import SelfieSegmentation

    seg = create(name, runtime="mediapipe")
    with SelfieSegmentation(model_selection=selection) as reference:
        for label, image in images:
            expected = reference.process(image).segmentation_mask
            got = NUMPY.resize_linear(seg.predict(image), image.shape[:2])
            assert got.shape == expected.shape == image.shape[:2]
            diff = float(np.abs(got - expected).max())
            assert diff <= 1e-5, f"{label}: max abs diff {diff}"
            assert expected.max() > 0.9, f"{label}: the reference finds no person"


def test_litert_runtime_close_to_mediapipe(images):
    """LiteRT runs the same file; OpenCV builds round the uint8 warp a little differently, so a few
    edge pixels differ by up to ~0.06, while the map as a whole agrees closely."""
    fast, exact = SelfieSegmenter("selfie", runtime="litert"), SelfieSegmenter("selfie", runtime="mediapipe")
    for label, image in images:
        diff = np.abs(fast.predict(image) - exact.predict(image))
        assert diff.mean() <= 1e-3 and diff.max() <= 0.1, label
    square = images[0][1][:256, :256].copy()  # at model size both warps are the identity
    assert np.abs(fast.predict(square) - exact.predict(square)).max() <= 1e-4


@pytest.mark.parametrize("name,shape", [("selfie", (256, 256)), ("selfie-landscape", (144, 256))])
def test_model_resolution_output(name, shape, images):
    prob = create(name).predict(images[0][1])
    assert prob.shape == shape and prob.dtype == np.float32
    assert 0.0 <= prob.min() and prob.max() <= 1.0


def test_models_listing_and_unknown_name():
    rows = {r.name: r for r in list_backends()}
    assert rows["selfie"].available and rows["selfie-landscape"].available
    with pytest.raises(LivematteError, match="unknown model 'nope'.*selfie"):
        create("nope")
