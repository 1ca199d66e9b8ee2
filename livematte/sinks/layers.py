"""Per-person layers: one matte sequence per tracked person plus ``tracks.json``
(``livematte matte IN --layers --out DIR``).

``DIR/person-<id>/<frame>.png`` holds that person's share of the frame's matte (8-bit grey, every
frame of the input: empty where they are not in view), ``DIR/tracks.json`` the tracked people:

.. code-block:: json

    {"version": 1, "width": 854, "height": 480, "frames": 60, "subject": "all",
     "people": [{"id": 1, "first": 0, "last": 59, "layer": true,
                 "boxes": [{"frame": 0, "box": [x0, y0, x1, y1], "seen": true}, ...]}]}

Boxes are frame pixels (``x1``/``y1`` exclusive, floats); ``seen`` is false on frames where the
person coasts through an occlusion (their box is the predicted one). A pixel of the matte goes to
the nearest tracked person on the model grid (:func:`livematte.subject.people.spread`), so the
layers of one frame add up to its matte.
"""
from __future__ import annotations

import os
from collections import deque
from typing import Dict, List, Optional

import cv2
import numpy as np

from ..subject.people import spread
from ..types import Frame, LivematteError, StreamInfo
from .base import Sink
from .images import encode_image

VERSION = 1


class LayersSink(Sink):
    """Writes the layers of the people the subject choice keeps.

    Args:
        directory: the output folder (created on ``open``).
        people: a deque the matter fills in frame order (``Matter.on_people``): one
            :class:`~livematte.subject.planner.PeopleFrame` (or None) per frame, taken by :meth:`write`.
        subject: the ``--subject`` text, recorded in tracks.json.
    """

    def __init__(self, directory: str, people: deque, subject: str = "all"):
        self.directory = os.fspath(directory)
        self.people, self.subject = people, subject
        self.names: List[str] = []
        self.written: Dict[int, set] = {}  # id -> names written
        self.boxes: Dict[int, list] = {}
        self.size = (0, 0)
        self._open = False

    def open(self, info: Optional[StreamInfo] = None, alpha: bool = False) -> None:
        try:
            os.makedirs(self.directory, exist_ok=True)
        except OSError as err:
            raise LivematteError(f"{self.directory}: cannot create the folder ({err.strerror or err})") from None
        self._open = True

    def write(self, matte: np.ndarray, frame: Frame) -> None:
        if not self._open:
            raise RuntimeError("LayersSink.write before open (or after close)")
        people = self.people.popleft()
        name = frame.name or f"{frame.index:05d}"
        index = len(self.names)
        self.names.append(name)
        H, W = matte.shape[:2]
        self.size = (W, H)
        if people is None:
            return
        for i, box in people.boxes.items():
            self.boxes.setdefault(i, []).append({"frame": index, "box": [round(float(v), 1) for v in box],
                                                 "seen": i in people.seen})
        chosen = sorted(people.chosen)
        if not chosen:
            return
        owners = people.grid.owners()
        owners[~np.isin(owners, chosen)] = 0
        owners = spread(owners, reach=max(owners.shape))  # every pixel to the nearest chosen person
        for i in chosen:
            share = cv2.resize((owners == i).astype(np.uint8) * 255, (W, H), interpolation=cv2.INTER_LINEAR)
            layer = cv2.multiply(matte, share, scale=1.0 / 255)
            self._save(i, name, layer)

    def _save(self, i: int, name: str, layer: np.ndarray) -> None:
        folder = os.path.join(self.directory, f"person-{i}")
        if i not in self.written:
            os.makedirs(folder, exist_ok=True)
            self.written[i] = set()
        _write(os.path.join(folder, name + ".png"), encode_image(".png", layer, png_compression=1))
        self.written[i].add(name)

    def close(self) -> None:
        """Fill each person's sequence with empty mattes where they were not in view, then write
        tracks.json."""
        if not self._open:
            return
        self._open = False
        W, H = self.size
        blank = encode_image(".png", np.zeros((H, W), np.uint8), png_compression=1) if W else b""
        for i, names in self.written.items():
            folder = os.path.join(self.directory, f"person-{i}")
            for name in self.names:
                if name not in names:
                    _write(os.path.join(folder, name + ".png"), blank)
        from ..atomic import write_text
        import json

        people = []
        for i in sorted(self.boxes):
            rows = self.boxes[i]
            people.append({"id": i, "first": rows[0]["frame"], "last": rows[-1]["frame"],
                           "layer": i in self.written, "boxes": rows})
        doc = {"version": VERSION, "width": W, "height": H, "frames": len(self.names), "subject": self.subject,
               "people": people}
        write_text(os.path.join(self.directory, "tracks.json"), json.dumps(doc, indent=1))

    def abort(self) -> None:
        """The layers already written are kept; no tracks.json."""
        self._open = False

    def describe(self) -> str:
        return self.directory


def _write(path: str, data: bytes) -> None:
    try:
        with open(path, "wb") as f:
            f.write(data)
    except OSError as err:
        raise LivematteError(f"{path}: cannot write ({err.strerror or err})") from None
