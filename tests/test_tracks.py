"""The input's audio and subtitle tracks through `livematte video`, end to end: files ffmpeg copes
with (a concatenation's 1-sample audio packet, an AVI with MP3 audio), two audio tracks and
subtitles kept where the output container can hold them, said in one line where it cannot."""
from __future__ import annotations

from fractions import Fraction

import av
import pytest

from livematte.cli import main
from tests.media_cases import LINES, avi_mp3, concatenated_mp4, rate_change_mkv, read_tracks, tracks_file

FAST = ["--no-roi", "--no-pose", "--background", "white"]
TEXTS = [text for _, text in LINES]


def _video(tmp_path, capsys, source, ext):
    out = tmp_path / f"out{ext}"
    code = main(["video", str(source), "-o", str(out), *FAST])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "Traceback" not in err
    with av.open(str(out)) as c:
        frames = sum(1 for _ in c.decode(video=0))
    return out, frames, err


@pytest.mark.parametrize("ext, codec", [(".webm", "opus"), (".mp4", "aac")])
def test_a_concatenated_mp4_with_a_one_sample_audio_packet(tmp_path, capsys, ext, codec):
    """Before: into .webm "non monotonically increasing dts", no file."""
    source = concatenated_mp4(tmp_path / "joined.mp4")
    (_, _, source_end, _), = read_tracks(source)
    out, frames, _ = _video(tmp_path, capsys, source, ext)
    (kind, name, end, _), = read_tracks(out)
    assert frames == 30 and (kind, name) == ("audio", codec)
    assert abs(end - source_end) < 0.05, (end, source_end)


@pytest.mark.parametrize("ext, codec", [(".mp4", "mp3"), (".webm", "opus")])
def test_an_avi_with_mp3_audio(tmp_path, capsys, ext, codec):
    """Before: into .mp4 "cannot write video (Invalid argument)" after one frame (the MP3 decoder's
    name, mp3float, hid that .mp4 takes MP3 as it is; transcoding fed 1152-sample frames)."""
    source = avi_mp3(tmp_path / "clip.avi")
    out, frames, _ = _video(tmp_path, capsys, source, ext)
    (kind, name, end, _), = read_tracks(out)
    assert frames == 30 and (kind, name) == ("audio", codec)
    assert abs(end - 1.0) < 0.06, end


@pytest.mark.parametrize("ext, codec", [(".webm", "opus"), (".m4v", "aac")])
def test_an_audio_track_that_changes_its_rate_half_way(tmp_path, capsys, ext, codec):
    """Before: a ValueError traceback ("Frame does not match AudioResampler setup", or "... AudioFifo
    parameters" where the first half needed no resampling)."""
    source = rate_change_mkv(tmp_path / "joined.mkv")
    out, frames, _ = _video(tmp_path, capsys, source, ext)
    (kind, name, end, _), = read_tracks(out)
    assert frames == 30 and (kind, name) == ("audio", codec)
    assert abs(end - 1.04) < 0.06, end


@pytest.mark.parametrize("source_ext, subtitle, ext, audio, text", [
    (".mkv", "subrip", ".mp4", ["aac", "aac"], "mov_text"),
    (".mkv", "subrip", ".mov", ["aac", "aac"], "mov_text"),
    (".mkv", "subrip", ".mkv", ["aac", "opus"], None),
    (".mkv", "subrip", ".webm", ["opus", "opus"], "webvtt"),
    (".mp4", "mov_text", ".mkv", ["aac", "opus"], None)])
def test_two_audio_tracks_and_subtitles_are_kept(tmp_path, capsys, source_ext, subtitle, ext, audio, text):
    """Before: only the first audio track, no subtitles, nothing said."""
    source = tracks_file(tmp_path / f"in{source_ext}", subtitles=(subtitle,))
    out, frames, err = _video(tmp_path, capsys, source, ext)
    tracks = read_tracks(out)
    assert frames == 30 and "not kept" not in err
    assert [(k, n) for k, n, _, _ in tracks[:2]] == [("audio", a) for a in audio]
    assert all(abs(end - 1.0) < 0.06 for _, _, end, _ in tracks[:2]), tracks
    kind, name, end, texts = tracks[2]
    expected = text or ("subrip" if subtitle == "subrip" else name)  # .mkv copies, or converts mov_text
    assert (kind, name, texts) == ("subtitle", expected, TEXTS) and abs(end - 0.95) < 0.03


@pytest.mark.parametrize("ext", [".mp4", ".webm"])
def test_bitmap_subtitles_where_the_container_cannot_hold_them_are_named(tmp_path, capsys, ext):
    source = tracks_file(tmp_path / "in.mkv", subtitles=("subrip", "dvd_subtitle"))
    _, frames, err = _video(tmp_path, capsys, source, ext)
    notes = [line for line in err.splitlines() if "not kept" in line]
    assert frames == 30 and len(notes) == 1 and "subtitle track 4 (dvd_subtitle)" in notes[0]
    tracks = read_tracks(tmp_path / f"out{ext}")
    assert [k for k, *_ in tracks] == ["audio", "audio", "subtitle"] and tracks[2][3] == TEXTS


def test_bitmap_subtitles_are_copied_into_mkv(tmp_path, capsys):
    source = tracks_file(tmp_path / "in.mkv", subtitles=("dvd_subtitle",))
    out, _, err = _video(tmp_path, capsys, source, ".mkv")
    assert "not kept" not in err
    assert [(k, n) for k, n, *_ in read_tracks(out)][-1] == ("subtitle", "dvd_subtitle")


def test_timeline_keeps_dts_increasing_in_the_output_time_base(tmp_path):
    """Two packets 1 sample apart at 48 kHz fall on the same millisecond of a WebM track."""
    from livematte.sinks.audio import Timeline

    with av.open(str(tmp_path / "t.webm"), "w") as out:
        stream = out.add_stream("libopus", rate=48000, layout="stereo")
        out.start_encoding()
        timeline = Timeline(stream)
        stamps = []
        for pts in (12288, 12289, 13249, 13249):
            packet = av.Packet(b"\0")
            packet.pts = packet.dts = pts
            packet.time_base = Fraction(1, 48000)
            assert timeline.place(packet)
            stamps.append(packet.dts)
    assert stamps == sorted(set(stamps)) and timeline.fixed == 2



def test_a_track_whose_conversion_fails_ends_alone_and_is_named(tmp_path, capsys, monkeypatch):
    """The safety net for what no test foresaw: a converter raising part-way ends its own track (one
    line says where), the picture and the other tracks are written."""
    from livematte.sinks import audio

    real = audio.AudioTranscoder.packets
    calls = {"n": 0}

    def failing(self, packet):
        calls["n"] += 1
        if calls["n"] == 10:
            raise ValueError("Frame does not match AudioResampler setup.")
        return real(self, packet)

    monkeypatch.setattr(audio.AudioTranscoder, "packets", failing)
    source = tracks_file(tmp_path / "in.mkv", audio=("libopus",), subtitles=("subrip",))
    out, frames, err = _video(tmp_path, capsys, source, ".mp4")
    lines = [line for line in err.splitlines() if "stops at" in line]
    assert frames == 30 and len(lines) == 1 and "audio track 1 (opus) stops at 0.1" in lines[0], err
    tracks = read_tracks(out)
    assert [k for k, *_ in tracks] == ["audio", "subtitle"] and tracks[1][3] == TEXTS
    assert 0.1 < tracks[0][2] < 0.3  # the sound written before the failure is kept


def test_a_track_the_muxer_refuses_part_way_ends_alone(tmp_path, capsys, monkeypatch):
    """A packet the muxer refuses (here a timestamp pulled back after the timeline placed it) ends
    that track with one line; before, the whole output failed ("cannot write video")."""
    from livematte.sinks import audio

    real = audio.Timeline.place
    calls = {"n": 0}

    def pulled_back(self, packet):
        placed = real(self, packet)
        calls["n"] += 1
        if calls["n"] == 12:
            packet.pts = packet.dts = 0
        return placed

    monkeypatch.setattr(audio.Timeline, "place", pulled_back)
    source = tracks_file(tmp_path / "in.mkv", audio=("aac",), subtitles=())
    out, frames, err = _video(tmp_path, capsys, source, ".mkv")
    lines = [line for line in err.splitlines() if "stops at" in line]
    assert frames == 30 and len(lines) == 1 and "audio track 1 (aac) stops at 0." in lines[0], err
    (kind, _, end, _), = read_tracks(out)
    assert kind == "audio" and 0.1 < end < 0.5
