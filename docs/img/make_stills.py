"""Make docs/img/stills.jpg and docs/img/stills-edges.png from a frame of samples/person.mp4.

    .venv/bin/python docs/img/make_stills.py

stills.jpg, the image command's defaults and tools, left to right: the photo | ``livematte image
photo.jpg`` (a transparent PNG, shown on a checkerboard) | ``-b white --shadow --place
0.8@0.5,0.55 -o product.jpg`` | ``--crop face:0.5 --size 256x256:cover`` (a profile picture). Each
panel is the command's real output file read back.

stills-edges.png, before / after the still path, a 160x160 crop at the edge where the two mattes
differ most, shown at 200 % (nearest neighbour, so the pixels are the file's): the photo | the
video path's matte of the frame on white (what ``image`` gave before the still path) | the still
path's (what ``image`` gives) | the two mattes.

The sample is public domain (samples/README.md).
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import cv2
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PANEL_H = 300
COMMANDS = [
    ("cut-out (PNG, default)", "cut.png", []),
    ("-b white --shadow --place 0.8", "product.jpg", ["-b", "white", "--shadow", "--place", "0.8@0.5,0.55"]),
    ("--crop face --size 256x256:cover", "face.png", ["--crop", "face:0.5", "--size", "256x256:cover"]),
]


def frame(index: int = 60) -> np.ndarray:
    import av

    with av.open(os.path.join(REPO, "samples", "person.mp4")) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i == index:
                return f.to_ndarray(format="bgr24")
    raise SystemExit("sample too short")


def on_checkerboard(image: np.ndarray) -> np.ndarray:
    """BGR of a BGR or BGRA picture, transparency shown as a grey checkerboard."""
    if image.shape[2] == 3:
        return image
    y, x = np.indices(image.shape[:2])
    board = np.where(((y // 16) + (x // 16)) % 2 == 0, 200, 150).astype(np.float32)[..., None]
    a = image[..., 3:].astype(np.float32) / 255.0
    return (image[..., :3] * a + board * (1 - a) + 0.5).astype(np.uint8)


def panel(image: np.ndarray, label: str) -> np.ndarray:
    h, w = image.shape[:2]
    out = cv2.resize(image, (round(w * PANEL_H / h), PANEL_H), interpolation=cv2.INTER_AREA)
    cv2.rectangle(out, (0, 0), (out.shape[1], 24), (32, 32, 32), -1)
    cv2.putText(out, label, (6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return cv2.copyMakeBorder(out, 0, 0, 0, 6, cv2.BORDER_CONSTANT, value=(255, 255, 255))


def main() -> None:
    work = tempfile.mkdtemp()
    photo = os.path.join(work, "photo.jpg")
    cv2.imwrite(photo, frame(), [cv2.IMWRITE_JPEG_QUALITY, 95])
    panels = [panel(cv2.imread(photo), "photo")]
    for label, name, extra in COMMANDS:
        out = os.path.join(work, name)
        subprocess.run([sys.executable, "-m", "livematte", "image", photo, "-o", out, *extra], check=True, cwd=REPO)
        panels.append(panel(on_checkerboard(cv2.imread(out, cv2.IMREAD_UNCHANGED)), label))
    target = os.path.join(HERE, "stills.jpg")
    cv2.imwrite(target, np.hstack(panels), [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(target)


def edges_figure(bgr: np.ndarray, crop: int = 160, zoom: int = 2) -> str:
    """docs/img/stills-edges.png: the video path's matte against the still path's (module docstring)."""
    sys.path.insert(0, REPO)
    from livematte.config import Config
    from livematte.engine import resolve_engine
    from livematte.matter import Matter
    from livematte.still_matter import StillMatter

    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    engine = resolve_engine("numpy", "cpu")
    before = Matter(None, Config(), engine=engine)(rgb)  # (H, W) float32
    after = StillMatter(None, Config(), engine=engine)(rgb)
    diff = cv2.boxFilter(np.abs(before - after), -1, (crop, crop), normalize=False)
    cy, cx = np.unravel_index(int(np.argmax(diff)), diff.shape)
    y0 = int(np.clip(cy - crop // 2, 0, bgr.shape[0] - crop))
    x0 = int(np.clip(cx - crop // 2, 0, bgr.shape[1] - crop))

    def show(image: np.ndarray, label: str) -> np.ndarray:
        part = image[y0:y0 + crop, x0:x0 + crop]
        big = cv2.resize(part, (crop * zoom, crop * zoom), interpolation=cv2.INTER_NEAREST)
        cv2.rectangle(big, (0, 0), (big.shape[1], 22), (32, 32, 32), -1)
        cv2.putText(big, label, (5, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
        return cv2.copyMakeBorder(big, 0, 0, 0, 4, cv2.BORDER_CONSTANT, value=(255, 255, 255))

    def on_white(alpha: np.ndarray) -> np.ndarray:
        a = alpha[..., None]
        return (bgr * a + 255.0 * (1 - a) + 0.5).astype(np.uint8)

    def grey(alpha: np.ndarray) -> np.ndarray:
        return cv2.cvtColor((alpha * 255 + 0.5).astype(np.uint8), cv2.COLOR_GRAY2BGR)

    panels = [show(bgr, "photo (200 %)"), show(on_white(before), "before: video path"),
              show(on_white(after), "after: still path"), show(grey(before), "matte before"),
              show(grey(after), "matte after")]
    target = os.path.join(HERE, "stills-edges.png")
    cv2.imwrite(target, np.hstack(panels), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    return target


if __name__ == "__main__":
    main()
    print(edges_figure(frame()))
