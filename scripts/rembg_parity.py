"""livematte's object-model masks against rembg's own, for the same ONNX file and picture.

Not part of the test suite: rembg depends on opencv-python-headless, which must never enter
livematte's environment (two cv2 packages break cv2). Run rembg from a throwaway venv::

    python3.11 -m venv /tmp/rembg-venv && /tmp/rembg-venv/bin/pip install rembg onnxruntime
    .venv/bin/python scripts/rembg_parity.py --rembg-python /tmp/rembg-venv/bin/python

No real model file can be downloaded here, so each family is a random-weight network with the
published file's signature (:mod:`livematte.models.onnx_export`), saved under rembg's file name in a
folder given to both as ``U2NET_HOME``. Pictures: the shared person photos and backgrounds,
decoded once by livematte and handed to rembg as lossless PNG. Prints one markdown row per model:
the largest and mean |livematte - rembg| over all pictures, in 8-bit levels, and the share of pixels
that differ at all.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
DEFAULT_IMAGES = sorted(glob.glob(str(DATA / "person-unlabeled" / "images" / "*.jpg"))) + sorted(
    glob.glob(str(DATA / "backgrounds" / "images" / "*.jpg")))[:3]

REMBG_SIDE = r"""
import json, os, sys
import numpy as np
from PIL import Image
from rembg import new_session, remove
work = sys.argv[1]
jobs = json.load(open(os.path.join(work, "jobs.json")))
for name in jobs["models"]:
    session = new_session(name, providers=["CPUExecutionProvider"])
    for stem in jobs["stems"]:
        img = Image.open(os.path.join(work, "inputs", stem + ".png"))
        mask = remove(img, session=session, only_mask=True, post_process_mask=False)
        np.save(os.path.join(work, "rembg", f"{name}__{stem}.npy"), np.asarray(mask))
"""


def livematte_side(work: Path, images, models) -> list:
    """Decode the pictures, export the networks, write livematte's masks; returns the stems."""
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from livematte.models import registry
    from livematte.models.onnx_export import export_random
    from livematte.sinks.images import save_image
    from livematte.sources.images import load_image

    stems = []
    for path in images:
        stem = Path(path).stem
        save_image(str(work / "inputs" / f"{stem}.png"), load_image(path))
        stems.append(stem)
    for i, name in enumerate(models):
        export_random(name, work / "home" / registry.spec(name).onnx.filename, seed=i)
        model = registry.create(name, device="cpu")
        assert model.path.parent == work / "home", model.path
        for stem in stems:
            image = load_image(str(work / "inputs" / f"{stem}.png"))
            np.save(work / "livematte" / f"{name}__{stem}.npy", model.mask(image))
    return stems


def compare(work: Path, stems, models) -> dict:
    import numpy as np

    rows = {}
    for name in models:
        worst, total, count, differ = 0, 0.0, 0, 0
        for stem in stems:
            a = np.load(work / "livematte" / f"{name}__{stem}.npy").astype(np.int16)
            b = np.load(work / "rembg" / f"{name}__{stem}.npy").astype(np.int16)
            assert a.shape == b.shape, (name, stem, a.shape, b.shape)
            d = np.abs(a - b)
            worst, total, count, differ = max(worst, int(d.max())), total + float(d.sum()), count + d.size, differ + int((d > 0).sum())
        rows[name] = {"max_levels": worst, "mean_levels": total / count, "differing": differ / count}
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rembg-python", required=True, help="the python of a venv where rembg is installed")
    p.add_argument("--images", nargs="*", default=DEFAULT_IMAGES)
    p.add_argument("--models", nargs="*", help="default: every object-family backend")
    p.add_argument("--json", help="also write the figures here")
    args = p.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from livematte.models import registry

    models = args.models or registry.names("object")
    with tempfile.TemporaryDirectory(prefix="rembg-parity-") as tmp:
        work = Path(tmp)
        for sub in ("inputs", "home", "livematte", "rembg"):
            (work / sub).mkdir()
        os.environ["U2NET_HOME"] = str(work / "home")
        os.environ.pop("LIVEMATTE_WEIGHTS", None)
        stems = livematte_side(work, args.images, models)
        (work / "jobs.json").write_text(json.dumps({"models": models, "stems": stems}))
        env = dict(os.environ, MODEL_CHECKSUM_DISABLED="1", OMP_NUM_THREADS="2")
        subprocess.run([args.rembg_python, "-c", REMBG_SIDE, str(work)], check=True, env=env)
        rows = compare(work, stems, models)
    print(f"{len(stems)} pictures: {', '.join(stems)}")
    print("| model | max |livematte - rembg| (8-bit levels) | mean | pixels differing |")
    print("|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['max_levels']} | {r['mean_levels']:.5f} | {100 * r['differing']:.4f} % |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0 if all(r["max_levels"] <= 1 for r in rows.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
