"""A fuzz run over the audio and subtitle path: mutated files with tracks, through a whole video output.

    python scripts/fuzz_tracks.py --seconds 300 [--seed 1]

The seeds are tests/media_cases.py's files (two joined clips with a 1-sample audio packet, an AVI with
MP3, two audio tracks with SubRip + DVD or mov_text subtitles, an MP3 track changing rate); each case
applies 1 to 6 edits anywhere in one (a byte, 8 bytes, or a cut) and writes it through
``VideoFileSource`` -> ``VideoFileSink(audio_from=...)`` into .webm, .mp4, .mkv or .mov. The only
accepted answers are a file or a one-line ``LivematteError``. Prints one JSON line: the seed, the
cases, and the failures (kept as files in the work folder).
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import av  # noqa: E402
import av.logging  # noqa: E402

from livematte.sinks.video import VideoFileSink  # noqa: E402
from livematte.sources.video import VideoFileSource  # noqa: E402
from livematte.types import LivematteError  # noqa: E402
from tests.media_cases import avi_mp3, concatenated_mp4, rate_change_mkv, tracks_file  # noqa: E402

SEEDS = {
    "joined.mp4": concatenated_mp4,
    "mp3.avi": avi_mp3,
    "tracks.mkv": lambda p: tracks_file(p, subtitles=("subrip", "dvd_subtitle")),
    "tracks.mp4": lambda p: tracks_file(p, subtitles=("mov_text",)),
    "rate.mkv": rate_change_mkv,
}


def mutated(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        if not out:
            break
        at = rng.randrange(len(out))
        roll = rng.random()
        if roll < 0.1:
            del out[at:]
        elif roll < 0.55:
            out[at:at + 8] = bytes(rng.randrange(256) for _ in range(8))
        else:
            out[at] = rng.randrange(256)
    return bytes(out)


def transcode(source: Path, output: Path) -> None:
    with VideoFileSource(str(source)) as src, VideoFileSink(output, audio_from=str(source)) as sink:
        sink.open(src.info, False)
        for frame in src:
            sink.write(frame.image, frame)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", help="folder for the files (default: a temporary one, kept when something failed)")
    args = parser.parse_args()
    av.logging.set_level(av.logging.PANIC)
    work = Path(args.work or tempfile.mkdtemp(prefix="lm-fuzz-tracks-"))
    work.mkdir(parents=True, exist_ok=True)
    seeds = {name: make(work / f"seed-{name}").read_bytes() for name, make in SEEDS.items()}
    rng = random.Random(args.seed)
    deadline = time.time() + args.seconds
    cases, failures = 0, []
    while time.time() < deadline:
        name = rng.choice(sorted(seeds))
        data = mutated(seeds[name], rng)
        source = work / f"case-{name}"
        source.write_bytes(data)
        cases += 1
        try:
            transcode(source, work / f"out{rng.choice(['.webm', '.mp4', '.mkv', '.mov'])}")
        except LivematteError:
            pass
        except Exception:  # noqa: BLE001 - what the run is looking for
            kept = work / f"failure{len(failures) + 1}-{name}"
            kept.write_bytes(data)
            failures.append({"file": str(kept), "error": traceback.format_exc().splitlines()[-1]})
    print(json.dumps({"seed": args.seed, "seconds": args.seconds, "cases": cases, "failures": failures}))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
