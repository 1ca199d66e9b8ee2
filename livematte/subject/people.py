"""Tracked people with identities: the segmenter's person blobs (and the person detector's boxes
where it runs) carried from frame to frame with stable ids.

Per frame, on the full-frame model grid (host arrays, both engines):

1. **Observations**: the person blobs of :func:`.blobs.components` (a confident core), each with a
   box, an area and an appearance (:func:`appearance`: colour histograms of its upper and lower half
   on the thumbnail, 2 x 64 bins).
2. **Prediction**: each track's box moves by its velocity (constant velocity, damped while coasting).
3. **Shared blobs**: a blob that holds the predicted boxes of two or more tracks (people touching,
   crossing) does not update them: they coast on their prediction and share its pixels
   (:func:`owner_map` splits them by the nearest predicted box), so neither inherits the other's
   box or colours.
4. **Association**: greedy, cheapest first, over the pairs that pass the gate (IoU >= 0.1 or the
   centre within one box size): cost = ``1 - IoU + centre distance + APPEARANCE x Bhattacharyya
   distance``. After a crossing the colours decide who is who.
5. **Re-identification**: a blob no track claims is compared with the people who left recently
   (kept ``memory`` frames): the same colours (distance <= ``REID``) and a size within 2x give the old id
   back; else it is a new person. A track gets its public id once seen on ``confirm`` frames (a
   one-frame false blob uses no id); ids count 1, 2, 3 ... in order of confirmation.
6. **Keeping a person**: a track missed for up to ``patience`` frames keeps its predicted box
   (a short occlusion); a lukewarm blob (no confident core) on a track's predicted box is taken as that
   person, so the planner can keep it from the blob filter (for a person the detector has found:
   ``Track.detected``); a detector box on a missed track's prediction keeps it too.

Cost: one histogram per blob (a bincount over its pixels) and a few box operations per track:
measured 0.1-0.3 ms per frame on a 256x256 grid with 1-6 people (docs/quality.md).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

Box = Tuple[float, float, float, float]

#: weight of the appearance distance in the association cost
APPEARANCE = 1.0
#: largest appearance distance (Bhattacharyya, 0..1) at which a returning person gets their id back
REID = 0.2
#: bins per colour channel of the appearance histograms (4 x 4 x 4 = 64 per half)
LEVELS = 4


def appearance(rgb: np.ndarray, mask: np.ndarray) -> Optional[np.ndarray]:
    """Colour histograms (``LEVELS``^3 bins, normalised) of the upper and lower half of a blob:
    ``mask`` bool ``(h, w)`` (its box) on ``rgb`` uint8 ``(h, w, 3)`` (the same box): float32
    ``(2, 64)``, or None when the blob has too few pixels."""
    m = mask
    if m.sum() < 8:
        return None
    q = (rgb >> 6).astype(np.int32)  # 256 levels -> LEVELS = 4
    code = (q[..., 0] * LEVELS + q[..., 1]) * LEVELS + q[..., 2]
    half = m.shape[0] // 2
    out = np.zeros((2, LEVELS ** 3), np.float32)
    for k, part in enumerate((slice(0, max(1, half)), slice(max(1, half), None))):
        c = code[part][m[part]]
        if c.size:
            out[k] = np.bincount(c, minlength=LEVELS ** 3)[:LEVELS ** 3] / c.size
    return out


def colour_distance(a: Optional[np.ndarray], b: Optional[np.ndarray]) -> float:
    """Bhattacharyya distance (0 same .. 1 disjoint) of two :func:`appearance` histograms, halves
    averaged; 0.5 when either is unknown."""
    if a is None or b is None:
        return 0.5
    bc = np.sqrt(a * b).sum(axis=1)
    return float(np.mean(np.sqrt(np.clip(1.0 - bc, 0.0, 1.0))))


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes ``(x0, y0, x1, y1)``."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def inside_share(a: Box, b: Box) -> float:
    """The share of box ``a``'s area that lies inside box ``b``."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    area = (a[2] - a[0]) * (a[3] - a[1])
    return ix * iy / area if area > 0 else 0.0


def centre_distance(a: Box, b: Box) -> float:
    """Distance of the boxes' centres in sizes of ``a`` (the mean of its width and height)."""
    ca = ((a[0] + a[2]) / 2, (a[1] + a[3]) / 2)
    cb = ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)
    size = max(1.0, 0.5 * (a[2] - a[0] + a[3] - a[1]))
    return float(np.hypot(ca[0] - cb[0], ca[1] - cb[1]) / size)


@dataclass
class Blob:
    """One observation: a connected blob of the grid (``label`` in the component map, 0 for a
    detector box without pixels), its box (grid pixels), area, appearance, and whether it has a
    confident core."""

    label: int
    box: Box
    area: float
    colours: Optional[np.ndarray]
    sure: bool = True


@dataclass
class Track:
    """One person carried across frames (boxes in grid pixels)."""

    key: int  # internal, unique
    box: Box
    area: float
    colours: Optional[np.ndarray]
    first: int
    id: int = 0  # public id, 0 until confirmed
    velocity: Tuple[float, float] = (0.0, 0.0)
    hits: int = 1
    misses: int = 0
    last: int = 0
    scale: float = 0.0  # smoothed sqrt(area): how close to the camera
    partial: int = 0  # frames in a row seen much smaller than it was (its box held)
    lukewarm: int = 0  # frames in a row seen only as a lukewarm blob
    detected: bool = False  # the person detector has found them (not only the segmenter)
    shared: bool = False  # this frame: in a blob shared with another track
    seen: bool = True  # this frame: matched to a blob

    def predicted(self) -> Box:
        vx, vy = self.velocity
        x0, y0, x1, y1 = self.box
        return (x0 + vx, y0 + vy, x1 + vx, y1 + vy)


@dataclass
class People:
    """What the tracker knows after one frame.

    Attributes:
        tracks: the confirmed people in view (seen this frame, sharing a blob, or coasting through a
            short occlusion), by id.
        labels: int32 ``(h, w)`` the component map the blobs were found on.
        owned: ``{label: [(id, box), ...]}``: the confirmed people holding each blob (their grid
            boxes this frame).
    """

    tracks: Dict[int, Track] = field(default_factory=dict)
    labels: Optional[np.ndarray] = None
    owned: Dict[int, List[Tuple[int, Box]]] = field(default_factory=dict)

    def owners(self) -> np.ndarray:
        """int32 ``(h, w)`` grid map: the id owning each blob pixel (0: nobody confirmed); a blob
        shared by several people is split by the nearest box (:func:`owner_map`)."""
        if self.labels is None:
            raise ValueError("no component map")
        return owner_map(self.labels, self.owned)


class PeopleTracker:
    """Stable ids for the people in view (see the module docstring).

    Args:
        confirm: frames a new track must be seen before it gets an id (the first frame of a shot
            confirms at once).
        patience: frames a track coasts without a blob before it is put aside.
        memory: frames a person put aside is remembered for re-identification.
        min_area: smallest blob (share of the grid) that is tracked.
    """

    def __init__(self, confirm: int = 2, patience: int = 8, memory: int = 90, min_area: float = 5e-4):
        self.confirm, self.patience, self.memory, self.min_area = confirm, patience, memory, min_area
        self.next_id = 1
        self._keys = 0
        self.frame = -1
        self.tracks: List[Track] = []
        self.gone: List[Track] = []  # put aside, for re-identification
        self.fresh = True

    def forget(self) -> None:
        """A scene cut or a seek: positions mean nothing any more; everyone in view is put aside
        (their colours can still give their ids back)."""
        for t in self.tracks:
            if t.id:
                self.gone.append(t)
        self.tracks = []
        self.fresh = True

    def reset(self) -> None:
        """A new source: ids start again at 1."""
        self.__init__(self.confirm, self.patience, self.memory, self.min_area)

    # ---------------------------------------------------------------------------------- per frame
    def observe(self, labels: np.ndarray, stats: np.ndarray, person: np.ndarray, rgb: Optional[np.ndarray],
                lukewarm: bool = True) -> List[Blob]:
        """The blobs worth tracking from a component map (``cv2.connectedComponentsWithStats``
        ``labels``/``stats``; ``person`` bool per label: a confident core). Lukewarm blobs are
        returned too (``sure=False``) when ``lukewarm``: only an existing track may take them."""
        h, w = labels.shape
        least = self.min_area * h * w
        out = []
        for k in range(1, len(stats)):
            area = float(stats[k, cv2.CC_STAT_AREA])
            if area < least or not (person[k] or lukewarm):
                continue
            x, y, bw, bh = (int(v) for v in stats[k, :4])
            box = (x, y, x + bw, y + bh)
            colours = None  # a lukewarm blob's colours are not the person's (never learnt)
            if rgb is not None and person[k]:
                colours = appearance(rgb[y:y + bh, x:x + bw], labels[y:y + bh, x:x + bw] == k)
            out.append(Blob(k, tuple(float(v) for v in box), area, colours, bool(person[k])))
        return out

    def update(self, blobs: Sequence[Blob], labels: Optional[np.ndarray], detections: Sequence[Box] = (),
               faces: Sequence[Box] = ()) -> People:
        """Advance one frame with its ``blobs`` (:meth:`observe`) on the component map ``labels``,
        the person detector's body boxes (grid pixels) where it ran and the face detector's sure
        faces (grid pixels): a track holding a face's centre is a detected person too (on a video
        call the face detector keeps the person present and the person detector rests)."""
        self.frame += 1
        fresh, self.fresh = self.fresh, False
        for t in self.tracks:
            t.shared = t.seen = False
        preds = {t.key: t.predicted() for t in self.tracks}
        owned: Dict[int, List[Track]] = {}  # blob label -> tracks sharing it
        # shared blobs: two or more tracks whose predicted boxes sit mostly on one sure blob
        sits: Dict[int, List[Track]] = {}
        sure = {b.label for b in blobs if b.sure}
        if labels is not None:
            for t in self.tracks:
                label = _sits_on(labels, preds[t.key]) if t.id else 0
                if label in sure:
                    sits.setdefault(label, []).append(t)
        free = []
        for b in blobs:
            holders = sits.get(b.label, [])
            if len(holders) >= 2:
                for t in holders:  # each moves on at its speed, held inside the shared blob's box
                    t.shared = t.seen = True
                    t.box, t.misses, t.last = _within(preds[t.key], b.box), 0, self.frame
                    t.hits += 1
                owned[b.label] = holders
            else:
                free.append(b)
        # greedy association, cheapest pair first
        pairs = []
        for t in self.tracks:
            if t.shared:
                continue
            p, reach = preds[t.key], 1.0 + 0.5 * min(t.misses, 4)  # a missing person may have moved on
            for j, b in enumerate(free):
                o, d = iou(p, b.box), centre_distance(p, b.box)
                if o < 0.1 and d > reach:
                    continue
                if not b.sure and o < 0.3:  # a lukewarm blob must sit on the person
                    continue
                size = abs(float(np.log(max(b.area, 1.0) / max(t.area, 1.0))))
                pairs.append((1.0 - o + d + 0.25 * size + APPEARANCE * colour_distance(t.colours, b.colours),
                              t.key, j))
        pairs.sort(key=lambda p: p[0])
        taken_t, taken_b, matched = set(), set(), []
        by_key = {t.key: t for t in self.tracks}
        for _, key, j in pairs:
            if key in taken_t or j in taken_b:
                continue
            taken_t.add(key)
            taken_b.add(j)
            matched.append((by_key[key], j))
        for t, j in matched:  # the pieces of a person the model broke apart are that person too
            main = free[j]
            box, area, labels_of = main.box, main.area, [main.label]
            around = _union(_grow(preds[t.key], 0.15), box)
            for k, b in enumerate(free):
                if k not in taken_b and inside_share(b.box, around) >= 0.7:
                    taken_b.add(k)
                    box, area = _union(box, b.box), area + b.area
                    labels_of.append(b.label)
            self._hit(t, Blob(main.label, box, area, main.colours, main.sure), preds[t.key])
            for label in labels_of:
                owned[label] = [t]
        # the rest of the blobs: a returning person, or someone new (sure blobs only)
        for j, b in enumerate(free):
            if j in taken_b or not b.sure:
                continue
            t = self._returning(b, preds)
            if t is None:
                self._keys += 1
                t = Track(self._keys, b.box, b.area, b.colours, self.frame, last=self.frame,
                          scale=float(np.sqrt(b.area)))
                self.tracks.append(t)
            owned[b.label] = [t]
            if fresh or t.hits >= self.confirm:
                self._confirm(t)
        # missed tracks coast; a detector box on the prediction keeps them seen
        for t in self.tracks:
            if t.seen:
                if any(iou(t.box, d) >= 0.3 for d in detections) or any(_holds(t.box, f) for f in faces):
                    t.detected = True
                continue
            p = preds[t.key]
            det = max(detections, key=lambda d: iou(p, d), default=None)
            if det is not None and iou(p, det) >= 0.3:
                t.box, t.seen, t.misses, t.last, t.detected = tuple(det), True, 0, self.frame, True
                continue
            t.misses += 1
            t.velocity = (0.8 * t.velocity[0], 0.8 * t.velocity[1])
            t.box = p
        keep = []
        for t in self.tracks:
            if t.misses > self.patience or (not t.id and t.misses > 0):
                if t.id:
                    self.gone.append(t)
            else:
                keep.append(t)
        self.tracks = keep
        self.gone = [t for t in self.gone if self.frame - t.last <= self.memory]
        return People({t.id: t for t in self.tracks if t.id}, labels,
                      {k: [(t.id, t.box) for t in v if t.id] for k, v in owned.items() if any(t.id for t in v)})

    def _hit(self, t: Track, b: Blob, pred: Box) -> None:
        """``t`` seen as ``b`` (its pieces joined). Much smaller than the person was (under half the
        smoothed area: a part hidden or lost by the model) it keeps its box for up to ``patience``
        frames, so its box, speed and size do not jump; a blob that changed size a lot (merged with
        something, or broken) moves the box but not the speed."""
        t.seen, t.misses, t.last = True, 0, self.frame
        t.hits += 1
        t.lukewarm = 0 if b.sure else t.lukewarm + 1
        ratio = b.area / max(t.area, 1.0)
        if ratio < 0.5 and t.partial < self.patience:
            t.partial += 1
            t.velocity = (0.5 * t.velocity[0], 0.5 * t.velocity[1])
        else:
            t.partial = 0
            if 0.5 <= ratio <= 2.0:
                cx = (b.box[0] + b.box[2] - t.box[0] - t.box[2]) / 2
                cy = (b.box[1] + b.box[3] - t.box[1] - t.box[3]) / 2
                t.velocity = (0.5 * t.velocity[0] + 0.5 * cx, 0.5 * t.velocity[1] + 0.5 * cy)
            else:
                t.velocity = (0.5 * t.velocity[0], 0.5 * t.velocity[1])
            t.box, t.area = b.box, 0.7 * t.area + 0.3 * b.area
            if b.sure:
                t.scale = 0.8 * t.scale + 0.2 * float(np.sqrt(b.area))
                if b.colours is not None:
                    t.colours = b.colours if t.colours is None else 0.8 * t.colours + 0.2 * b.colours
        if not t.id and t.hits >= self.confirm:
            self._confirm(t)

    def _confirm(self, t: Track) -> None:
        if not t.id:
            t.id = self.next_id
            self.next_id += 1

    def _returning(self, b: Blob, preds: Dict[int, Box]) -> Optional[Track]:
        """The person whose colours and size match ``b`` best among those missing this frame
        (within 3 box sizes of their prediction) and those put aside; a person put aside is taken
        back into the tracks."""
        best, best_d = None, REID
        missing = [t for t in self.tracks if t.id and not t.seen and centre_distance(preds[t.key], b.box) <= 3.0]
        for t in missing + self.gone:
            if not 0.5 <= b.area / max(t.area, 1.0) <= 2.0:
                continue
            d = colour_distance(t.colours, b.colours)
            if d <= best_d:
                best, best_d = t, d
        if best is None:
            return None
        if best in self.gone:
            self.gone.remove(best)
            self.tracks.append(best)
        best.box, best.area, best.velocity, best.partial = b.box, b.area, (0.0, 0.0), 0
        best.misses, best.last, best.seen = 0, self.frame, True
        best.hits += 1
        return best


def _holds(box: Box, face: Box) -> bool:
    """Whether ``face``'s centre lies in ``box``."""
    cx, cy = (face[0] + face[2]) / 2, (face[1] + face[3]) / 2
    return box[0] <= cx <= box[2] and box[1] <= cy <= box[3]


def _grow(box: Box, by: float) -> Box:
    """``box`` grown by ``by`` x its larger side on each side."""
    pad = by * max(box[2] - box[0], box[3] - box[1])
    return (box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad)


def _union(a: Box, b: Box) -> Box:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def _within(box: Box, outer: Box) -> Box:
    """``box`` moved (not resized, where it fits) to lie inside ``outer``."""
    w, h = box[2] - box[0], box[3] - box[1]
    x0 = min(max(box[0], outer[0]), max(outer[0], outer[2] - w))
    y0 = min(max(box[1], outer[1]), max(outer[1], outer[3] - h))
    return (x0, y0, x0 + w, y0 + h)


def _sits_on(labels: np.ndarray, box: Box, least: float = 0.3) -> int:
    """The label covering the most of ``box`` (grid pixels) on ``labels``, when it covers at least
    ``least`` of it; else 0."""
    h, w = labels.shape
    x0, y0 = max(0, int(box[0])), max(0, int(box[1]))
    x1, y1 = min(w, int(np.ceil(box[2]))), min(h, int(np.ceil(box[3])))
    if x1 <= x0 or y1 <= y0:
        return 0
    counts = np.bincount(labels[y0:y1, x0:x1].ravel())
    counts[0] = 0
    best = int(counts.argmax())
    return best if counts[best] >= least * (x1 - x0) * (y1 - y0) else 0


def owner_map(labels: np.ndarray, owned: Dict[int, List[Tuple[int, Box]]]) -> np.ndarray:
    """int32 ``(h, w)``: for each blob pixel of ``labels`` the id owning it by ``owned``
    (``{label: [(id, box), ...]}``; 0: none); a blob held by several is split by the nearest box
    (distance to the box's centre over its size)."""
    lut = np.zeros(int(labels.max()) + 1, np.int32)
    shared = []
    for label, holders in owned.items():
        if len(holders) == 1:
            lut[label] = holders[0][0]
        elif holders:
            shared.append((label, holders))
    owners = lut[labels]
    for label, holders in shared:
        ys, xs = np.nonzero(labels == label)
        cost = np.stack([np.hypot((xs - (b[0] + b[2]) / 2) / max(1.0, b[2] - b[0]),
                                  (ys - (b[1] + b[3]) / 2) / max(1.0, b[3] - b[1])) for _, b in holders])
        owners[ys, xs] = np.array([i for i, _ in holders], np.int32)[cost.argmin(axis=0)]
    return owners


def spread(owners: np.ndarray, reach: int = 4) -> np.ndarray:
    """``owners`` with every pixel within ``reach`` grid cells of a blob given its nearest owner
    (the matte's soft rim lies outside the blobs of p >= 0.5)."""
    if not owners.any():
        return owners
    zero = (owners == 0).astype(np.uint8)
    dist, idx = cv2.distanceTransformWithLabels(zero, cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_PIXEL)
    ys, xs = np.nonzero(owners)
    lut = np.zeros(int(idx.max()) + 1, np.int32)
    lut[idx[ys, xs]] = owners[ys, xs]
    out = lut[idx]
    out[dist > reach] = 0
    return out


class SubjectRule:
    """Which tracked people the matte keeps (``--subject``).

    * ``main``: the principal person, the largest confirmed person in view when the shot starts
      (or when none is chosen yet; a person a detector has found before one only the segmenter
      sees), kept through occlusions (their track coasts) and re-acquired when they come back
      (their colours give their id back); plus anyone whose size (smoothed sqrt of the blob's
      area) is at least ``close`` x the principal's, i.e. about as close to the camera (a second
      person leaning into a call). When a detector has found the principal, such a companion must
      have been found by one too: a big person-like blob the detectors look at and never see as a
      person (a flower pot a pan brings close) is not a second person. A principal gone for
      ``memory`` frames hands the role to the largest person then in view.
    * ``all``: every tracked person.
    * ``ids``: those ids only.

    Args:
        kind: ``main``, ``all`` or ``ids``.
        ids: the ids of ``ids``.
    """

    def __init__(self, kind: str = "main", ids: Sequence[int] = (), close: float = 0.5, memory: int = 90):
        if kind not in ("main", "all", "ids"):
            raise ValueError(f"kind must be main, all or ids, got {kind!r}")
        self.kind, self.ids, self.close, self.memory = kind, frozenset(ids), close, memory
        self.seen_ids: set = set()
        self.reset()

    def reset(self) -> None:
        """A new shot: the principal is chosen again."""
        self.principal: Optional[int] = None
        self.scale = 0.0
        self.detected = False  # a detector has found the principal
        self.absent = 0

    def choose(self, people: People) -> frozenset:
        """The ids kept on this frame."""
        tracks = people.tracks
        self.seen_ids.update(tracks)
        if self.kind == "all":
            return frozenset(tracks)
        if self.kind == "ids":
            return frozenset(i for i in tracks if i in self.ids)
        if self.principal in tracks:
            self.absent = 0
        else:
            self.absent += 1
        in_view = [t for t in tracks.values() if t.seen]
        if (self.principal is None or self.absent > self.memory) and in_view:
            self.principal = max(in_view, key=lambda t: (t.detected, t.scale)).id
            self.absent = 0
        if self.principal in tracks:
            self.scale = tracks[self.principal].scale
            self.detected = tracks[self.principal].detected
        return frozenset(i for i, t in tracks.items() if i == self.principal or (
            t.scale >= self.close * self.scale and (t.detected or not self.detected)))

    def excluded(self, people: People, chosen: frozenset) -> List[int]:
        """The ids in view the matte must not show: not chosen, and (``main``) not touching a
        chosen person's box (a blob beside the principal may be a part of them: kept)."""
        out = []
        near = [_grow(people.tracks[i].box, 0.1) for i in chosen] if self.kind == "main" else []
        for i, t in people.tracks.items():
            if i in chosen or any(iou(t.box, g) > 0 for g in near):
                continue
            out.append(i)
        return out


