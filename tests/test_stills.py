"""Still images at full quality: no block structure left in the matte, and no loss against the
video path on annotated frames run as stills."""
from __future__ import annotations

import glob
import os

import numpy as np
import pytest

from livematte.config import Config
from livematte.engine import numpy_engine
from livematte.evaluate import iou
from livematte.matter import Matter
from livematte.still_matter import StillMatter
from livematte.stills_eval import blockiness

from .helpers import PERSON_PHOTOS, SHARED, read_rgb, sample_frame


@pytest.fixture(scope="module")
def matters():
    video = Matter(None, Config(), engine=numpy_engine())
    still = StillMatter(None, Config(), engine=numpy_engine())

    def first_frame(image):
        video.reset()
        return video(image)
    return first_frame, still


def test_the_still_path_leaves_no_block_structure(matters):
    video, still = matters
    photos = [("sample", sample_frame(30))] + [(os.path.basename(p), read_rgb(p)) for p in PERSON_PHOTOS]
    for name, img in photos:
        a, b = blockiness(video(img)), blockiness(still(img))
        assert b <= a + 0.01, f"{name}: blockiness {b:.3f} on the still path against {a:.3f}"
        assert b < 0.27, f"{name}: blockiness {b:.3f} (edges of every direction: 0.22)"


def test_annotated_frames_as_stills_lose_nothing(matters):
    video, still = matters
    pairs = []
    for seq in ("hike", "lucia", "dance-jump"):
        frames = sorted(glob.glob(os.path.join(SHARED, "davis2016", seq, "frames", "*.jpg")))[10::30]
        pairs += [(f, f.replace("frames", "gt").replace(".jpg", ".png")) for f in frames]
    if not pairs:
        pytest.skip("the shared DAVIS data (../shared/data/davis2016) is not here")
    scores = {"video": [], "still": []}
    for f, g in pairs:
        img, gt = read_rgb(f), read_rgb(g)[..., 0] > 127
        scores["video"].append(iou(video(img) >= 0.5, gt))
        scores["still"].append(iou(still(img) >= 0.5, gt))
    v, s = np.mean(scores["video"]), np.mean(scores["still"])
    assert s >= v - 0.005, (round(v, 4), round(s, 4), scores)


def test_the_still_path_on_both_engines():
    """The numpy and the torch engine (CPU) give the same still matte (tests/test_twins.py tolerances)."""
    from livematte.engine import as_numpy, torch_engine

    from .test_twins import assert_twins, davis

    cfg = Config()
    images = [sample_frame(0)] + davis("hike", 1)
    out = []
    for engine in (numpy_engine(), torch_engine("cpu")):
        cfg.model.runtime = "torch" if engine.name == "numpy" else "auto"
        m = StillMatter(None, cfg, engine=engine)
        out.append([(np.array(as_numpy(m(img))), m.last_crop) for img in images])
    for i, ((a, ca), (b, cb)) in enumerate(zip(*out)):
        assert ca == cb, f"still {i}: crop {ca} vs {cb}"
        assert_twins(a, b, f"still {i}")



def test_the_image_command_uses_the_still_path(tmp_path):
    import cv2

    from livematte import cli

    src = tmp_path / "in.png"
    cv2.imwrite(str(src), cv2.cvtColor(sample_frame(30), cv2.COLOR_RGB2BGR))
    out = tmp_path / "out.png"
    assert cli.main(["image", str(src), "-o", str(out)]) == 0  # a transparent cut-out by default
    alpha = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)[..., 3] / 255.0
    ref = StillMatter(None, Config(), engine=numpy_engine())(sample_frame(30))
    assert np.abs(alpha - ref).max() <= 1 / 255 + 1e-6
