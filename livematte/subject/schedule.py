"""When the matter's front runs which model: the full-frame search pass (left out on still frames,
``quality.search_every``, and while idle, ``quality.idle_every``) and the models at all
(``quality.model_every``: a still picture reuses the last run's outputs). Host-side, on both engines;
:class:`livematte.matter.Matter` asks it before each frame and tells it what the planner decided after."""
from __future__ import annotations

from typing import NamedTuple, Optional, Tuple

import cv2
import numpy as np

Box = Tuple[int, int, int, int]

#: the search pass's stillness test (:func:`still_outside`): a thumbnail pixel has changed when its
#: brightness moved by more than STILL_LEVEL (8-bit) and so did its 3x3 neighbours, the scene is
#: still when at most STILL_SHARE of the pixels outside the person's box (grown by STILL_GROW of the
#: frame's shorter side) changed; the crop pass's person box may grow by STILL_GROW too
STILL_LEVEL, STILL_SHARE, STILL_GROW = 24, 0.003, 0.02
#: ... and the camera is still when, since the previous frame, at most this share of those pixels
#: changed at all (edges included): a slow drift stays below it, a camera that pans or follows
#: someone does not (frame to frame, outside the person: the still clips at most 0.4% on 9 frames in
#: 10, doctor-26732 drifting included; DAVIS kite-walk, hike, rollerblade 1.3%, 22%, 17% on half)
STILL_CAMERA = 0.005
#: frames in a row with nobody in view before the matter idles (``quality.idle_every``)
IDLE_AFTER = 5
#: while idle, the search pass runs on every ``idle_every``th frame, but when it found no person blob
#: and the picture has not changed since (the thumbnail, :func:`still_outside` over the whole frame:
#: an empty room) only on every IDLE_STILL_EVERY-th frame: nothing new can be in it
IDLE_STILL_EVERY = 15
#: while idle, the person and face detectors look at once, twice, when a blob appears where they did
#: not look last (a person walking in: the gate's start wants a second look): the first blobs since
#: the matter idled, or blobs reaching more than IDLE_NEW_SHARE of the model grid beyond those of
#: their last look grown by IDLE_REACH of its shorter side (a camera that pans moves an animal's or
#: a car's blob less than that between two looks; a blob that comes and goes where they looked
#: brings nothing new); else on every IDLE_DETECT_EVERY-th search pass only (the same blobs again:
#: an animal, a street; files decide over a window of later frames, so a late look loses them
#: nothing). With no blob at all (the segmenter's probability below IDLE_BLOB
#: everywhere) there is nothing they could find (a detection counts only where the segmenter is
#: sure): the planner hears that they looked and found nobody, at no cost
IDLE_DETECT_EVERY, IDLE_BLOB, IDLE_NEW_SHARE, IDLE_REACH = 4, 0.5, 0.002, 0.06
#: what the detectors do on a frame (:meth:`FrontSchedule.idle_look`): run, stand for a run that
#: found nobody (no blob to find), or rest
LOOK, NOTHING, REST = "look", "nothing", "rest"
#: ``quality.model_every``: a frame is still when its mean brightness (8-bit levels, on a 1/16 grid)
#: differs by less than this from the frame the models last ran on
STILL_LEVELS = 2.0
#: :func:`still_outside` counts a changed pixel only with its 3x3 neighbours changed too
_SOLID = np.ones((3, 3), np.uint8)


class Shed(NamedTuple):
    """What a live frame leaves out when the live loop falls behind its camera (:data:`SHEDS`;
    ``cam``'s budget, :class:`livematte.live_budget.LiveBudget`, picks the level; files never shed).

    Attributes:
        pose_every: the pose model runs on at most every ``pose_every``th frame of a whole body (the
            selfie model's tiles alone between).
        search_every: while a crop tracks one person, the full-frame search pass runs on at most
            every ``search_every``th frame (the last pass's probability stands in; the crop follows
            the last person box), whatever the camera does.
        one_tile: a tall (wide) crop is segmented as one square tile instead of two.
        pose: False: no pose model at all (the selfie model's tiles alone).
        extend: False: the crop is not grown where its person runs out of it (``quality.crop_extend``).
    """

    pose_every: int = 1
    search_every: int = 1
    one_tile: bool = False
    pose: bool = True
    extend: bool = True


#: the live budget's levels, lightest work last (cheapest in quality first: DAVIS A IoU 0.879, 0.877,
#: 0.871, 0.847, 0.840, 0.822 in docs/quality.md, before the grown crop): full; one crop tile and no
#: grown crop; the search pass every 2nd frame too; the pose model every 2nd frame too; every 3rd; none
SHEDS = (Shed(), Shed(one_tile=True, extend=False), Shed(search_every=2, one_tile=True, extend=False),
         Shed(pose_every=2, search_every=2, one_tile=True, extend=False),
         Shed(pose_every=3, search_every=2, one_tile=True, extend=False),
         Shed(search_every=2, one_tile=True, pose=False, extend=False))


class FrontSchedule:
    """The front's cadence: which frames run the search pass, which idle, which reuse the models.

    Args:
        quality: the ``[quality]`` options (``search_every``, ``idle_every``, ``model_every``).
        tracking: whether a crop tracker is there (without one every frame is searched).
        crop_pass: whether the backend takes the crop pass (without it the matter never idles).
    """

    def __init__(self, quality, *, tracking: bool = True, crop_pass: bool = True):
        #: the full-frame search pass may be left out on still frames (``quality.search_every``)
        self.search_every = int(quality.search_every) if tracking else 1
        self.idle_every = int(quality.idle_every) if crop_pass else 1
        self.model_every = int(quality.model_every)
        self._ref: Optional[np.ndarray] = None  # the thumbnail at the last search pass (host uint8)
        self._prev: Optional[np.ndarray] = None  # the previous frame's thumbnail
        self._since = 0  # frames since the last search pass
        self._still = False  # the last frame showed nothing changed outside the person
        self._nobody = 0  # frames in a row with nobody in view
        self._idle_searches = IDLE_DETECT_EVERY - 1  # idle search passes since the detectors' last look
        self._looked: Optional[np.ndarray] = None  # while idle: the blobs of the detectors' last look, grown
        self._second = False  # while idle: the next search pass with blobs looks again (new blobs)
        self._idle_no_wait = True  # while idle: the next search pass keeps its cadence (a change, a person blob)
        self._candidate = False  # the detectors' last run saw someone the presence gate has not confirmed
        self._crop_ref: Optional[Tuple[float, float, float, float]] = None  # the crop pass's person at the last search
        self._still_ref: Optional[np.ndarray] = None  # model_every: the small brightness at the last model run
        self._runs_skipped = 0
        #: what this frame may leave out for the live budget (:data:`SHEDS`; set by the matter)
        self.shed = SHEDS[0]
        self._crowd = False  # the last frame held more than one person

    @property
    def watches_still(self) -> bool:
        """Whether :meth:`planned` wants the frame's thumbnail (the search pass may be left out)."""
        return self.search_every > 1

    @property
    def reuses_search(self) -> bool:
        """Whether some frames may leave the search pass out (still frames, or idling)."""
        return self.search_every > 1 or self.idle_every > 1

    @property
    def idle(self) -> bool:
        """Nobody in view for IDLE_AFTER frames in a row (no person blob, or the presence gate
        says nobody): the search pass runs every ``idle_every``th frame and the matte is empty,
        until a search pass finds someone (on that frame the matter works as usual)."""
        return self.idle_every > 1 and self._nobody >= IDLE_AFTER

    def search_now(self, crop: Optional[Box]) -> bool:
        """Whether the full-frame search pass (the model on the whole frame) runs on this frame:
        while idle, every ``idle_every``th frame; otherwise always, except while a crop (``crop``,
        the previous frame's) tracks one person and the previous frame showed nothing changed
        outside the person's box since the last search pass (nor since the frame before), for at
        most ``search_every - 1`` frames in a row: the last search pass's probability stands in."""
        if self.idle:
            if self._candidate:  # someone the gate may confirm: no frame left out
                return True
            every = self.idle_every if self._idle_no_wait else max(self.idle_every, IDLE_STILL_EVERY)
            return self._since + 1 >= every
        if self.shed.search_every > 1 and crop is not None and not self._crowd and self._since + 1 < self.shed.search_every:
            return False  # the live budget: one person tracked, the pass runs every shed.search_every-th frame
        return not (self._still and crop is not None and self._since + 1 < self.search_every)

    def idle_look(self, blobs: np.ndarray) -> str:
        """While idle, on a search pass: what the detectors do (:data:`LOOK`, :data:`NOTHING` or
        :data:`REST`), from the segmenter's blobs (host bool ``(h, w)``, probability >=
        :data:`IDLE_BLOB`): with no blob, NOTHING; new blobs (the first since the matter idled, or
        beyond those of the last look: :func:`new_blobs`), LOOK, and LOOK on the next search pass
        with blobs too (a second look confirms a person); after a look that saw a
        candidate (someone the gate may soon confirm: :meth:`planned`), LOOK; else LOOK on every
        :data:`IDLE_DETECT_EVERY`-th search pass (the first one included). Not idle, they always
        look (the presence gate says how often)."""
        if not blobs.any():
            return NOTHING
        fresh = self._looked is None or new_blobs(blobs, self._looked)
        if fresh or self._second or self._candidate or self._idle_searches + 1 >= IDLE_DETECT_EVERY:
            self._second = fresh  # new blobs: a look now and one on the next search pass (the gate's second look)
            self._idle_searches = 0
            self._looked = grown_blobs(blobs)
            return LOOK
        self._idle_searches += 1
        return REST

    def left_out(self, thumb: Optional[np.ndarray] = None) -> None:
        """An idle frame that left out the search pass (the planner did not see it), with its
        thumbnail brightness (host uint8, or None: not compared): whether the picture changed since
        the last search pass (which found no person blob) decides how soon the next one runs
        (:data:`IDLE_STILL_EVERY`)."""
        self._since += 1
        ref = self._ref
        if thumb is None or ref is None or ref.shape != thumb.shape:
            self._idle_no_wait = True
        elif not self._idle_no_wait:
            self._idle_no_wait = not still_outside(thumb, ref, None, thumb.shape[:2])

    def planned(self, crop: Optional[Box], found, crowd: bool, gain: float, thumb: Optional[np.ndarray],
                searched: bool, frame_hw: Tuple[int, int], candidate: bool = False) -> None:
        """After the planner's decision for a frame: its ``crop``, the person blobs' box ``found``
        (frame pixels, or None), ``crowd`` (more than one person), the presence ``gain``, the
        frame's thumbnail brightness (host uint8, or None), whether it was searched, and whether
        the detectors' last run saw a ``candidate`` (someone the presence gate has not confirmed:
        while idle, every frame is searched and looked at until it decides)."""
        self._since = 0 if searched else self._since + 1
        self._candidate = candidate
        self._crowd = crowd
        nobody = crop is None and (found is None or gain <= 0.0)
        self._nobody = self._nobody + 1 if nobody else 0
        self._idle_no_wait = found is not None  # a person blob the gate has not confirmed (yet): no wait
        if not self.idle:  # the detectors look on the first idle search pass
            self._idle_searches, self._looked, self._second = IDLE_DETECT_EVERY - 1, None, False
        if not self.watches_still or thumb is None:
            self._still = False
            return
        if searched or self._ref is None:
            self._ref = thumb
        self._still = (crop is not None and found is not None and not crowd
                       and self._prev is not None and self._prev.shape == thumb.shape
                       and still_outside(thumb, self._ref, found, frame_hw)
                       and still_outside(thumb, self._prev, found, frame_hw, camera=STILL_CAMERA))
        self._prev = thumb

    def crop_seen(self, box: Optional[Tuple[float, float, float, float]], searched: bool,
                  frame_hw: Tuple[int, int]) -> None:
        """After the crop pass: ``box`` is where it saw the person (frame pixels,
        :func:`tile_person_box`; None: nowhere sure). On a search frame it is kept; on a frame that
        left the search pass out, the pass comes back on the next frame when the person has left the
        kept box grown by STILL_GROW of the frame's shorter side (the thumbnail test leaves the
        person's own box out, so only this sees them move): the crop then follows them."""
        if searched:
            self._crop_ref = box
            return
        ref = self._crop_ref
        if box is None or ref is None:
            self._still = False
            return
        g = STILL_GROW * min(frame_hw)
        if box[0] < ref[0] - g or box[1] < ref[1] - g or box[2] > ref[2] + g or box[3] > ref[3] + g:
            self._still = False

    def reuse_models(self, host_image: np.ndarray, tracked: bool) -> bool:
        """``quality.model_every``: whether this frame reuses the last model run's outputs: while
        they had a crop (``tracked``), fewer than ``model_every - 1`` frames reused them, and the
        picture's mean brightness change since they ran is below :data:`STILL_LEVELS`."""
        small = still_sample(host_image)
        ref = self._still_ref
        if (tracked and ref is not None and ref.shape == small.shape and self._runs_skipped < self.model_every - 1
                and float(np.mean(np.abs(small - ref))) < STILL_LEVELS):
            self._runs_skipped += 1
            return True
        self._runs_skipped, self._still_ref = 0, small
        return False

    def reused(self, thumb: Optional[np.ndarray]) -> None:
        """A frame that reused the last model run's outputs (the planner did not see it), with its
        thumbnail brightness (host uint8, or None): it counts as a frame without the search pass
        (``search_every``), and the next frame's camera guard compares with this one, frame to frame
        as on every other frame (over two frames a camera's slow drift passes it less often: the
        search pass came back ~1.8x as often on doctor-26732)."""
        self._since += 1
        if self.watches_still and thumb is not None and self._prev is not None:
            self._prev = thumb

    def forget(self) -> None:
        """A scene cut, a new source: every comparison starts again."""
        self._ref, self._prev, self._since, self._still = None, None, 0, False
        self._nobody, self._crowd, self._idle_searches = 0, False, IDLE_DETECT_EVERY - 1
        self._idle_no_wait, self._candidate = True, False
        self._looked, self._second = None, False
        self._still_ref = self._crop_ref = None


def grown_blobs(blobs: np.ndarray) -> np.ndarray:
    """The blobs (host bool ``(h, w)``) grown by IDLE_REACH of the grid's shorter side: where the
    detectors' look covered (uint8 0/1)."""
    r = max(1, int(round(IDLE_REACH * min(blobs.shape[:2]))))
    return cv2.dilate(blobs.view(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))


def new_blobs(blobs: np.ndarray, looked: np.ndarray) -> bool:
    """Whether the blobs (host bool ``(h, w)``) reach more than IDLE_NEW_SHARE of the grid beyond
    ``looked`` (:func:`grown_blobs` of the last look; another grid: everything is new).

    >>> a = np.zeros((144, 256), bool); a[40:80, 40:60] = True; b = a.copy(); b[40:80, 200:220] = True
    >>> new_blobs(a, grown_blobs(a)), new_blobs(b, grown_blobs(a)), new_blobs(np.roll(a, 6, axis=1), grown_blobs(a))
    (False, True, False)
    """
    if looked.shape != blobs.shape:
        return True
    beyond = cv2.countNonZero(blobs.view(np.uint8) & (1 - looked))
    return beyond > IDLE_NEW_SHARE * blobs.size


def still_outside(thumb: np.ndarray, ref: np.ndarray, person, frame_hw: Tuple[int, int], camera: float = 1.0) -> bool:
    """Whether nothing changed between two thumbnails (host uint8 ``(h, w)``) outside the
    ``person`` box (frame pixels, grown by STILL_GROW of the shorter side; None: anywhere): at most STILL_SHARE of
    the pixels there moved by more than STILL_LEVEL together with their 3x3 neighbours. A camera's
    slow drift or a sub-pixel shake lights up only thin lines along the background's edges, which
    that leaves out; a person walking in or a camera move changes whole regions. With ``camera``
    < 1, at most that share of the pixels there may have changed at all (edges included).

    >>> a = np.full((90, 160), 100, np.uint8); b = a.copy(); b[40:50, 60:100] = 200
    >>> still_outside(b, a, (240, 160, 400, 200), (360, 640)), still_outside(b, a, (0, 0, 10, 10), (360, 640))
    (True, False)
    """
    h, w = thumb.shape[:2]
    H, W = frame_hw
    g = STILL_GROW * min(H, W)
    x0 = y0 = x1 = y1 = 0  # no person: the whole frame
    if person is not None:
        x0, y0 = max(0, int((person[0] - g) * w / W)), max(0, int((person[1] - g) * h / H))
        x1, y1 = min(w, int(np.ceil((person[2] + g) * w / W))), min(h, int(np.ceil((person[3] + g) * h / H)))
    outside = h * w - max(0, x1 - x0) * max(0, y1 - y0)
    if outside <= 0:
        return True
    changed = cv2.threshold(cv2.absdiff(thumb, ref), STILL_LEVEL, 1, cv2.THRESH_BINARY)[1]
    if camera < 1.0 and _outside(changed, (x0, y0, x1, y1)) > camera * outside:
        return False
    changed = cv2.erode(changed, _SOLID)  # a region changed, not an edge (a camera's drift, noise)
    return _outside(changed, (x0, y0, x1, y1)) <= STILL_SHARE * outside


def _outside(mask: np.ndarray, box: Box) -> int:
    """Non-zero pixels of ``mask`` outside ``box`` (clipped grid pixels)."""
    x0, y0, x1, y1 = box
    return int(cv2.countNonZero(mask)) - int(cv2.countNonZero(mask[y0:y1, x0:x1]))


def still_sample(image: np.ndarray) -> np.ndarray:
    """The frame's green channel on a grid of 1/16 of its size, area-averaged from every 8th pixel
    (float32; cheap: a strided read, no pass over the whole frame)."""
    g = np.ascontiguousarray(image[::8, ::8, 1])
    h, w = g.shape
    return cv2.resize(g, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA).astype(np.float32)


def tile_person_box(tiles, level: float = 0.5) -> Optional[Tuple[float, float, float, float]]:
    """The bounding box (frame pixels) of the crop pass's probability above ``level`` over its
    tiles ``(box, prob)`` (``prob`` host float32 on the tile's model grid), or None where none is."""
    out = None
    for (x0, y0, x1, y1), prob in tiles:
        h, w = prob.shape[:2]
        mask = (prob > level).view(np.uint8)
        if not mask.any():
            continue
        bx, by, bw, bh = cv2.boundingRect(mask)
        sx, sy = (x1 - x0) / w, (y1 - y0) / h
        b = (x0 + bx * sx, y0 + by * sy, x0 + (bx + bw) * sx, y0 + (by + bh) * sy)
        out = b if out is None else (min(out[0], b[0]), min(out[1], b[1]), max(out[2], b[2]), max(out[3], b[3]))
    return out
