"""The threaded file runner: order, the matter's two halves, errors and Ctrl-C."""
import numpy as np
import pytest

from livematte.config import Config
from livematte.effects import make_effect
from livematte.matter import build_matter
from livematte.pipeline import Output, run
from livematte.types import Frame, StreamInfo

from .helpers import sample_frame


class ListSink:
    def __init__(self):
        self.pictures, self.names, self.state = [], [], "new"

    def open(self, info, alpha):
        self.state = "open"

    def write(self, picture, frame):
        self.pictures.append(picture.copy())
        self.names.append(frame.name)

    def close(self):
        self.state = "closed"

    def abort(self):
        self.state = "aborted"


@pytest.fixture(scope="module")
def frames():
    base = sample_frame(40)[::4, ::4].copy()  # 180x320
    return [Frame(image=np.roll(base, 6 * i, axis=1).copy(), index=i, name=f"{i:05d}") for i in range(12)]


INFO = StreamInfo(width=320, height=180)


def test_front_then_back_is_exactly_the_matter(frames):
    one, two = build_matter(Config()), build_matter(Config())
    for f in frames:
        assert np.array_equal(one(f), two.back(two.front(f)))


@pytest.mark.parametrize("effect_on_writer", [False, True])
def test_threaded_run_equals_frame_by_frame(frames, effect_on_writer):
    expected = [np.round(a * 255) for a in map(build_matter(Config()), frames)]
    sink = ListSink()
    stats = run(frames, INFO, build_matter(Config()), make_effect("matte"), [Output(sink, "alpha")],
                effect_on_writer=effect_on_writer)
    assert stats.frames == 12 and sink.state == "closed"
    assert sink.names == [f.name for f in frames]  # in order, none dropped
    for got, want in zip(sink.pictures, expected):
        assert np.abs(got.astype(int) - want).max() <= 1


def test_a_failing_stage_aborts_every_sink_and_raises(frames):
    matter = build_matter(Config())
    back = matter.back

    def broken(state):
        if len(calls) == 5:
            raise RuntimeError("boom")
        calls.append(1)
        return back(state)

    calls = []
    matter.back = broken
    sink = ListSink()
    with pytest.raises(RuntimeError, match="boom"):
        run(frames, INFO, matter, make_effect("matte"), [Output(sink, "alpha")])
    assert sink.state == "aborted"


def test_ctrl_c_keeps_what_was_computed_and_closes(frames):
    matter = build_matter(Config())
    front = matter.front

    def interrupted(frame):
        if frame.index == 6:
            raise KeyboardInterrupt
        return front(frame)

    matter.front = interrupted
    sink = ListSink()
    stats = run(frames, INFO, matter, make_effect("matte"), [Output(sink, "alpha")])
    assert stats.interrupted and sink.state == "closed"
    assert sink.names == [f"{i:05d}" for i in range(6)]
