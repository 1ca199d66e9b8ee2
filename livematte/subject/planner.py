"""Per-frame subject decisions: one object, called by :class:`livematte.matter.Matter` on both engines."""
from __future__ import annotations

from typing import List, NamedTuple, Optional, Tuple

import cv2
import numpy as np

from .blobs import components, detected_blobs, join_detected, outside_crop, person_box, suppress
from .geometry import TILE_SPLIT, plan_tiles, pose_square
from .people import PeopleTracker, SubjectRule, spread
from .presence import AGREE_FLOOR, FACE_ON, WINDOW_ON, PresenceGate, agreed, best_face, combined, sure_people
from .schedule import SHEDS
from .schedule import IDLE_AFTER, still_outside  # noqa: F401  (their home before subject.schedule)
from .tracker import PoseSchedule, RoiTracker, WholeBodyGate

Box = Tuple[int, int, int, int]

#: a crop covering this share of the frame or more is dropped: the crop would be the frame
CROP_IS_FRAME = 0.9
#: frames in a row a tracked person the detector has found, seen only as a lukewarm blob (no
#: confident core), is kept so (a short dip of the model); longer, the blob rule decides again
LUKEWARM_HOLD = 3
#: a person detection this sure makes the lukewarm blobs inside its body box people
#: (:func:`.blobs.detected_blobs`), as it marks a track ``detected`` (:meth:`SubjectPlanner._people`)
DETECTED = 0.5
#: ``--subject IDS``: the matte is kept within this many model-grid cells of those people's blobs
#: (the crop pass finds more of a person than the full frame's blob: a hand, the hair)
IDS_REACH = 8
#: while nobody is present (and the matter does not idle), a person detection this sure whose body box lies
#: mostly outside the person blobs' box (or with no person blob) joins the crop (:func:`.blobs.join_detected`): DAVIS
#: scooter-gray's far rider is lukewarm or absent in the two models' average but seen by the detector from frame 0
DETECTED_CROP = DETECTED


class Plan(NamedTuple):
    """What to do with one frame.

    Attributes:
        prob: the full-frame probability after the decisions (host float32 ``(h, w)``), or None
            when they left it as it was (a device engine then keeps its own copy).
        crop: the subject crop (integer frame pixels), or None.
        tiles: the model-input tiles covering the crop, in paste order (empty without a crop).
        pose_square: the square the pose model's probability covers (a whole body with a crop), or None.
        pose_fresh: the pose model runs on ``pose_square`` on this frame; else (a still body) its
            last run's probability stands in, over that run's square (:class:`~.tracker.PoseSchedule`,
            ``quality.pose_every``).
        gain: the matte's gain in [0, 1] from the presence decision (1 without a detector).
        keep: host float32 ``(h, w)`` map in [0, 1] the matte is multiplied by (people the subject
            choice leaves out, where the crop would show them again), or None.
        people: the tracked people of this frame (:class:`PeopleFrame`), or None.
        idle: nobody has been in view for a while (:attr:`.schedule.FrontSchedule.idle`; set by the
            matter): the matte is empty.
        present: the presence gate's decision on this frame (None without a detector); under
            :attr:`SubjectPlanner.deferred` the matte is not emptied here: a
            :class:`~.presence.PresenceWindow` decides with later frames.
    """

    prob: Optional[np.ndarray]
    crop: Optional[Box]
    tiles: List[Box]
    pose_square: Optional[Box]
    gain: float = 1.0
    keep: Optional[np.ndarray] = None
    people: Optional["PeopleFrame"] = None
    idle: bool = False
    pose_fresh: bool = True
    present: Optional[bool] = None


class PeopleFrame(NamedTuple):
    """The tracked people of one frame, for layers and reports.

    Attributes:
        boxes: ``{id: (x0, y0, x1, y1)}`` in frame pixels (float), the confirmed people in view.
        seen: the ids seen this frame (the others coast through an occlusion).
        chosen: the ids the subject choice keeps.
        grid: the tracker's :class:`~.people.People` of this frame on the model grid
            (``grid.owners()``: which id owns each blob pixel; :func:`.people.spread` gives the
            pixels around them to the nearest).
    """

    boxes: dict
    seen: frozenset
    chosen: frozenset
    grid: object


class SubjectPlanner:
    """Blobs, tracker, whole-body gate, crop rules and the partner schedule, in one place.

    Args:
        quality: the ``[quality]`` options (``QualityConfig``).
        crop_pass: whether the backend takes the crop pass (``BackendSpec.crop_pass``); without it
            the model's output is taken as it is (no blobs, no crop).
        pose: whether a pose model is there to segment whole bodies.
        presence: whether a person detector answers (:meth:`detect_boxes`; ``plan(detections=)``,
            and the face detector's ``plan(faces=)`` on the same frames when it runs): with no
            person in the picture the matte fades to empty (:mod:`.presence`).
    """

    def __init__(self, quality, *, crop_pass: bool = True, pose: bool = False, presence: bool = False,
                 subject: str = "main", ids=()):
        q = self.quality = quality
        self.crop_pass = crop_pass
        self.tracker = None
        if crop_pass and q.roi:
            self.tracker = RoiTracker(margin=q.roi_margin, confirm=int(q.roi_confirm),
                                      max_aspect=100.0 if q.roi_tiles else 1.0)
        self.pose = pose and self.tracker is not None
        self.whole_body = WholeBodyGate()
        self.pose_schedule = PoseSchedule(q.pose_every)
        self.presence = PresenceGate() if presence and crop_pass else None
        self.presence_on = None if self.presence is None else self.presence.on  # the causal gate's start
        self.confirm = bool(getattr(q, "presence_confirm", False))  # a new person needs two looks that agree
        #: files (a :class:`~.presence.PresenceWindow` after the matter): the gate decides but does not
        #: empty the matte; a start needs two agreeing looks >= WINDOW_ON, no provisional first look
        self.deferred = False
        self.last_crop: Optional[Box] = None
        self.last_found: Optional[Tuple[float, float, float, float]] = None  # person blobs, frame pixels
        self._runs = 0  # detector runs so far (which view is next)
        self._looked: list = []  # the last detector run's supported detections (a second look confirms)
        self.people = PeopleTracker() if crop_pass else None
        self.rule = SubjectRule(subject, ids)
        #: what this frame may leave out for the live budget (:class:`~.schedule.Shed`; set by the matter)
        self.shed = SHEDS[0]
        #: the last frame's blobs or tracks held more than one person (the search pass then runs on
        #: every frame: their ids need fresh blobs)
        self.crowd = False
        #: the last detector run saw someone who may be a person (a supported score >= AGREE_FLOOR,
        #: the presence gate not yet sure): the matter, idle, lets the detectors look on every search pass
        self.candidate = False
        #: the matter idles (:attr:`.schedule.FrontSchedule.idle`; set by the matter before each
        #: searched frame): the detector looks as before the far-person search, and no detection
        #: opens a crop (only the gate wakes an idle matter: a bus the detector takes for a person
        #: stays as cheap as an empty street)
        self.idle = False
        self._blobs = None  # (prob, Components) of the last plan: a frame that left the search out has the same prob

    @property
    def present(self) -> Optional[bool]:
        """The presence gate's current decision (None without a detector)."""
        return None if self.presence is None else self.presence.present

    @property
    def pose_rests(self) -> bool:
        """Whether the pose model may rest on a still body (``quality.pose_every``): :meth:`plan`
        then wants the frame's thumbnail."""
        return self.pose and self.pose_schedule.every > 1

    def detect_boxes(self, frame_hw: Tuple[int, int]) -> List[Box]:
        """Where the person detector looks on this frame (integer frame pixels; empty when it does
        not run: it runs on every frame while no person is sure, every few frames while one is):
        the whole frame and the square around the previous frame's person blobs
        (:func:`detection_box`; a small person is seen larger there, a rider with the vehicle is
        seen better whole), by turns; with ``quality.presence_confirm`` both while nobody is
        present (a new person is confirmed by two views that agree, or by the previous run), and
        with no person blob the whole frame and, by turns, one of the squares at its two ends
        (:func:`end_squares`: a small, far person the whole frame's 224 pixels miss is seen ~1.8x
        larger on a 16:9 frame; both on a shot's first frame, where a person found opens the crop
        at once)."""
        if self.presence is None or not self.presence.due():
            return []
        self._runs += 1
        whole = detection_box(None, frame_hw)
        searching = (self.confirm or self.deferred) and not self.presence.present
        if self.last_found is None:
            ends = end_squares(frame_hw) if searching and not self.idle else []
            if ends and self.tracker is not None and self.tracker.fresh:  # a shot's first frame: both ends
                return [whole, *ends]  # (a person found there opens the crop at once)
            return [whole, ends[self._runs % 2]] if ends else [whole]
        square = detection_box(self.last_found, frame_hw)
        if searching:
            return [whole, square] if square != whole else [whole]
        return [square if self._runs % 2 else whole]

    def face_decides(self, faces, prob: np.ndarray, frame_hw: Tuple[int, int]) -> bool:
        """Whether the face detector's ``faces`` (frame pixels) already keep the present person on
        this frame, so the person detector (~16 ms a run on one core, the face detector ~2 ms) need
        not run: a face >= ``FACE_STAY`` where the segmenter is sure. The gate only compares the
        combined score with its thresholds, so its decision is the same either way (a video call's
        face is seen every time: the person detector rests). While nobody is present the person
        detector always runs, so a person entering is checked by it too (the people tracker's
        ``Track.detected``); a skipped run is, for the tracker, a frame the detector did not run on."""
        g = self.presence
        if g is None or not g.present or g.provisional or not faces:  # a provisional start needs the
            return False  # person detector's second look (a face alone would end it)
        return combined(0.0, best_face(faces, prob, frame_hw), g.on, g.stay) >= g.stay

    def partner_now(self) -> bool:
        """Whether the partner model runs on this frame: always with ``ensemble_tracking``, else only
        while searching (no crop on the previous frame). Once a crop holds the person, the crop pass
        decides the person and the general model alone is sharper on the rest (and one run cheaper)."""
        return self.quality.ensemble_tracking or self.last_crop is None

    def plan(self, prob: np.ndarray, frame_hw: Tuple[int, int], detections=None, rgb=None, *, faces=None,
             thumb=None) -> Plan:
        """Decide for one frame from its full-frame probability (host float32 ``(h, w)``) and, on
        the frames where :meth:`detect_boxes` gave a box, the person detector's ``detections`` there
        (normalised to the frame) and the face detector's ``faces`` on the whole frame (boxes in
        frame pixels; None without a face detector); ``rgb`` uint8 ``(h, w, 3)`` is the frame on
        the model grid (the tracked people's colours); ``thumb`` the frame's thumbnail brightness
        (host uint8; whether the pose model may rest, :attr:`pose_rests`). Whether the search pass
        runs is the matter's :class:`~.schedule.FrontSchedule`'s decision."""
        if not self.crop_pass:
            return Plan(None, None, [], None)
        self.pose_schedule.left_out = False
        plan = self._plan(prob, frame_hw, detections, rgb, faces, thumb)
        if plan.pose_square is None and not self.pose_schedule.left_out:  # no whole body in a crop:
            self.pose_schedule.reset()  # the pose model starts afresh next time
        return plan

    def _plan(self, prob: np.ndarray, frame_hw: Tuple[int, int], detections, rgb, faces, thumb=None) -> Plan:
        H, W = frame_hw
        h, w = prob.shape
        labels, stats, person = self._components(prob)
        bodies = [_scaled(d.body, w, h) for d in (detections or ()) if d.score >= DETECTED]  # grid pixels
        if bodies:  # the detector ran and found someone: a lukewarm blob it vouches for is a person
            person = detected_blobs(stats, person, bodies)  # (between its runs LUKEWARM_HOLD keeps them)
        people, drop, crop_found = None, None, None
        # ``found`` is the confident blobs' box (the detectors' views and the whole-body gate; the
        # blobs the ids come from do not depend on the subject choice); the crop's box is the same
        # unless ``main`` leaves someone out: then only the people kept (a bigger blob left out
        # would take the crop, and the person under a quarter of it be dropped as outside it)
        found, doubtful = person_box(labels, stats, person)
        if self.presence is not None and not self.presence.present and detections and not self.idle:
            # nobody present yet: a person the detector sees away from the blobs is in the crop
            found = join_detected(found, [(d.score, _clip((d.body[0] * w, d.body[1] * h, d.body[2] * w,
                                                            d.body[3] * h), (h, w)))
                                          for d in detections if d.score >= DETECTED_CROP])
        if self.people is not None:
            people, kept, drop, chosen = self._people(prob, labels, stats, person, rgb, bodies, frame_hw, faces)
            doubtful = (~kept)[labels] & (labels > 0)
            if drop is not None and self.rule.kind == "main":
                crop_found = person_box(labels, stats, person & kept)[0] or found
            if self.rule.kind != "main":  # all, IDS: the small people asked for are in the crop too
                for b in chosen:
                    found = b if found is None else (min(found[0], b[0]), min(found[1], b[1]),
                                                       max(found[2], b[2]), max(found[3], b[3]))
        self.last_found = None if found is None else _scaled(found, W / w, H / h)
        crop_found = self.last_found if crop_found is None else _scaled(crop_found, W / w, H / h)
        # more than one person: their ids need fresh blobs on every frame (no search pass left out)
        self.crowd = int(person.sum()) > 1 or (self.people is not None and len(self.people.tracks) > 1)
        gain, present = 1.0, None
        if self.presence is not None:
            g = self.presence
            g.on, g.first_look = (WINDOW_ON, False) if self.deferred else (self.presence_on, True)
            score = second = None
            if detections is not None:
                face = None if faces is None else best_face(faces, prob, frame_hw)
                looks = sure_people(detections, prob)
                best = max((d.score for d in looks), default=0.0)
                score = combined(best, face, g.on, g.stay)
                if self.confirm or self.deferred:  # a new person is confirmed by a second look (one detection that jumps is not one)
                    second = combined(agreed(looks, self._looked, frame_hw), face, g.on, g.stay)
                    if detections or not g.present:  # [] while present: a face decided, no run
                        self._looked = looks
            gain = g.update(score, second)
            present = g.present
            if score is not None:
                self.candidate = not present and score >= AGREE_FLOOR
            if self.deferred:
                gain = 1.0  # the window after the matter decides
            elif gain <= 0.0:  # nobody there: an empty matte, and the tracker lets go
                if self.tracker is not None:
                    self.tracker.update(None, frame_hw)
                self.last_crop = None
                return Plan(np.zeros_like(prob), None, [], None, 0.0, None, people, present=present)
        changed = None
        if doubtful.any():  # lukewarm blobs with no confident core (and people left out): removed
            changed = prob = suppress(prob, doubtful)
        # a person cut by the frame's bottom edge (head and shoulders): no whole body for the pose model
        whole_body = self.whole_body.update(found, h)
        crop = None
        if self.tracker is not None:
            crop = self.tracker.update(crop_found, (H, W))
            if crop is not None and (crop[2] - crop[0]) * (crop[3] - crop[1]) >= CROP_IS_FRAME * H * W:
                crop = None  # the crop would be the frame: nothing to gain
        self.last_crop = crop
        keep = None
        if drop is not None:  # where the people left out are (the crop pass would find them again)
            keep = 1.0 - cv2.blur(cv2.dilate(drop.view(np.uint8), np.ones((3, 3), np.uint8)).astype(np.float32), (3, 3))
        if crop is None:
            return Plan(changed, None, [], None, gain, keep, people, present=present)
        if self.quality.roi_outside == "drop":
            # the blobs of the prob the tracker saw, unless lukewarm ones were suppressed from it since
            outside = outside_crop(prob, crop, (H, W), labels=labels if changed is None else None)
            if outside.any():
                changed = prob = np.where(outside, np.float32(0.0), prob)
        shed = self.shed
        if not self.quality.roi_tiles:
            tiles = [crop]
        else:  # the live budget may segment a tall crop as one square tile
            tiles = plan_tiles(crop, (H, W), split=float("inf") if shed.one_tile else TILE_SPLIT)
        whole_body = whole_body and shed.pose
        square = pose_square(crop, (H, W), self.quality.pose_margin) if self.pose and whole_body else None
        square, fresh = self.pose_schedule.plan(square, thumb, (H, W), at_most=shed.pose_every)
        return Plan(changed, crop, tiles, square, gain, keep, people, pose_fresh=fresh, present=present)

    def _components(self, prob: np.ndarray):
        """:func:`components` of ``prob``; the last plan's when ``prob`` is the very array it saw
        (the search pass's probability standing in on a still frame, read-only on the numpy engine)."""
        last = self._blobs
        if last is not None and last[0] is prob and not prob.flags.writeable:
            return last[1]
        blobs = components(prob, min_core=self.quality.min_core)
        self._blobs = (prob, blobs)
        return blobs

    def _people(self, prob, labels, stats, person, rgb, bodies, frame_hw, faces=None):
        """Track the people (:mod:`.people`) and apply the subject choice to the blobs (``bodies``:
        the person detector's sure boxes, grid pixels; ``faces``: the face detector's, frame
        pixels): a blob a chosen person holds counts as a person even when lukewarm; a blob only
        left-out people hold does not.
        Returns ``(PeopleFrame, kept, drop, boxes)``: ``kept`` the blobs that stay (bool per label:
        the people, with the lukewarm blobs chosen people hold, without the blobs of people left
        out), ``drop`` bool ``(h, w)`` where those are (None: nobody left out), ``boxes`` the chosen
        people's grid boxes seen this frame."""
        h, w = prob.shape
        H, W = frame_hw
        face_boxes = [_scaled(f.box, w / W, h / H) for f in (faces or ()) if f.score >= FACE_ON]  # grid pixels
        seen = self.people.update(self.people.observe(labels, stats, person, rgb), labels, bodies, face_boxes)
        chosen = self.rule.choose(seen)
        excluded = self.rule.excluded(seen, chosen)
        owned = {k: [i for i, _ in v] for k, v in seen.owned.items()}
        # the blob of a chosen person the detector has found is not removed as a lukewarm one
        # for a short dip of the model (the segmenter's own tracks include animals: there its
        # blob rule decides, as without tracking)
        held = [k for k, ids in owned.items() if any(i in chosen and (person[k] or (
            seen.tracks[i].detected and seen.tracks[i].lukewarm <= LUKEWARM_HOLD)) for i in ids)]
        kept, drop = person.copy(), None
        kept[held] = True
        if self.rule.kind == "ids":  # those people only: everything farther from them than from
            kept = np.zeros_like(kept)  # another person, or far from every blob, goes
            kept[held] = True
            drop = ~np.isin(spread(seen.owners(), reach=IDS_REACH), list(chosen))
            for i in chosen:  # one of them coasting through a gap: kept where they should be
                _paint(drop, seen.tracks[i].box, False)
        elif excluded:
            gone = [k for k, ids in owned.items() if k not in held and set(ids) <= set(excluded)]
            kept[gone] = False  # blobs only left-out people hold go
            marked = seen.owners()
            if held:  # a blob shared with a chosen person stays whole
                marked = np.where(np.isin(labels, held), -1, marked)
            drop = np.isin(spread(marked), excluded)
            for i in excluded:  # someone left out coasting through a gap: their predicted box goes
                t = seen.tracks[i]
                if not t.seen:
                    _paint(drop, t.box, True)
            drop &= marked >= 0
            if not drop.any():
                drop = None
        tracks = seen.tracks
        in_view = frozenset(i for i, t in tracks.items() if t.seen)
        boxes = [tracks[i].box for i in chosen & in_view]
        frame_boxes = {}
        for i, t in tracks.items():  # in the frame (a coasting prediction may leave it)
            x0, y0 = min(W, max(0.0, t.box[0] * W / w)), min(H, max(0.0, t.box[1] * H / h))
            x1, y1 = min(W, max(0.0, t.box[2] * W / w)), min(H, max(0.0, t.box[3] * H / h))
            if x1 > x0 and y1 > y0:
                frame_boxes[i] = (x0, y0, x1, y1)
        return PeopleFrame(frame_boxes, in_view, chosen, seen), kept, drop, boxes

    def forget(self) -> None:
        """A scene cut: the tracker and the whole-body decision start again; the presence decision
        is kept (no one-frame gap) and checked again on the next frame."""
        if self.tracker is not None:
            self.tracker.reset()
        self.whole_body.reset()
        self.pose_schedule.reset()
        if self.people is not None:
            self.people.forget()
        self.rule.reset()
        self._looked = []  # a new shot: the last one's detections confirm nobody
        if self.presence is not None:
            self.presence.since = self.presence.every

    def reset(self) -> None:
        """A new source or a seek."""
        self.forget()
        self.last_crop = None
        self.last_found = None
        self.candidate = self.idle = False
        self._runs = 0  # the detector's views start again with the whole frame (results must not
        # depend on the clip before: DAVIS motorbike's IoU was 0.394 after scooter-gray, 0.161 alone)
        if self.people is not None:
            self.people.reset()
        if self.presence is not None:
            self.presence.reset()


def _scaled(box, sx: float, sy: float) -> Tuple[float, float, float, float]:
    """``box`` ``(x0, y0, x1, y1)`` with its x scaled by ``sx`` and its y by ``sy`` (grid <-> frame pixels)."""
    return (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy)


def _clip(box, hw: Tuple[int, int]) -> Tuple[float, float, float, float]:
    """``box`` (grid pixels) clipped to a grid of ``hw``."""
    h, w = hw
    return (max(0.0, box[0]), max(0.0, box[1]), min(float(w), box[2]), min(float(h), box[3]))


def _paint(mask: np.ndarray, box, value: bool) -> None:
    """Set ``mask`` to ``value`` inside ``box`` (grid pixels, clipped)."""
    x0, y0 = max(0, int(box[0])), max(0, int(box[1]))
    mask[y0:max(y0, int(np.ceil(box[3]))), x0:max(x0, int(np.ceil(box[2])))] = value


def end_squares(frame_hw: Tuple[int, int]) -> List[Box]:
    """The two squares of the frame's shorter side at its two ends (left and right of a landscape
    frame, top and bottom of a portrait one); none for a frame within 8 pixels of square.

    >>> end_squares((480, 854)), end_squares((100, 104))
    ([(0, 0, 480, 480), (374, 0, 854, 480)], [])
    """
    H, W = frame_hw
    side = min(H, W)
    if abs(W - H) <= 8:
        return []
    return [(0, 0, side, side), (W - side, H - side, W, H)]


def detection_box(found, frame_hw: Tuple[int, int], grow: float = 0.25) -> Box:
    """The square the person detector sees: ``found`` (frame pixels, or None) grown by ``grow`` x
    its larger side on each side, made square, clipped to the frame; the whole frame without it.
    A small person seen through this box is large enough for the detector's 224x224 input.

    >>> detection_box((100, 100, 140, 200), (480, 854))
    (45, 75, 195, 225)
    """
    H, W = frame_hw
    if found is None:
        return (0, 0, W, H)
    x0, y0, x1, y1 = found
    side = max(x1 - x0, y1 - y0) * (1 + 2 * grow)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    bx0, by0 = max(0, int(cx - side / 2)), max(0, int(cy - side / 2))
    bx1, by1 = min(W, int(np.ceil(cx + side / 2))), min(H, int(np.ceil(cy + side / 2)))
    if bx1 - bx0 < 8 or by1 - by0 < 8:
        return (0, 0, W, H)
    return (bx0, by0, bx1, by1)
