"""The source's audio and subtitle tracks, carried into a video output up to the picture's end.

What each output container keeps (the others are dropped, and :attr:`SourceTracks.note` says so
in one line):

==================  ============================================  ======================================
output              audio (every track)                           subtitles (every track)
==================  ============================================  ======================================
.mp4 .m4v .mov      copied when the container takes the codec,    mov_text: copied; other text
                    else AAC                                      subtitles converted; bitmaps dropped
.mkv                copied (else AAC)                             copied (else converted to SubRip)
.webm               Opus / Vorbis copied, else Opus               WebVTT: copied; other text converted
==================  ============================================  ======================================

Copied packets go through :class:`~livematte.sinks.audio.Timeline` (monotonic timestamps);
converted audio through :class:`~livematte.sinks.audio.AudioTranscoder`. ``pump(t)`` muxes every
packet that starts before ``t`` seconds (the end of the last picture written), so an interrupted
output keeps matching sound; damaged input audio just ends that track early.
"""
from __future__ import annotations

import errno
from collections import deque
from fractions import Fraction
from functools import lru_cache
from typing import Callable, Deque, Iterator, List, Optional

import av

from ..sources.video import open_container
from .audio import AudioTranscoder, Timeline

# Audio codecs copied as-is into each container (others are transcoded); None: what the muxer takes.
_COPY_AUDIO = {
    ".mp4": {"aac", "mp3", "ac3", "eac3", "alac"},
    ".m4v": {"aac", "ac3", "alac"},
    ".mov": {"aac", "mp3", "ac3", "eac3", "alac", "pcm_s16le", "pcm_s16be", "pcm_s24le"},
    ".webm": {"opus", "vorbis"},
    ".mkv": None,
}
# Subtitle codecs copied into each container, and the one text subtitles are converted to.
_COPY_SUBTITLES = {".mp4": {"mov_text"}, ".m4v": {"mov_text"}, ".mov": {"mov_text"}, ".webm": {"webvtt"},
                   ".mkv": None}
_SUBTITLE_TARGET = {".mp4": "mov_text", ".m4v": "mov_text", ".mov": "mov_text", ".webm": "webvtt",
                    ".mkv": "subrip"}
_SUBTITLE_WORDS = {".mp4": "mov_text", ".m4v": "mov_text", ".mov": "mov_text", ".webm": "WebVTT", ".mkv": "text"}
TEXT_SUBTITLES = {"subrip", "srt", "ass", "ssa", "mov_text", "webvtt", "text", "microdvd", "subviewer",
                  "subviewer1", "realtext", "sami", "mpl2", "jacosub", "vplayer", "pjs", "stl"}

#: The ASS header given to a subtitle encoder when the decoder offers none.
DEFAULT_ASS_HEADER = (
    "[Script Info]\nScriptType: v4.00+\nPlayResX: 384\nPlayResY: 288\n\n[V4+ Styles]\n"
    "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, "
    "Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, "
    "MarginL, MarginR, MarginV, Encoding\n"
    "Style: Default,Arial,16,&Hffffff,&Hffffff,&H0,&H0,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,0\n\n"
    "[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n").encode()


@lru_cache(maxsize=None)
def _muxable(format_name: str, names: frozenset) -> frozenset:
    """The codecs (their own names: ``dvd_subtitle``, not the encoder's ``dvdsub``) a muxer takes."""
    found = set()
    for name in names:
        for mode in ("r", "w"):
            try:
                found.add(av.Codec(name, mode).canonical_name)
                break
            except (av.FFmpegError, ValueError):
                continue
    return frozenset(found)


def muxable(container) -> frozenset:
    """:func:`_muxable` of an output container."""
    return _muxable(container.format.name, frozenset(container.supported_codecs))


def codec_name(stream) -> str:
    """The codec's own name (``mp3``, not the decoder's ``mp3float``)."""
    ctx = stream.codec_context
    return ctx.codec.canonical_name if ctx is not None else "unknown"


class _SubtitleConverter:
    """Decodes text subtitles and encodes them in another text format, keeping their times."""

    def __init__(self, in_stream, out_stream) -> None:
        self._decoder, self._out = in_stream.codec_context, out_stream
        self.damaged = 0

    def packets(self, packet) -> list:
        if not packet.size:
            return []
        try:
            subtitles = self._decoder.decode2(packet)
            if subtitles is None:
                return []
            out = self._out.codec_context.encode_subtitle(subtitles)
        except (av.FFmpegError, ValueError):
            self.damaged += 1
            return []
        out.time_base = packet.time_base
        out.pts, out.dts, out.duration = packet.pts, packet.dts, packet.duration
        return [out]


class _Track:
    """One input stream carried into one output stream."""

    def __init__(self, in_stream, out_stream, how: str) -> None:
        self.in_stream, self.out_stream, self.how = in_stream, out_stream, how  # copy | audio | subtitles
        self.convert: Optional[Callable] = None
        self.timeline: Optional[Timeline] = None
        self.queue: Deque = deque()
        self.problem: Optional[str] = None  # why this track ended early (a converter failed)

    def start(self) -> None:
        self.timeline = Timeline(self.out_stream)
        if self.how == "audio":
            self.convert = AudioTranscoder(self.in_stream, self.out_stream).packets
        elif self.how == "subtitles":
            self.convert = _SubtitleConverter(self.in_stream, self.out_stream).packets

    def fail(self, packet, err: BaseException) -> None:
        """End this track at ``packet`` (``problem`` says where and why); the others go on."""
        where = f" at {_start(packet):.2f} s" if packet.size else " at its end"
        reason = getattr(err, "strerror", None) or str(err)
        self.problem = f"{self.in_stream.type} track {self.in_stream.index} ({codec_name(self.in_stream)}) stops{where}: {reason}"
        self.queue.clear()

    def take(self, packet) -> None:
        """Queue the output packets made from one input packet (timestamps placed)."""
        if self.problem is not None:
            return
        if self.convert is None:
            made = [packet] if packet.size else []
        else:
            try:
                made = self.convert(packet)
            except (av.FFmpegError, ValueError) as err:  # what the input did that no one foresaw
                self.fail(packet, err)
                return
        for out in made:
            if self.timeline.place(out):
                out.stream = self.out_stream
                self.queue.append(out)


_FILE_ERRORS = {errno.ENOSPC, errno.EIO, errno.EDQUOT, errno.EROFS, errno.EFBIG, errno.EPIPE}


def _start(packet) -> float:
    ts = packet.pts if packet.pts is not None else packet.dts
    return float(ts * packet.time_base) if ts is not None else 0.0


class SourceTracks:
    """Moves the audio and subtitle tracks of one file into an output container, up to a given time.

    ``create`` adds the output streams (before the container's header is written), ``start``
    (after it) opens the converters, then ``pump(t)`` / ``finish(t)``; ``close`` releases the file.

    Attributes:
        tracks: what is carried, one entry per input stream.
        dropped: the tracks the output cannot hold, described (``subtitle track 3 (dvd_subtitle)``).
    """

    def __init__(self, source, container, tracks: List[_Track], dropped: List[str], why: List[str]) -> None:
        self._source, self._container = source, container
        self.tracks = tracks
        self.dropped, self._why = dropped, why
        self._by_index = {t.in_stream.index: t for t in tracks}
        self._packets: Optional[Iterator] = None
        self._read_to = float("-inf")  # start time of the last packet read
        self._done = False

    @classmethod
    def create(cls, path: str, container, ext: str) -> Optional["SourceTracks"]:
        """The tracks of ``path`` that go into ``container`` (an ``ext`` file), or None when it has none."""
        source = open_container(path)
        tracks: List[_Track] = []
        dropped: List[str] = []
        why: List[str] = []
        try:
            for stream in source.streams:
                if stream.type == "audio":
                    track = _audio_track(stream, container, ext)
                elif stream.type == "subtitle":
                    track = _subtitle_track(stream, container, ext)
                else:
                    continue
                if isinstance(track, str):
                    dropped.append(f"{stream.type} track {stream.index} ({codec_name(stream)})")
                    why.append(track)
                else:
                    tracks.append(track)
        except BaseException:
            source.close()
            raise
        if not tracks and not dropped:
            source.close()
            return None
        return cls(source, container, tracks, dropped, why)

    @property
    def has_audio(self) -> bool:
        return any(t.in_stream.type == "audio" for t in self.tracks)

    def note(self, name: str) -> Optional[str]:
        """One line about the tracks left out (None when every track is carried)."""
        if not self.dropped:
            return None
        reasons = "; ".join(dict.fromkeys(self._why))
        return f"{name}: not kept from the input: {', '.join(self.dropped)} ({reasons})"

    def problems(self, name: str) -> List[str]:
        """One line per track that ended early because converting it failed (the others go on)."""
        return [f"{name}: {t.problem}" for t in self.tracks if t.problem]

    def start(self) -> None:
        """Open the converters; call once the output container has written its header."""
        for track in self.tracks:
            track.start()
        streams = [t.in_stream for t in self.tracks]
        self._packets = self._demux(streams) if streams else iter(())

    def _demux(self, streams) -> Iterator:
        try:
            yield from self._source.demux(streams)
        except (av.FFmpegError, OSError):
            pass  # damaged or cut-short input: its tracks simply end here

    def pump(self, until: float) -> None:
        """Mux every packet that starts before ``until`` seconds."""
        while not self._done and self._read_to < until:
            packet = next(self._packets, None)
            if packet is None:
                self._done = True
                break
            track = self._by_index.get(packet.stream.index)
            if track is None:
                continue
            if packet.size:
                self._read_to = _start(packet)
            track.take(packet)
        self._mux(until)

    def _mux(self, until: float) -> None:
        for track in self.tracks:
            while track.queue and _start(track.queue[0]) < until:
                packet = track.queue.popleft()
                try:
                    self._container.mux(packet)
                except av.FFmpegError as err:
                    if getattr(err, "errno", None) in _FILE_ERRORS:
                        raise  # the file itself (a full disk): the output's own failure
                    track.fail(packet, err)  # the muxer refused this track's data: it ends here

    def finish(self, until: float) -> None:
        """Mux up to ``until`` seconds, then flush the converters (the end of the output)."""
        self.pump(until)
        if not self._done:
            self._done = True
        for track in self.tracks:
            if track.convert is not None:
                track.take(_EmptyPacket(track.in_stream))
        self._mux(until)

    def close(self) -> None:
        if self._packets is not None and hasattr(self._packets, "close"):
            self._packets.close()
        self._source.close()


class _EmptyPacket:
    """Stands for the empty packet that ends a stream (flush), for a stream whose own was not read."""

    size = 0

    def __init__(self, stream) -> None:
        self.stream = stream


def _audio_track(stream, container, ext: str):
    """A :class:`_Track` for an input audio stream, or why the output cannot hold it (a string)."""
    name = codec_name(stream)
    allowed = _COPY_AUDIO.get(ext)
    if name in muxable(container) and (allowed is None or name in allowed):
        return _Track(stream, container.add_stream_from_template(stream), "copy")
    ctx = stream.codec_context
    if ctx is None or not ctx.sample_rate:
        return f"audio in {name} cannot be decoded"
    channels = ctx.layout.nb_channels if ctx.layout else 2
    layout = "mono" if channels == 1 else "stereo"
    if ext == ".webm":
        codec = "libopus" if "libopus" in av.codecs_available else "opus"
        out = container.add_stream(codec, rate=48000, layout=layout)
    else:
        rates = av.Codec("aac", "w").audio_rates or ()
        rate = ctx.sample_rate if ctx.sample_rate in rates else 48000  # AAC has a list (7350 .. 96000 Hz)
        out = container.add_stream("aac", rate=rate, layout=layout)
    return _Track(stream, out, "audio")


def _subtitle_track(stream, container, ext: str):
    """A :class:`_Track` for an input subtitle stream, or why the output cannot hold it (a string)."""
    name = codec_name(stream)
    allowed = _COPY_SUBTITLES.get(ext)
    if name in muxable(container) and (allowed is None or name in allowed):
        return _Track(stream, container.add_stream_from_template(stream), "copy")
    if name not in TEXT_SUBTITLES or stream.codec_context is None:
        return f"{ext} holds only {_SUBTITLE_WORDS[ext]} subtitles, and pictures cannot be turned into text"
    decoder = stream.codec_context
    try:
        decoder.open(strict=False)
    except av.FFmpegError:
        return f"subtitles in {name} cannot be decoded"
    out = container.add_stream(_SUBTITLE_TARGET[ext])
    out.codec_context.time_base = Fraction(1, 1000)
    out.codec_context.subtitle_header = decoder.subtitle_header or DEFAULT_ASS_HEADER
    return _Track(stream, out, "subtitles")
