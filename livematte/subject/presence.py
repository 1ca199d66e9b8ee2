"""Whether a person is in the picture at all, from two detectors, with hysteresis.

The segmenters call many things a person (a cat, a bear, a flamingo: 7% of the frame on average on
DAVIS's no-person clips, docs/quality.md issue #13 revision). Two bundled detectors give separate
opinions: the BlazePose person detector (:mod:`livematte.models.person_detector`) and the
short-range BlazeFace detector (:mod:`livematte.models.face`), which finds the close-up face (a
tilted head near the camera, the video-call case) that the person detector misses. A detection
counts as a person only where the segmenter is confident inside its face box too (the models seldom
make the same mistake). :func:`combined` puts both answers on the person detector's scale and
:class:`PresenceGate` turns them into a steady decision and a gain for the matte:

* absent -> present at the first frame with a sure person (score >= ``on``) that a second look
  confirms (:func:`agreed`: the same body, also >= ``on``, in the previous detector run or in the
  frame's other view; while absent the detector looks at the whole frame and at the square around
  the person blobs, or with none at one of the frame's two ends, on every frame, so the matte is
  there within a frame or two); a shot's first
  look, which nothing can confirm yet, starts a person provisionally, for one frame;
* present -> absent after ``off`` detector runs in a row without a person (score >= ``stay``), then
  a fade over ``fade`` frames (no pop, no flicker on a single missed detection);
* the detector runs on every frame while absent or unsure, every ``every`` frames while present.

**Files have a future** (:class:`PresenceWindow`, ``quality.presence_window``): ``video``, ``matte``,
``eval`` and the file API hold each frame's matte for a window of later frames. The causal gate then
asks more of a start (a pair of agreeing looks both >= :data:`WINDOW_ON`, no provisional first look),
and a person it starts is present from up to ``window`` frames *before* the frame that confirmed them
(never across a scene cut): a rider whose detections only settle after 10-30 frames keeps their
first frames, while an animal whose detections jump never confirms (docs/quality.md, issue #13
presence revision 4). The live path has no future and keeps the causal gate alone.
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np

Box = Tuple[float, float, float, float]


def supported(face: Box, prob: np.ndarray, sure: float = 0.9) -> bool:
    """Whether the segmenter is sure (``prob >= sure`` somewhere) inside ``face`` (normalised frame
    box) on its grid ``prob`` float32 ``(h, w)``."""
    h, w = prob.shape
    xa, ya = int(max(0.0, face[0]) * w), int(max(0.0, face[1]) * h)
    xb, yb = int(np.ceil(min(1.0, face[2]) * w)), int(np.ceil(min(1.0, face[3]) * h))
    if xb <= xa or yb <= ya:
        return False
    return bool(prob[ya:yb, xa:xb].max() >= sure)


class PresenceGate:
    """A steady present / absent decision and the matte's gain in [0, 1].

    >>> g = PresenceGate(every=2, off=2, fade=2)
    >>> [round(g.update(s), 2) for s in [0.6, 0.9, None, 0.6, 0.0, 0.0, None, None]]
    [0.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.0, 0.0]
    """

    def __init__(self, every: int = 4, off: int = 6, fade: int = 4, on: float = 0.7, stay: float = 0.3):
        self.every, self.off, self.fade = max(1, every), max(1, off), max(1, fade)
        self.on, self.stay = on, stay
        #: a shot's first look may start a person provisionally (off under a :class:`PresenceWindow`:
        #: the window brings the first frames back once a later pair confirms them)
        self.first_look = True
        self.reset()

    def reset(self) -> None:
        """A new source, seek or shot: absent until a person is seen (the first frame decides)."""
        self.present = False
        self.provisional = False  # started on a first look alone: the next run must confirm
        self.gain = 0.0
        self.misses = 0
        self.since = 0  # frames since the detector last ran
        self.runs = 0  # detector runs since the reset

    def due(self) -> bool:
        """Whether the detector runs on this frame."""
        return not self.present or self.provisional or self.misses > 0 or self.since + 1 >= self.every

    def update(self, score: Optional[float], second: Optional[float] = None) -> float:
        """Advance one frame: ``score`` is the best person the detector found (0: none; None: it
        did not run), ``second`` the best one a second look confirmed (:func:`agreed`; None: no
        second look is asked for, ``score`` decides). A confirmed score >= ``on`` starts a person;
        on the first run after :meth:`reset`, when no second look can have been taken yet, an
        unconfirmed one starts them provisionally: the next run must confirm them, else the matte
        is empty again at once (no fade). Returns the gain.

        >>> g = PresenceGate()
        >>> [g.update(0.9, 0.0), g.update(0.9, 0.9), g.present]  # first look, then confirmed
        [1.0, 1.0, True]
        >>> g.reset(); [g.update(0.9, 0.0), g.update(0.9, 0.0), g.update(0.9, 0.0), g.present]
        [1.0, 0.0, 0.0, False]
        """
        if score is None:
            self.since += 1
        else:
            self.since = 0
            sure = score if second is None else second
            first = self.runs == 0
            self.runs += 1
            if self.provisional:
                self.provisional = False
                if sure < self.on:  # not confirmed: nobody after all
                    self.present, self.misses, self.gain = False, 0, 0.0
                    return self.gain
            if self.present:
                if score >= self.stay:
                    self.misses = 0
                else:
                    self.misses += 1
                    if self.misses >= self.off:
                        self.present = False
            elif sure >= self.on or (first and self.first_look and score >= self.on):
                self.present, self.misses = True, 0
                self.provisional = sure < self.on
        if self.present:
            self.gain = 1.0
        else:
            self.gain = max(0.0, self.gain - 1.0 / self.fade)
        return self.gain


#: under a :class:`PresenceWindow` (files) a start needs a pair of agreeing looks both >= this (the
#: causal gate's 0.7 lets DAVIS's train in: its best agreeing pair is 0.73; bmx-bumps' rider's best is
#: 0.82; the window gives back the frames a later start costs)
WINDOW_ON = 0.78


class PresenceWindow:
    """The causal gate's decisions of a file's frames, revised with ``window`` frames of future: a
    start (absent -> present) makes the ``window`` frames before it present too, back to the shot's
    first frame at most; the fade after a person leaves is the gate's (``fade`` frames).

    ``push(present, cut)`` once per frame in order; :meth:`ready` frames are final (no later start can
    reach them); :meth:`take` hands out their gains, :meth:`flush` the rest's at the end.

    >>> w = PresenceWindow(window=3, fade=2)
    >>> for p in [False, False, False, False, True, True, False, False, False]:
    ...     w.push(p)
    >>> w.ready(), w.take(5), w.flush()
    (6, [0.0, 1.0, 1.0, 1.0, 1.0], [1.0, 0.5, 0.0, 0.0])
    """

    def __init__(self, window: int, fade: int = 4):
        self.window, self.fade = max(0, int(window)), max(1, int(fade))
        self.reset()

    def reset(self) -> None:
        self._present: list = []  # per frame not yet taken (revised by later starts)
        self._seen = self._taken = 0  # frames pushed / handed out
        self._shot = 0  # the first frame of the current shot
        self._last = False  # the causal decision of the last frame pushed
        self._gain = 0.0  # the gain of the last frame handed out

    def push(self, present: bool, cut: bool = False) -> None:
        """One frame's causal decision (``cut``: it starts a new shot)."""
        i = self._seen
        if cut:
            self._shot = i
        present = bool(present)
        if present and not self._last:  # a start: the frames before it, back to the shot's start
            for j in range(max(self._shot, i - self.window, self._taken), i):
                self._present[j - self._taken] = True
        self._present.append(present)
        self._last = present
        self._seen += 1

    def ready(self) -> int:
        """How many of the frames not yet taken are final (``window`` later frames seen)."""
        return max(0, self._seen - self.window - self._taken)

    def take(self, n: int) -> list:
        """The gains of the next ``n`` frames (at most :meth:`ready` of them are final)."""
        out = []
        for present in self._present[:n]:
            self._gain = 1.0 if present else max(0.0, self._gain - 1.0 / self.fade)
            out.append(self._gain)
        del self._present[:n]
        self._taken += len(out)
        return out

    def flush(self) -> list:
        """The gains of every frame not yet taken (the end of the source)."""
        return self.take(len(self._present))


#: a face of the short-range face detector counts as a sure person at this score (the selfie close-up
#: scores 0.92; the animals of DAVIS's no-person clips at most 0.60), and keeps a person present at
#: ``FACE_STAY``
FACE_ON, FACE_STAY = 0.75, 0.5


def best_face(faces: Sequence, prob: np.ndarray, frame_hw: Tuple[int, int], sure: float = 0.9) -> float:
    """The best score of ``faces`` (:class:`~livematte.models.face.Face`, boxes in pixels of a
    ``frame_hw`` image) :func:`supported` by the segmenter's probability ``prob``; 0 when none is."""
    H, W = frame_hw
    return max((f.score for f in faces
                if supported((f.box[0] / W, f.box[1] / H, f.box[2] / W, f.box[3] / H), prob, sure)), default=0.0)


def combined(person: float, face: Optional[float], on: float = 0.7, stay: float = 0.3) -> float:
    """The person detector's best supported score ``person`` raised by the face detector's ``face``
    (None: it did not run) onto the gate's scale: a face >= :data:`FACE_ON` is a sure person (``on``),
    one >= :data:`FACE_STAY` keeps one present (``stay``).

    >>> combined(0.2, 0.9), combined(0.2, 0.6), combined(0.2, 0.1), combined(0.8, None)
    (0.7, 0.3, 0.2, 0.8)
    """
    if face is None:
        return person
    if face >= FACE_ON:
        return max(person, on)
    if face >= FACE_STAY:
        return max(person, stay)
    return person


def best_person(detections: Sequence, prob: np.ndarray, sure: float = 0.9) -> float:
    """The best score of ``detections`` (:class:`~livematte.models.person_detector.Detection`)
    :func:`supported` by the segmenter's probability ``prob``; 0 when none is."""
    return max((d.score for d in detections if supported(d.face, prob, sure)), default=0.0)


#: two detections are the same body seen twice when their mid-hips lie within AGREE_MOVE of the larger
#: body radius (mid-hip to ``top``), their radii within a factor AGREE_SIZE and their body axes within
#: AGREE_TURN degrees. A person is seen at the same place from one frame to the next and from the
#: whole frame and the square around them; on DAVIS's dog the detector's best answer (up to 0.91)
#: jumps from frame to frame (docs/quality.md, issue #13 presence revision 3)
AGREE_MOVE, AGREE_SIZE, AGREE_TURN = 0.35, 1.35, 30.0
#: the weakest detection that counts for agreement (and that the next run is compared with)
AGREE_FLOOR = 0.3


def agree(a, b, frame_hw: Tuple[int, int]) -> bool:
    """Whether detections ``a`` and ``b`` (normalised to a frame of ``frame_hw``) are one body: see
    :data:`AGREE_MOVE`.

    >>> from livematte.models.person_detector import Detection
    >>> d = Detection(0.9, (0, 0, 0, 0), (0, 0, 0, 0), (0.5, 0.6), (0.5, 0.2))
    >>> agree(d, d._replace(hip=(0.52, 0.6), top=(0.53, 0.21)), (480, 640)), agree(d, d._replace(top=(0.9, 0.6)), (480, 640))
    (True, False)
    """
    H, W = frame_hw
    va = np.array([(a.top[0] - a.hip[0]) * W, (a.top[1] - a.hip[1]) * H])
    vb = np.array([(b.top[0] - b.hip[0]) * W, (b.top[1] - b.hip[1]) * H])
    ra, rb = max(1.0, float(np.hypot(*va))), max(1.0, float(np.hypot(*vb)))
    move = float(np.hypot((a.hip[0] - b.hip[0]) * W, (a.hip[1] - b.hip[1]) * H))
    if move >= AGREE_MOVE * max(ra, rb) or max(ra, rb) >= AGREE_SIZE * min(ra, rb):
        return False
    turn = abs((np.arctan2(va[1], va[0]) - np.arctan2(vb[1], vb[0]) + np.pi) % (2 * np.pi) - np.pi)
    return bool(np.degrees(turn) < AGREE_TURN)


def sure_people(detections: Sequence, prob: np.ndarray, sure: float = 0.9, floor: float = AGREE_FLOOR) -> list:
    """The ``detections`` scoring >= ``floor`` that the segmenter supports (:func:`supported`)."""
    return [d for d in detections if d.score >= floor and supported(d.face, prob, sure)]


def agreed(people: Sequence, previous: Sequence, frame_hw: Tuple[int, int]) -> float:
    """The best score of ``people`` (this frame's supported detections, any view) confirmed by a second
    look: a detection that :func:`agree` s with one of ``previous`` (the last detector run's) or with
    one from another view of this frame; a pair scores its weaker member (both looks must be sure).
    0 when none is."""
    best = 0.0
    for i, a in enumerate(people):
        for b in previous:
            if agree(a, b, frame_hw):
                best = max(best, min(a.score, b.score))
        for b in people[i + 1:]:
            if b.view != a.view and agree(a, b, frame_hw):
                best = max(best, min(a.score, b.score))
    return best


def in_frame(detections: Sequence, box: Tuple[int, int, int, int], frame_hw: Tuple[int, int]) -> list:
    """``detections`` normalised to ``box`` (integer frame pixels) -> normalised to the frame."""
    H, W = frame_hw
    x0, y0 = box[0] / W, box[1] / H
    sx, sy = (box[2] - box[0]) / W, (box[3] - box[1]) / H

    def f(b):
        return (x0 + b[0] * sx, y0 + b[1] * sy, x0 + b[2] * sx, y0 + b[3] * sy)

    return [d._replace(face=f(d.face), body=f(d.body), hip=(x0 + d.hip[0] * sx, y0 + d.hip[1] * sy),
                       top=(x0 + d.top[0] * sx, y0 + d.top[1] * sy)) for d in detections]
