"""The live budget: ``cam`` keeps the camera's frame rate by leaving work out while it falls behind.

The live loop tells :class:`LiveBudget` how long each frame kept it busy (taking the frame to handing
the picture to every sink, wall time: on a busy machine the other processes' share counts too) and
whether the camera's mailbox dropped frames since; the budget answers with the matter's shed level
(:data:`livematte.subject.schedule.SHEDS`, :meth:`livematte.matter.Matter.set_shed`):

* **up** one level when the frames' busy time (an average over the last few) stays above
  :data:`UP` of the camera's period for :data:`UP_AFTER` frames in a row, or frames were dropped
  on :data:`UP_AFTER` frames of those; then no other change for :data:`HOLD` frames (the average
  follows the new cost first), none while a frame takes over :data:`FAR` periods (far behind: a
  level every UP_AFTER frames, so a whole body at the start of a run is light enough within ~0.5 s);
* **down** one level when it stays below :data:`DOWN` of the period for :data:`DOWN_AFTER` frames
  in a row (about 2 s at 30 fps): the work comes back when there is room for it, one step at a time;
  a level that comes back and is shed again within DOWN_AFTER frames doubles that wait (up to
  :data:`BACKOFF` times), so a machine just short of a level does not swing in and out of it.

So a whole-body frame on two cores sheds the crop's second tile first, then the search pass on every
second frame, then the pose model on every second and third frame and at last not at all (the
cheapest in quality first: :data:`~livematte.subject.schedule.SHEDS`),
and takes them back when the loop has time again (below :data:`DOWN` of the period: a level whose
cost sits between DOWN and UP is not tried again). Measured on the quiet 2-core machine (2026-12-02,
BENCHMARKS.md): a head-and-shoulders call (doctor-26732 at 720p) runs at level 0 at 28.8 fps with
frames dropped, so it settles at levels 3-4 (the pose model every 2nd / 3rd frame) at 29.9 fps.
"""
from __future__ import annotations

from typing import Dict

#: busy time above this share of the camera's period: behind
UP = 0.9
#: below this share: room for more work
DOWN = 0.55
#: frames in a row behind (or dropping) before a level is shed
UP_AFTER = 3
#: frames in a row with room before a level comes back
DOWN_AFTER = 60
#: frames after a change before the next one
HOLD = 12
#: the longest wait before a level comes back, in DOWN_AFTERs
BACKOFF = 8
#: a frame busy for more than this many periods is far behind: no hold
FAR = 1.5
#: weight of the newest frame in the busy-time average
WEIGHT = 0.25


class LiveBudget:
    """Decides the shed level frame by frame from the live loop's busy time.

    Args:
        period: the camera's frame period in seconds.
        levels: the highest level (``len(SHEDS) - 1``); 0 turns the budget off.

    >>> b = LiveBudget(1 / 30, levels=4)
    >>> [b.update(0.040, False) for _ in range(5)]
    [0, 0, 1, 1, 1]
    >>> b.update(0.010, False), b.frames
    (1, {0: 3, 1: 3, 2: 0, 3: 0, 4: 0})
    """

    def __init__(self, period: float, levels: int):
        self.period, self.levels = float(period), max(0, int(levels))
        self.level = 0
        self.busy = None  # the busy time's average (s)
        self._behind = self._room = 0
        self._hold = 0
        self.down_after = DOWN_AFTER  # frames with room before a level comes back (doubles on a swing)
        self._since_down = None  # frames since a level last came back
        self.changes = 0
        #: frames handed out at each level (for the run's statistics); the frame that changes the
        #: level counts at the level it was made with
        self.frames: Dict[int, int] = {k: 0 for k in range(self.levels + 1)}

    def update(self, busy: float, dropped: bool) -> int:
        """One frame done: ``busy`` seconds of the loop's time, ``dropped`` whether the camera's
        mailbox dropped a frame since the last call. Returns the level for the next frame."""
        self.frames[self.level] += 1
        if self.levels == 0:
            return 0
        if self._since_down is not None:
            self._since_down += 1
        self.busy = busy if self.busy is None else (1 - WEIGHT) * self.busy + WEIGHT * busy
        behind = self.busy > UP * self.period or dropped
        self._behind = self._behind + 1 if behind else 0
        self._room = self._room + 1 if self.busy < DOWN * self.period and not dropped else 0
        if busy > FAR * self.period:
            self._hold = 0
        if self._hold > 0:
            self._hold -= 1
            return self.level
        if self._behind >= UP_AFTER and self.level < self.levels:
            if self._since_down is not None and self._since_down <= DOWN_AFTER:  # it did not fit after all
                self.down_after = min(BACKOFF * DOWN_AFTER, 2 * self.down_after)
            self._change(self.level + 1)
        elif self._room >= self.down_after and self.level > 0:
            self._change(self.level - 1)
            self._since_down = 0
        return self.level

    def _change(self, level: int) -> None:
        self.level, self.changes = level, self.changes + 1
        self._behind = self._room = 0
        self._hold = HOLD
