"""Make docs/img/stills.jpg: the image command's defaults and tools on a frame of samples/person.mp4.

    .venv/bin/python docs/img/make_stills.py

Panels, left to right: the photo | ``livematte image photo.jpg`` (a transparent PNG, shown on a
checkerboard) | ``-b white --shadow --place 0.8@0.5,0.55 -o product.jpg`` | ``--crop face:0.5
--size 256x256:cover`` (a profile picture). Each panel is the command's real output file read back.
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


if __name__ == "__main__":
    main()
