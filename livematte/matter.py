"""Frame -> alpha: segmenter, subject crop, guided refinement, temporal smoothing, mask options.

One ``Matter`` serves ``video``, ``image``, ``matte``, ``cam``, ``eval`` and ``bench`` on both
engines (:mod:`livematte.engine`): every stage is written once against ``engine.ops``. Per frame
(see docs/quality.md and docs/architecture.md):

1. **Front** (fixed shapes; one CUDA graph on the torch engine on CUDA): the area pyramid
   (:mod:`livematte.stages.pyramid`), the full-frame model input and its probability (averaged with
   the partner model's while searching, ``quality.ensemble``), the thumbnail's colour histogram.
2. **The host sync**: the probability and the histogram (~260 kB) reach the host, where the scene
   cut and every subject decision are made (:class:`livematte.subject.planner.SubjectPlanner`:
   person blobs, the tracked crop, the tiles, the whole-body gate). Each tile of the crop is
   segmented again at model size; for a whole body the bundled pose model's probability on the
   square around it is fused in (:func:`livematte.stages.tiles.fuse_pose`).
3. **Back**: guided refinement to full resolution (:mod:`livematte.stages.refine`), tiles pasted
   with soft seams, attached objects added (decided on the host), motion-aware smoothing
   (:mod:`livematte.stages.temporal`), the user's mask options (:mod:`livematte.stages.mask`).

:meth:`Matter.front` (steps 1-2) and :meth:`Matter.back` (step 3) each carry only their own state;
on the numpy engine the file pipeline runs them on two threads, overlapped by a frame
(``two_threads``).
"""
from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from typing import List, NamedTuple, Optional, Tuple

import numpy as np

from .config import Config
from .engine import Engine, numpy_engine, resolve_engine
from .engine.runners import HostRunner, Runner, pose_runner, segmenter_runner
from .models.registry import spec as backend_spec
from .profiles import resolve_profile
from .stages.attach import add_attached
from .stages.mask import shape_mask
from .stages.pyramid import SHELF, Pyramid
from .stages.refine import GuidedRefiner
from .stages.solid import solidify
from .stages.temporal import MotionSmoother, SceneCutDetector
from .stages.tiles import fuse_pose, merge_views, paste_tiles
from .subject.attached import GRID, AttachedObjects
from .subject.choice import parse_subject
from .subject.geometry import TILE_SPLIT, crop_extension, plan_tiles, pose_square, sub_tiles
from .subject.planner import SubjectPlanner
from .subject.presence import in_frame
from .subject.schedule import IDLE_BLOB, LOOK, NOTHING, REST, SHEDS, FrontSchedule, tile_person_box
from .types import Frame, LivematteError

REFINE_MODES = ("guided", "none")
TEMPORAL_MODES = ("motion", "ema", "none")


class FrontResult(NamedTuple):
    """What :meth:`Matter.front` hands to :meth:`Matter.back` for one frame (engine arrays unless
    said otherwise).

    Attributes:
        image: the RGB 8-bit frame ``(H, W, 3)``.
        thumb_grey: the thumbnail's brightness, 8-bit ``(h, w)`` (the pyramid's smallest level).
        cut: whether this frame starts a new scene (``back`` then forgets its past).
        guide: the full frame at model size as 8-bit grey ``(h, w)``; None for whole-frame backends.
        prob: the full-frame probability ``(h, w)`` after the subject decisions.
        prob_host: the same on the host (float32), for the attach decision.
        thumb_host: ``thumb_grey`` on the host (uint8), when attach needs it, else None.
        crop: the subject crop for this frame (integer frame pixels), or None.
        tiles: ``(box, guide, prob)`` per tile of the crop, in paste order.
        gain: the matte's gain from the presence decision (0: nobody there, 1: a person).
        reused: the model outputs are the last model run's (``quality.model_every``: a still frame).
        keep: host float32 model-grid map the matte is multiplied by (people the subject choice
            leaves out), or None.
        people: the tracked people (:class:`~livematte.subject.planner.PeopleFrame`), or None.
        idle: nobody has been in view for a while (the planner's ``idle``): the matte is empty.
        present: the presence gate's decision (None without a detector); a file's
            :class:`~livematte.subject.presence.PresenceWindow` revises it with later frames.
        under: how many of ``tiles``, first, are the grown crop's (``quality.crop_extend``): pasted
            first, under the crop's own tiles.
    """

    image: object
    thumb_grey: object
    cut: bool
    guide: object
    prob: object
    prob_host: np.ndarray
    thumb_host: Optional[np.ndarray]
    crop: Optional[Tuple[int, int, int, int]]
    tiles: List[tuple]
    gain: float = 1.0
    reused: bool = False
    keep: Optional[np.ndarray] = None
    people: object = None
    idle: bool = False
    present: Optional[bool] = None
    under: int = 0


#: which models a full-frame search pass runs (:meth:`Matter._fixed`): the segmenter alone; it and
#: its partner (the mean of the two); while idle, the cheaper of the two alone (the smaller input:
#: selfie-landscape beside selfie, 2.7 against 4.4 ms a run on one core; on DAVIS bus at 720p, nobody
#: in view, it also sees fewer person blobs than the pair, so the detectors look less)
ALONE, PAIR, CHEAP = "alone", "pair", "cheap"


class Matter:
    """Computes the alpha of each frame, in order.

    Call it once per frame, in order; call :meth:`reset` on a new source, a seek or a restart.

    Args:
        segmenter: a backend object already built (see :mod:`livematte.models`; random weights,
            a test stand-in), or None to build ``config.model``'s. Its capabilities are those of
            its registered name (:func:`livematte.models.registry.spec`), else of ``config.model.name``.
        config: model, quality and mask options.
        engine: the :class:`~livematte.engine.Engine` (None: ``config.model.engine`` and ``device``).
        partner: a second model-input backend whose full-frame probability is averaged with the
            segmenter's while searching (``quality.ensemble``); built from the spec when None and
            ``segmenter`` is None.
        pose: the pose model's runner for whole bodies (``quality.pose``); built likewise.
        detector: the person detector (``quality.presence``; an object with ``detect(image)`` and
            ``input_side``); built likewise. It runs on the host on both engines, on a small copy
            of the frame brought down with the frame's host sync on the frames it runs.
        face: the face detector that runs with it on the whole frame (``quality.presence_face``;
            ``detect(image)`` -> faces with pixel boxes, ``variant.size``); built likewise.
        precision: torch engine on CUDA: ``auto`` (fp16 where it agrees with fp32 on frame 1),
            ``fp32`` or ``fp16``.
        output: what ``__call__`` returns: ``numpy`` (float32 ``(H, W)``) or ``engine`` (the
            engine's array: a device tensor on the torch engine; read-only, it is kept as the past).
    """

    def __init__(self, segmenter=None, config: Optional[Config] = None, *, engine: Optional[Engine] = None,
                 partner=None, pose=None, detector=None, face=None, precision: str = "auto",
                 output: str = "numpy"):
        self.config = resolve_profile(config or Config())  # --quality: the profile's values for keys not given
        m = self.config.model
        if output not in ("numpy", "engine"):
            raise ValueError(f"output must be numpy or engine, got {output!r}")
        self.output = output
        self.mask = self.config.mask.validate()
        q = self.quality = self.config.quality.validate()
        if engine is None:
            engine = numpy_engine() if segmenter is not None else resolve_engine(m.engine, m.device)
        self.engine, self.ops = engine, engine.ops
        name = m.name if segmenter is None else segmenter.name
        self.spec = backend_spec(name if segmenter is None or _registered(name) else m.name)
        if q.raw:  # the backend's own output: no partner, subject decisions, refinement, smoothing, mask options
            self.spec = dataclasses.replace(self.spec, crop_pass=False, partner=None)
        threads = m.threads or 1
        self.runner = _wrap(engine, segmenter, self.spec, m, precision)
        if partner is None and segmenter is None and q.ensemble and self.spec.partner:
            partner = segmenter_runner(engine, self.spec.partner, runtime=m.runtime, threads=m.threads,
                                       precision=precision)
        self.partner = _wrap(engine, partner, backend_spec(self.spec.partner), m, precision) if (
            partner is not None and self.spec.partner) else None
        if pose is None and segmenter is None and q.pose and q.roi and self.spec.crop_pass:
            try:
                pose = pose_runner(engine, threads=threads, runtime=m.runtime)
            except LivematteError as err:
                raise LivematteError(f"{err} (or run with --no-pose: the selfie model alone)") from None
        if pose is not None and not isinstance(pose, Runner):  # a backend object given directly
            pose = HostRunner(pose, model_input=True)
        self.pose = pose if q.pose and q.roi and self.spec.crop_pass else None
        crop_pass = self.spec.crop_pass
        if detector is None and segmenter is None and q.presence and crop_pass:
            from .models.person_detector import PersonDetector

            detector = PersonDetector(threads=threads)
        self.detector = detector if crop_pass else None
        if face is None and segmenter is None and q.presence and q.presence_face and crop_pass:
            from .models.face import FaceDetector

            face = FaceDetector("short", threads=threads)
        self.face = face if self.detector is not None else None
        subject = parse_subject(self.config.subject.choice)
        kind = subject.kind if subject.kind in ("all", "ids") else "main"  # auto, person: main
        self.planner = SubjectPlanner(q, crop_pass=crop_pass, pose=self.pose is not None,
                                      presence=self.detector is not None, subject=kind, ids=subject.ids)
        #: when the search pass, the models at all, and idling run (:mod:`livematte.subject.schedule`)
        self.schedule = FrontSchedule(q, tracking=self.planner.tracker is not None, crop_pass=crop_pass)
        #: called by :meth:`back` with each frame's :class:`PeopleFrame`, in frame order (layers)
        self.on_people = None
        self.refiner = GuidedRefiner(self.ops, q.radius, q.eps) if q.refine == "guided" and crop_pass else None
        mode = "ema" if q.temporal == "ema" else "motion"
        self.smoother = None
        if q.temporal != "none" and not q.raw:
            self.smoother = MotionSmoother(self.ops, q.smoothing, q.motion_noise, mode, sure=q.temporal_sure)
        self.cuts = SceneCutDetector()
        self.attacher = AttachedObjects() if q.attach and q.roi and crop_pass else None
        #: while idle the search pass runs the cheaper of the two models alone (:data:`CHEAP`)
        self._partner_cheaper = self.partner is not None and (
            np.prod(self.partner.input_size) < np.prod(self.runner.input_size))
        self._fronts = {which: engine.capture(lambda x, which=which: self._fixed(x, which))
                        for which in (ALONE, PAIR, CHEAP)}
        self._still_front = engine.capture(self._fixed_still)
        self._searched = None  # (prob, guide) of the last full-frame search pass (own copies)
        self._settled = False
        self._last_front: Optional[FrontResult] = None  # model_every: the last model run's outputs
        self._pose_prob = None  # quality.pose_every: the pose model's last probability (own copy)
        self._pose_pool: Optional[ThreadPoolExecutor] = None  # the pose model's thread (numpy engine)
        self._last_add = None  # the attach decision of the last frame whose models ran
        self._fits: Optional[list] = None  # the refiner's fit of each tile of the last frame whose models ran
        self._held = None  # model_every without refinement: the last smoothed alpha (frozen), for a reused frame

    # ------------------------------------------------------------------ inspection
    @property
    def last_crop(self) -> Optional[Tuple[int, int, int, int]]:
        """The crop used on the last frame (None: the full frame alone)."""
        return self.planner.last_crop

    @property
    def two_threads(self) -> bool:
        """Whether :meth:`front` of frame t+1 may run on another thread than :meth:`back` of frame t
        (numpy engine; the torch engine's captured buffers are reused frame after frame)."""
        return self.engine.name == "numpy"

    @property
    def precision(self) -> str:
        return self.runner.precision

    @property
    def shed(self) -> int:
        """The live budget's level (:data:`~livematte.subject.schedule.SHEDS`; 0: all the work)."""
        return SHEDS.index(self.schedule.shed)

    def set_shed(self, level: int) -> None:
        """Leave out work from the next frame on (``cam``'s budget: :class:`~livematte.live_budget.LiveBudget`):
        level 0 does all of it; higher levels run the pose model, the search pass and the crop's
        tiles less (:data:`~livematte.subject.schedule.SHEDS`). Host decisions only: both engines."""
        shed = SHEDS[max(0, min(int(level), len(SHEDS) - 1))]
        self.schedule.shed = self.planner.shed = shed

    def describe(self) -> str:
        """One line: backend, engine, device, precision, CUDA graphs."""
        return f"{self.spec.name} on the {self.engine.describe()}, {self.precision}"

    def empty_matte(self, hw: Tuple[int, int]):
        """The matte with nobody in it, ``(H, W)`` zeros on the engine: one read-only array, shared by
        every such frame (an idle frame or one a presence decision empties costs no pass over it)."""
        return self.ops.empty_matte(hw)

    # ------------------------------------------------------------------ front
    def _fixed(self, image, which: str):
        """The fixed-shape part of the front (model-input backends): 8-bit ``(H, W, 3)`` -> (prob
        ``(h, w)`` on the segmenter's grid (its input size), histogram ``(48,)``, guide 8-bit
        ``(h, w)``, thumbnail grey, *levels); ``which`` models run: :data:`ALONE`, :data:`PAIR`,
        :data:`CHEAP`."""
        ops = self.ops
        pyr = Pyramid(ops, image)
        H, W = image.shape[:2]
        x = pyr.resize((0, 0, W, H), self.runner.input_size)  # (h, w, 3)
        if which == CHEAP:  # the partner alone, on the segmenter's grid
            other = self.partner.eager(pyr.resize((0, 0, W, H), self.partner.input_size))
            prob = ops.resize_linear(other, tuple(self.runner.input_size))
        else:
            prob = self.runner.eager(x)
        if which == PAIR and self.partner is not None:
            other = self.partner.eager(pyr.resize((0, 0, W, H), self.partner.input_size))
            prob = 0.5 * (prob + ops.resize_linear(other, tuple(prob.shape)))
        return (prob, ops.histogram(pyr.thumb), ops.grey(x), ops.grey(pyr.thumb), *pyr.levels)

    def _fixed_still(self, image):
        """The fixed-shape front of a frame that leaves out the search pass (the planner's
        ``search_now``): ``(histogram, thumbnail grey, *levels)``, no model run."""
        ops = self.ops
        pyr = Pyramid(ops, image)
        return (ops.histogram(pyr.thumb), ops.grey(pyr.thumb), *pyr.levels)

    def front(self, frame) -> FrontResult:
        """First half of :meth:`__call__`: model runs, the host sync and the subject decisions.
        Depends only on earlier calls of ``front``; ``back(front(f))`` is exactly ``self(f)``."""
        with self.engine.inference():
            return self._front(frame)

    def _front(self, frame) -> FrontResult:
        ops = self.ops
        image = self.engine.image(frame.image if isinstance(frame, Frame) else frame)
        if not self._settled:
            self._settle(image)
        if not self.runner.model_input:
            return self._front_whole(image)
        if self.quality.model_every > 1:
            reused = self._reuse(frame.image if isinstance(frame, Frame) else frame, image)
            if reused is not None:
                return reused
        H, W = image.shape[:2]
        schedule = self.schedule
        which = PAIR if self.partner is not None and self.planner.partner_now() else ALONE
        if schedule.idle:  # nobody in view: the cheaper model alone looks for someone
            which = CHEAP if self._partner_cheaper else ALONE
        search = self._searched is None or schedule.search_now(self.planner.last_crop)
        if search:
            prob, hist, guide, thumb_grey, *levels = self._search(image, which)
        else:  # a still or idle frame: the last search pass's probability stands in (one model run less)
            hist, thumb_grey, *levels = self._still_front(image)
            prob, guide = self._searched
        self._shelve(image, levels)
        idle = not search and schedule.idle
        cut = False
        if idle:  # nobody in view: between two search passes only the scene-cut test runs
            hist_h, thumb_h = ops.to_host(hist, thumb_grey)
            cut = self.cuts(hist_h)
            if not cut:  # the thumbnail: whether the picture is still (the next search pass waits longer)
                schedule.left_out(thumb_h if schedule.watches_still else None)
                self._last_front = None
                return FrontResult(image, thumb_grey, False, guide, prob, None, None, None, [], 0.0, idle=True,
                                   present=self.planner.present)
        want_thumb = self.attacher is not None or schedule.watches_still or self.planner.pose_rests
        extra = [thumb_grey] if want_thumb else []
        colour = self.planner.people is not None
        if colour:  # the frame on the model grid: the tracked people's colours
            extra.append(Pyramid(ops, levels=levels).resize((0, 0, W, H), tuple(prob.shape[:2])))
        look = LOOK
        self.planner.idle = schedule.idle  # (an idle matter looks as it did: no ends, no detected crop)
        if schedule.idle:  # a search pass while nobody is in view: do the detectors look?
            look = schedule.idle_look(ops.to_host(prob)[0] >= IDLE_BLOB)  # (a host sync more on a device)
        dboxes = self.planner.detect_boxes((H, W)) if look != REST else []
        k = 2 + len(extra)  # where the detectors' inputs come down in the host sync
        for dbox in dboxes if look == LOOK else ():  # the detector's inputs (h, w, 3), max(h, w) = its side
            size = _fit((dbox[3] - dbox[1], dbox[2] - dbox[0]), self.detector.input_side)  # (letterboxed on the host)
            extra.append(Pyramid(ops, levels=levels).resize(dbox, size))
        if dboxes and look == LOOK and self.face is not None:  # the face detector: the whole frame at its input side
            extra.append(Pyramid(ops, levels=levels).resize((0, 0, W, H), _fit((H, W), self.face.variant.size)))
        host = ops.to_host(prob, hist, *extra)  # the host sync
        prob_h = host[0]
        if not idle:
            cut = self.cuts(host[1])
        if cut:
            self._forget_front()
            if not search:  # a new shot: it needs its own search pass (a second host sync, on this frame only)
                search = True
                prob, _, guide, *_ = self._search(image, which)
                prob_h = ops.to_host(prob)[0]
        found = faces = None
        if dboxes and look == NOTHING:  # no blob: what the detectors would have found (a detection counts only on one)
            found, faces = [], None if self.face is None else []
        elif dboxes:
            n = len(dboxes)
            if self.face is not None:  # the cheap detector first: when it decides, the person detector rests
                faces = _faces_in_frame(self.face.detect(host[k + n]), host[k + n].shape[:2], (H, W))
            decided = self.planner.face_decides(faces, prob_h, (H, W))
            found = [] if decided else [d._replace(view=i) for i, dbox in enumerate(dboxes)
                                        for d in in_frame(self.detector.detect(host[k + i]), dbox, (H, W))]
        planner = self.planner
        plan = planner.plan(prob_h, (H, W), found, host[2 + want_thumb] if colour else None, faces=faces,
                            thumb=host[2] if want_thumb else None)
        schedule.planned(plan.crop, planner.last_found, planner.crowd, plan.gain, host[2] if want_thumb else None,
                         search, (H, W), candidate=planner.candidate)
        if schedule.idle:
            plan = plan._replace(idle=True)
        if plan.prob is not None:
            prob_h, prob = plan.prob, ops.from_host(plan.prob)
        tiles = self._crop_pass(Pyramid(ops, levels=levels), plan) if plan.crop is not None else []
        under = []  # quality.crop_extend: the grown crop's tiles, pasted under these
        if tiles and self._extends(plan):
            under = self._extend(Pyramid(ops, levels=levels), plan, tiles, (H, W))
        if tiles and schedule.watches_still:  # where the crop pass sees the person (the search pass's stillness)
            seen = tile_person_box([(t[0], ops.to_host(t[2])[0]) for t in tiles])
            schedule.crop_seen(seen, search, (H, W))
        self._last_front = FrontResult(image, thumb_grey, cut, guide, prob, prob_h,
                                       host[2] if self.attacher is not None else None, plan.crop, tiles, plan.gain,
                                       keep=plan.keep, people=plan.people, idle=plan.idle, present=plan.present)
        if under:
            self._last_front = self._last_front._replace(tiles=under + tiles, under=len(under))
        return self._last_front

    def _extends(self, plan) -> bool:
        """Whether this frame's crop may be grown where its person runs out of it
        (``quality.crop_extend``: ``all``; ``body``, the default: where the pose model sees a whole
        body, ``plan.pose_square``; never while the live budget sheds it)."""
        mode = self.quality.crop_extend
        if mode == "off" or not self.schedule.shed.extend:
            return False
        return mode == "all" or plan.pose_square is not None

    def _extend(self, pyr: Pyramid, plan, tiles: List[tuple], frame_hw: Tuple[int, int]) -> List[tuple]:
        """``quality.crop_extend``: the tiles of the crop grown where the crop pass's person reaches
        a tile's side (:func:`~livematte.subject.geometry.crop_extension`), segmented like the crop's
        own but once each (no ``tile_views``: on DAVIS A they were worth dtSSD 0.02 for up to 8 more
        model runs), with the pose model on the grown square when it ran on this frame; or [] (no
        side reached, or the grown crop has the same tiles)."""
        probs = self.ops.to_host(*[t[2] for t in tiles])
        grown = crop_extension([(t[0], p) for t, p in zip(tiles, probs)], plan.crop, frame_hw)
        if grown is None:
            return []
        if not self.quality.roi_tiles:
            boxes = [grown]
        else:
            boxes = plan_tiles(grown, frame_hw, split=float("inf") if self.schedule.shed.one_tile else TILE_SPLIT)
        if boxes == list(plan.tiles):
            return []
        square = plan.pose_square
        if square is not None and plan.pose_fresh:
            square = pose_square(grown, frame_hw, self.quality.pose_margin)
        grown_plan = plan._replace(crop=grown, tiles=boxes, pose_square=square)
        return self._crop_pass(pyr, grown_plan, keep_pose=False, views=False)

    def _crop_pass(self, pyr: Pyramid, plan, keep_pose: bool = True, views: bool = True) -> List[tuple]:
        """``(box, guide, prob)`` of each tile of the crop, at model size, with the pose model's
        probability fused in for a whole body. On the numpy engine the pose model runs on a thread
        of its own while the tiles are segmented (LiteRT lets go of the GIL: the frame's latency
        loses most of the pose run); ``quality.pose_every``: on the frames it rests (a still body),
        its last probability stands in, over the square it ran on (``keep_pose`` False: a fresh
        run is not kept for them). ``quality.tile_views`` (with ``views``): each tile's probability is
        averaged with its sub-tiles' (:func:`~livematte.stages.tiles.merge_views`), before the pose fusion."""
        ops = self.ops
        pose = job = None
        if plan.pose_square is not None and (plan.pose_fresh or self._pose_prob is None):
            x = pyr.resize(plan.pose_square, self.pose.input_size)  # (256, 256)
            if self.engine.name == "numpy":
                if self._pose_pool is None:
                    self._pose_pool = ThreadPoolExecutor(1, thread_name_prefix="livematte-pose")
                job = self._pose_pool.submit(self.pose, x)
            else:
                pose = self.pose(x)
        elif plan.pose_square is not None:
            pose = self._pose_prob
        inputs = [pyr.resize(box, self.runner.input_size) for box in plan.tiles]
        probs = [self.runner(x) for x in inputs]
        n = self.quality.tile_views if views else 1
        if n > 1:
            probs = [merge_views(ops, p, box, [(sub, self.runner(pyr.resize(sub, self.runner.input_size)))
                                               for sub in sub_tiles(box, n)]) for box, p in zip(plan.tiles, probs)]
        if job is not None:
            pose = job.result()
        if pose is not None and plan.pose_fresh and keep_pose:
            self._pose_prob = ops.copy(pose) if self.quality.pose_every > 1 else None
        if pose is not None:
            probs = [fuse_pose(ops, p, pose, plan.pose_square, box) for box, p in zip(plan.tiles, probs)]
        return [(box, ops.grey(x), p) for box, x, p in zip(plan.tiles, inputs, probs)]

    def _search(self, image, which: str):
        """The fixed front with the full-frame search pass; its probability and guide are kept
        for the frames that leave it out (own copies: a captured front reuses its buffers)."""
        out = self._fronts[which](image)
        if self.schedule.reuses_search or self.schedule.shed.search_every > 1:
            # read-only: the planner knows the same prob again on the next frames
            ops = self.ops
            self._searched = (ops.freeze(ops.copy(out[0])), ops.freeze(ops.copy(out[2])))
            out = (self._searched[0], out[1], self._searched[1], *out[3:])
        return out

    def _reuse(self, host_image: np.ndarray, image) -> Optional[FrontResult]:
        """``quality.model_every``: the last model run's outputs for this frame, or None: run the
        models (:meth:`FrontSchedule.reuse_models` decides)."""
        last = self._last_front
        if self.schedule.reuse_models(host_image, last is not None and last.crop is not None):
            pyr = Pyramid(self.ops, image)
            self._shelve(image, pyr.levels)
            thumb_grey = self.ops.grey(pyr.thumb)  # the smoother's motion: this frame's
            self.schedule.reused(self.ops.to_host(thumb_grey)[0] if self.schedule.watches_still else None)
            return last._replace(image=image, thumb_grey=thumb_grey, cut=False, reused=True,
                                 present=self.planner.present)
        return None

    def _shelve(self, image, levels) -> None:
        """The frame's pyramid levels for the effect's blur (:data:`~livematte.stages.pyramid.SHELF`);
        a captured front's levels are its buffers, overwritten by its next call: not those."""
        if not self.engine.graphs:
            SHELF.put(image, levels)

    def _front_whole(self, image) -> FrontResult:
        """The front of a whole-frame backend (modnet, rvm): a scene cut clears its recurrent state
        before it sees the frame; its output is taken as it is (no blobs, no crop)."""
        ops = self.ops
        thumb = Pyramid(ops, image).thumb
        cut = self.cuts(ops.to_host(ops.histogram(thumb))[0])
        if cut:
            self._forget_front()
        prob = self.runner(image)
        return FrontResult(image, ops.grey(thumb), cut, None, prob, None, None, None, [])

    def _settle(self, image) -> None:
        """First frame: each runner chooses its precision (torch on CUDA)."""
        self._settled = True
        if not self.runner.model_input:
            self.runner.settle(image)
            return
        H, W = image.shape[:2]
        pyr = Pyramid(self.ops, image)
        for r in (self.runner, self.partner, self.pose):
            if r is not None:
                r.settle(pyr.resize((0, 0, W, H), r.input_size))

    # ------------------------------------------------------------------ back
    def _to_alpha(self, guide_lo, prob, grey_hi, fit=None):
        """Model-grid probability -> alpha at the size of ``grey_hi`` (a new array); ``fit``: the
        refiner's :meth:`~GuidedRefiner.fit` of ``guide_lo`` and ``prob`` when already made."""
        if self.refiner is None:
            return _upsample(self.ops, prob, tuple(grey_hi.shape[:2]))
        return self.refiner.apply(self.refiner.fit(guide_lo, prob) if fit is None else fit, grey_hi)

    def _tile_fits(self, state: FrontResult) -> list:
        """The refiner's model-grid fit of each tile (None without a refiner); a frame that reuses
        the last model run's outputs (``state.reused``: the same tiles) reuses their fits too."""
        if self.refiner is None:
            return [None] * len(state.tiles)
        if not state.reused or self._fits is None or len(self._fits) != len(state.tiles):
            self._fits = [self.refiner.fit(g, p) for _, g, p in state.tiles]
        return self._fits

    def back(self, state: FrontResult):
        """Second half of :meth:`__call__`: refinement, tile paste, attached objects, smoothing and
        mask options -> the engine's alpha ``(H, W)``. Depends only on earlier calls of ``back``."""
        with self.engine.inference():
            return self._back(state)

    def _back(self, state: FrontResult):
        ops = self.ops
        if state.cut:
            self._forget_back()
        image, prob = state.image, state.prob
        H, W = image.shape[:2]
        if state.idle:  # nobody in view: an empty matte, and the past starts again with the next person
            self._forget_back()
            if self.on_people is not None:
                self.on_people(state.people)  # one entry per frame, as on every other frame
            return self.empty_matte((H, W))
        if state.reused and self.refiner is None and self._held is not None:
            # the same model outputs and no refinement by this frame's picture: the same matte as the
            # last frame (upsampling, paste and smoothing left out); the smoother sees this frame's motion
            if self.on_people is not None:
                self.on_people(state.people)
            if self.smoother is not None:
                self.smoother.see(state.thumb_grey)
            return self._finish(self._held, state)
        if state.crop is None and self.refiner is None:
            alpha = _upsample(ops, prob, (H, W))
        elif state.crop is None:
            alpha = self._to_alpha(state.guide, prob, ops.grey(image))
        else:
            # the crop holds the person: outside it a plain upsampling is enough
            alpha = _upsample(ops, prob, (H, W))
            boxes = [t[0] for t in state.tiles]
            bx0, by0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
            bx1, by1 = max(b[2] for b in boxes), max(b[3] for b in boxes)
            if self.refiner is None:  # bilinear: the tile's size is all it needs of the frame
                refined = [(b, _upsample(ops, p, (b[3] - b[1], b[2] - b[0]))) for b, _, p in state.tiles]
            else:
                grey = ops.grey(image[by0:by1, bx0:bx1])  # brightness of the tiles' bounding box only
                refined = [(b, self._to_alpha(g, p, grey[b[1] - by0:b[3] - by0, b[0] - bx0:b[2] - bx0], fit))
                           for (b, g, p), fit in zip(state.tiles, self._tile_fits(state))]
            if state.under:  # the grown crop's tiles first, under the crop's own
                paste_tiles(ops, alpha, refined[:state.under], self.quality.roi_seam)
            paste_tiles(ops, alpha, refined[state.under:], self.quality.roi_seam)
        if self.attacher is not None and state.crop is None:
            self.attacher.reset()  # attached objects need the crop's person: start again
        elif self.attacher is not None:
            add = self._last_add
            if not state.reused:  # the same model outputs: the same decision
                alpha_grid = ops.to_host(ops.sample_nearest(alpha, GRID))[0]
                add = self._last_add = self.attacher.decide(alpha_grid, state.prob_host, state.thumb_host)
            if add is not None:
                alpha = add_attached(ops, alpha, prob, add)
        if state.keep is not None:  # people the subject choice leaves out, found again by the crop pass
            alpha = alpha * _upsample(ops, ops.from_host(state.keep), (H, W))
        if self.on_people is not None:
            self.on_people(state.people)
        if self.smoother is not None:
            alpha = self.smoother(alpha, state.thumb_grey)
        if self.quality.solid and state.crop is not None:  # a tracked person: no see-through body
            alpha = solidify(ops, alpha)
        if self.quality.model_every > 1 and self.refiner is None:
            self._held = ops.freeze(alpha)  # kept by the smoother too (frozen there): no copy
        return self._finish(alpha, state)

    def _finish(self, alpha, state: FrontResult):
        """The presence fade and the user's mask options (new arrays: ``alpha`` may be kept)."""
        if state.gain < 1.0:  # the presence fade (after the smoother: its past stays the person's)
            alpha = alpha * state.gain
        return alpha if self.quality.raw else shape_mask(self.ops, alpha, self.mask)

    # ------------------------------------------------------------------ per frame
    def matte(self, image):
        """An engine image ``(H, W, 3)`` -> the engine's alpha ``(H, W)`` (kept as the past: read-only)."""
        return self.back(self.front(image))

    def __call__(self, frame):
        """RGB frame (``Frame`` or uint8 ``(H, W, 3)``) -> alpha float32 ``(H, W)`` in [0, 1]
        (numpy, or the engine's array with ``output="engine"``). Treat it as read-only."""
        alpha = self.back(self.front(frame))
        if self.output == "engine" or self.engine.name == "numpy":
            return alpha
        return self.engine.download(alpha, copy=True)

    def _forget_front(self) -> None:
        self.runner.reset()  # recurrent state (rvm) does not survive a scene cut either
        self.planner.forget()
        self.schedule.forget()
        self._last_front = self._pose_prob = None

    def _forget_back(self) -> None:
        self._last_add = self._fits = self._held = None
        if self.smoother is not None:
            self.smoother.reset()
        if self.attacher is not None:
            self.attacher.reset()

    def reset(self) -> None:
        """Forget everything carried across frames (new source, seek, restart)."""
        self._forget_front()
        self._forget_back()
        self.cuts.reset()
        self.planner.reset()
        self._searched = None
        if self.engine.transfer is not None:
            self.engine.transfer.forget()


def _registered(name: str) -> bool:
    from .models.registry import names

    return name in names()


def _wrap(engine: Engine, backend, spec, model_config, precision: str):
    """A runner for ``backend`` (a runner already, a backend object, or None: built from ``spec``)."""
    if backend is None:
        return segmenter_runner(engine, spec.name, runtime=model_config.runtime, threads=model_config.threads,
                                weights=model_config.weights, precision=precision, device=model_config.device)
    if isinstance(backend, Runner):
        return backend
    if engine.name == "numpy":
        return HostRunner(backend, model_input=spec.model_input)
    return segmenter_runner(engine, spec.name, precision=precision, backend=backend)


def _fit(frame_hw: Tuple[int, int], side: int) -> Tuple[int, int]:
    """``(h, w)`` of a frame scaled so its longer side is ``side`` (aspect kept)."""
    H, W = frame_hw
    s = side / max(H, W)
    return max(1, int(round(H * s))), max(1, int(round(W * s)))


def _faces_in_frame(faces, small_hw: Tuple[int, int], frame_hw: Tuple[int, int]) -> list:
    """Face boxes in pixels of a ``small_hw`` copy of the frame -> in frame pixels."""
    sy, sx = frame_hw[0] / small_hw[0], frame_hw[1] / small_hw[1]
    return [dataclasses.replace(f, box=(f.box[0] * sx, f.box[1] * sy, f.box[2] * sx, f.box[3] * sy)) for f in faces]


def _upsample(ops, prob, size):
    """Bilinear ``prob`` -> ``size`` as an array of its own (never ``prob`` itself)."""
    out = ops.resize_linear(prob, size)
    return ops.copy(out) if out is prob else out


def build_matter(config: Optional[Config] = None, *, engine: Optional[Engine] = None, **options) -> Matter:
    """A Matter for ``config`` (defaults when None) on ``engine`` (None: ``config.model.engine``
    and ``config.model.device``); ``options`` as :class:`Matter`'s."""
    return Matter(None, config or Config(), engine=engine, **options)
