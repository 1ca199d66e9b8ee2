"""Audio for a video output: packets copied with clean timestamps, or decoded and re-encoded.

Two pieces, used by :mod:`livematte.sinks.tracks` for each audio track of the source:

* :class:`Timeline` puts a packet into its output stream's time base and keeps the decoding
  timestamps strictly increasing, as ffmpeg does when it copies streams: muxers refuse anything
  else ("non monotonically increasing dts").
* :class:`AudioTranscoder`: decoder -> each frame cut to its packet's declared duration -> gaps
  filled with silence and overlaps dropped against a running sample clock -> ``av.AudioResampler``
  (to the encoder's format, layout and rate; a new one when the input changes its rate or layout
  mid-stream, as joined clips do) -> ``av.AudioFifo`` -> frames of exactly the encoder's frame
  size, stamped by counting samples -> the encoder.

Why each step: two clips joined by concatenation leave a packet declaring 1 sample at the join,
which the AAC decoder still decodes as a whole 1024-sample frame; without the cut the next frame
overlaps it and the encoder's queue goes backward in time. An MP3 track gives 1152-sample frames
that AAC (1024) and Opus (960) encoders cannot take as they come; the FIFO cuts them to size.
"""
from __future__ import annotations

from fractions import Fraction
from typing import List, Optional

import av
import numpy as np

#: A jump in the input's timestamps larger than this (seconds) is filled with silence (a gap) or
#: cut (an overlap); smaller ones are rounding and left to the running sample clock.
MAX_DRIFT = 0.02

_DTYPES = {"u8": np.uint8, "s16": np.int16, "s32": np.int32, "s64": np.int64, "flt": np.float32,
           "dbl": np.float64}


class Timeline:
    """Rescales packets into one output stream's time base and keeps their dts strictly increasing.

    A packet whose dts is not after the previous one's gets the previous dts + 1 (and a pts no
    earlier); ``fixed`` counts them. A packet with no timestamp at all cannot be placed.
    """

    def __init__(self, out_stream) -> None:
        self.time_base = Fraction(out_stream.time_base)
        self.fixed = 0
        self._last: Optional[int] = None

    def place(self, packet) -> bool:
        """Make ``packet`` muxable into the stream in place; False when it has no timestamp."""
        if packet.pts is None and packet.dts is None:
            return False
        source = packet.time_base
        if source and Fraction(source) != self.time_base:
            scale = Fraction(source) / self.time_base
            for name in ("pts", "dts", "duration"):
                value = getattr(packet, name)
                if value is not None:
                    setattr(packet, name, round(value * scale))
        packet.time_base = self.time_base
        dts = packet.dts if packet.dts is not None else packet.pts
        if self._last is not None and dts <= self._last:
            dts = self._last + 1
            self.fixed += 1
        packet.dts = dts
        if packet.pts is None or packet.pts < dts:
            packet.pts = dts
        self._last = dts
        return True


def _samples(frame, start: int, stop: int) -> "av.AudioFrame":
    """Samples ``start:stop`` of an audio frame as a new frame (same format, layout and rate)."""
    data = frame.to_ndarray()  # planar: (channels, samples); packed: (1, samples * channels)
    if not frame.format.is_planar:
        channels = frame.layout.nb_channels
        start, stop = start * channels, stop * channels
    part = av.AudioFrame.from_ndarray(np.ascontiguousarray(data[:, start:stop]), format=frame.format.name,
                                      layout=frame.layout.name)
    part.sample_rate = frame.sample_rate
    return part


def silence(fmt, layout, rate: int, samples: int) -> "av.AudioFrame":
    """``samples`` of silence in a sample format (an ``av.AudioFormat``) and layout."""
    channels = layout.nb_channels
    dtype = _DTYPES[fmt.packed.name]
    shape = (channels, samples) if fmt.is_planar else (1, samples * channels)
    zero = 128 if dtype is np.uint8 else 0
    frame = av.AudioFrame.from_ndarray(np.full(shape, zero, dtype), format=fmt.name, layout=layout.name)
    frame.sample_rate = rate
    return frame


class AudioTranscoder:
    """Decodes one input audio stream and encodes it into an (opened) output audio stream.

    ``packets(packet)`` returns the output packets one input packet gives (an empty packet: the
    end; everything left is flushed). A packet the decoder refuses is skipped (``damaged``); the
    gap it leaves is filled with silence, so sound stays in step with the picture.

    Attributes:
        damaged: input packets the decoder refused.
        filled, cut: samples of silence inserted at gaps, and of overlap dropped.
    """

    def __init__(self, in_stream, out_stream) -> None:
        self._decoder = in_stream.codec_context
        self._out = out_stream
        ctx = out_stream.codec_context
        self.rate = ctx.sample_rate
        self._format, self._layout = ctx.format, ctx.layout
        self._frame_size = ctx.frame_size or 1024  # 0: the encoder takes any size
        self._resampler = av.AudioResampler(format=ctx.format.name, layout=ctx.layout.name, rate=self.rate)
        self._kind: Optional[tuple] = None  # (format, layout, rate) of the input the resampler was made for
        self._fifo = av.AudioFifo()
        self._next: Optional[int] = None  # output sample position of the next sample into the FIFO
        self._sent = 0  # output sample position of the next frame out of the FIFO
        self._ended = False
        self.damaged = self.filled = self.cut = 0

    def packets(self, packet) -> List["av.Packet"]:
        """Output packets (in the encoder's time base) made from one input packet."""
        if self._ended:
            return []
        final = not packet.size
        try:
            frames = self._decoder.decode(None if final else packet)
        except (av.InvalidDataError, ValueError):
            self.damaged += 1
            frames = []
        except av.EOFError:
            frames = []
        for frame in frames:
            self._push(frame)
        if final:
            for frame in self._resampler.resample(None):
                self._write(frame)
        return self._encode(final)

    def _push(self, frame) -> None:
        keep = frame.samples
        if frame.duration and frame.time_base and frame.sample_rate:
            declared = round(frame.duration * frame.time_base * frame.sample_rate)
            keep = min(keep, declared) if declared > 0 else keep  # padding of a shortened packet
        ratio = frame.sample_rate / self.rate  # input samples per output sample
        if frame.pts is not None and frame.time_base:
            at = round(frame.pts * frame.time_base * self.rate)  # output sample position
        else:
            at = self._next if self._next is not None else 0
        skip = 0
        if self._next is None:
            if at < 0:  # encoder priming before the start: not part of the picture's time
                skip, at = round(-at * ratio), 0
            self._next = self._sent = at
        else:
            drift = at - self._next
            if drift > MAX_DRIFT * self.rate:
                self._write(silence(self._format, self._layout, self.rate, drift))
                self.filled += drift
            elif drift < -MAX_DRIFT * self.rate:
                skip = round(-drift * ratio)
        if skip >= keep:
            self.cut += keep
            return
        self.cut += skip
        if skip or keep < frame.samples:
            frame = _samples(frame, skip, keep)
        frame.pts = None  # the sample clock stamps what comes out
        kind = (frame.format.name, frame.layout.name, frame.sample_rate)
        if kind != self._kind:  # the first frame, or the input changed its rate or layout mid-stream
            if self._kind is not None:
                for out in self._resampler.resample(None):
                    self._write(out)
            self._resampler = av.AudioResampler(format=self._format.name, layout=self._layout.name, rate=self.rate)
            self._kind = kind
        for out in self._resampler.resample(frame):
            self._write(out)

    def _write(self, frame) -> None:
        frame.pts = None
        self._fifo.write(frame)
        self._next += frame.samples

    def _encode(self, final: bool) -> List["av.Packet"]:
        packets: List["av.Packet"] = []
        if final and self._fifo.samples % self._frame_size:
            pad = self._frame_size - self._fifo.samples % self._frame_size
            self._fifo.write(silence(self._format, self._layout, self.rate, pad))
        while self._fifo.samples >= self._frame_size:
            frame = self._fifo.read(self._frame_size)
            frame.pts, frame.time_base, frame.sample_rate = self._sent, Fraction(1, self.rate), self.rate
            self._sent += frame.samples
            packets.extend(self._out.encode(frame))
        if final:
            packets.extend(self._out.encode(None))
            self._ended = True
        return packets
