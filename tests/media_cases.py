"""Small media files with the audio and subtitle layouts users meet, built with PyAV for the tests:
two clips joined by concatenation (a 1-sample audio packet at the join), an AVI with MP3 audio, a file
with two audio tracks and subtitles (text or bitmap)."""
from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path
from typing import List, Sequence

import av
import numpy as np

from livematte.sinks.tracks import DEFAULT_ASS_HEADER as ASS_HEADER
from tests.conftest import pattern_frame

SIZE = (64, 48)
LINES = [(0, "hello"), (400, "second line"), (700, "the end")]  # (start ms, text), 250 ms each


def tone(samples: int, rate: int, hz: float = 440.0) -> np.ndarray:
    """float32 ``(samples,)``: a sine at ``hz``."""
    return (0.3 * np.sin(2 * math.pi * hz * np.arange(samples) / rate)).astype(np.float32)


def _audio_frames(samples: int, rate: int, chunk: int, hz: float = 440.0):
    wave = tone(samples, rate, hz)
    for start in range(0, samples, chunk):
        part = wave[start:start + chunk]
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(np.stack([part, part])), format="fltp",
                                           layout="stereo")
        frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
        yield frame


def _video(out, codec: str = "libx264", fps: int = 30):
    options = {"preset": "ultrafast"} if codec == "libx264" else {}
    stream = out.add_stream(codec, rate=fps, options=options)
    stream.width, stream.height, stream.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
    return stream


def _pictures(out, stream, n: int) -> None:
    for i in range(n):
        frame = av.VideoFrame.from_ndarray(pattern_frame(i, SIZE), format="rgb24")
        frame.pts = i
        out.mux(stream.encode(frame))
    out.mux(stream.encode(None))


def _aac_packets(samples: int, rate: int = 48000):
    """(encoder, packets) of a stand-alone AAC encoding of a tone ``samples`` long."""
    ctx = av.CodecContext.create("aac", "w")
    ctx.sample_rate, ctx.layout, ctx.format, ctx.time_base = rate, "stereo", "fltp", Fraction(1, rate)
    ctx.open()
    packets = [p for frame in _audio_frames(samples, rate, 1024) for p in ctx.encode(frame)]
    return ctx, packets + list(ctx.encode(None))


def concatenated_mp4(path: Path, n: int = 30, rate: int = 48000) -> Path:
    """Two clips joined by stream copy, as concatenating tools do: the first clip's audio ends one
    sample into an AAC frame (a packet declaring 1 sample), the second's starts right after it.
    The picture is ``n`` frames at 30 fps; the audio lasts 12289 + rate * n / 60 samples."""
    first = 1024 * 12 + 1
    ctx, one = _aac_packets(first, rate)
    _, two = _aac_packets(rate * n // 60, rate)
    with av.open(str(path), "w") as out:
        video = _video(out)
        audio = out.add_stream("aac", rate=rate, layout="stereo")
        audio.codec_context.extradata = ctx.extradata
        _pictures(out, video, n)
        for offset, packets in ((0, one), (first + 1024, two)):  # +1024: the second clip's priming
            for packet in packets:
                packet.pts, packet.dts = packet.pts + offset, packet.dts + offset
                packet.stream, packet.time_base = audio, Fraction(1, rate)
                out.mux(packet)
    with av.open(str(path)) as check:
        durations = [p.duration for p in check.demux(check.streams.audio[0]) if p.size]
    assert 1 in durations, durations  # the join's 1-sample packet is in the file
    return path


def avi_mp3(path: Path, n: int = 30, rate: int = 44100) -> Path:
    """An AVI: MPEG-4 part 2 video, ``n`` frames at 30 fps, with MP3 audio (1152-sample frames)."""
    with av.open(str(path), "w") as out:
        video = _video(out, "mpeg4")
        audio = out.add_stream("libmp3lame", rate=rate, layout="stereo")
        _pictures(out, video, n)
        for frame in _audio_frames(rate * n // 30, rate, 1152):
            out.mux(audio.encode(frame))
        out.mux(audio.encode(None))
    return path


def tracks_file(path: Path, audio: Sequence[str] = ("aac", "libopus"), subtitles: Sequence[str] = ("subrip",),
                n: int = 30) -> Path:
    """``n`` frames at 30 fps with an audio track per codec in ``audio`` (a different tone each, 1 s)
    and a subtitle track per codec in ``subtitles`` (text: :data:`LINES`; ``dvd_subtitle``: bitmap
    packets, copied as they are)."""
    with av.open(str(path), "w") as out:
        video = _video(out)
        sounds = [out.add_stream(codec, rate=48000, layout="stereo") for codec in audio]
        texts: List = []
        for codec in subtitles:
            if codec == "dvd_subtitle":
                texts.append(out.add_mux_stream("dvd_subtitle"))
                continue
            stream = out.add_stream(codec)
            stream.codec_context.time_base = Fraction(1, 1000)
            stream.codec_context.subtitle_header = ASS_HEADER
            texts.append(stream)
        _pictures(out, video, n)
        for k, sound in enumerate(sounds):
            for frame in _audio_frames(48000 * n // 30, 48000, 960, hz=440.0 * (k + 1)):
                out.mux(sound.encode(frame))
            out.mux(sound.encode(None))
        for stream in texts:
            for i, (start, text) in enumerate(LINES):
                if stream.codec_context is None:  # bitmap: a packet the muxer copies as it is
                    packet = av.Packet(bytes([0, 12, 0, 8, 0, 0, 0, 0, 0x01, 0x02, 0xFF, 0]))
                else:
                    line = av.subtitles.subtitle.SubtitleSet.create(f"{i},0,Default,,0,0,0,,{text}".encode(), 0, 250)
                    packet = stream.codec_context.encode_subtitle(line)
                packet.pts = packet.dts = start
                packet.duration, packet.time_base, packet.stream = 250, Fraction(1, 1000), stream
                out.mux(packet)
    return path


def read_tracks(path: Path) -> list:
    """``(type, codec, end seconds, texts)`` per audio / subtitle stream of a file, in order; the end
    is the last sample decoded (audio) or the last packet's end (subtitles), texts the subtitle lines."""
    found = []
    with av.open(str(path)) as c:
        kinds = [(s.index, s.type) for s in c.streams if s.type in ("audio", "subtitle")]
    for index, kind in kinds:
        with av.open(str(path)) as c:
            stream = c.streams[index]
            name = stream.codec_context.codec.canonical_name
            if kind == "audio":
                frames = list(c.decode(stream))
                end = float(frames[-1].pts * frames[-1].time_base) + frames[-1].samples / frames[-1].sample_rate
                found.append((kind, name, end, []))
                continue
            texts, end = [], 0.0
            for packet in c.demux(stream):
                if not packet.size:
                    continue
                end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
                for sub in stream.decode(packet):
                    text = getattr(sub, "ass", b"") or getattr(sub, "text", b"")
                    if text:
                        texts.append(text.decode().split(",", 8)[-1])
            found.append((kind, name, end, texts))
    return found


def rate_change_mkv(path: Path, n: int = 30) -> Path:
    """A Matroska file whose MP3 track changes rate half-way (44.1 kHz, then 48 kHz), as joined clips
    do; ``n`` frames of picture at 30 fps."""
    def mp3(rate: int, samples: int) -> list:
        ctx = av.CodecContext.create("libmp3lame", "w")
        ctx.sample_rate, ctx.layout, ctx.format, ctx.time_base = rate, "stereo", "fltp", Fraction(1, rate)
        ctx.open()
        return [p for frame in _audio_frames(samples, rate, 1152) for p in ctx.encode(frame)] + list(ctx.encode(None))

    with av.open(str(path), "w") as out:
        video = _video(out)
        audio = out.add_stream("libmp3lame", rate=44100, layout="stereo")
        _pictures(out, video, n)
        for rate, offset, packets in ((44100, 0, mp3(44100, 22050)), (48000, 27000, mp3(48000, 24000))):
            for packet in packets:  # the second clip starts at 0.54 s, after the first one's last frame
                packet.pts, packet.dts = packet.pts + offset, packet.dts + offset
                packet.stream, packet.time_base = audio, Fraction(1, rate)
                out.mux(packet)
    return path
