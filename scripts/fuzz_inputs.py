"""A longer fuzz run over image and video headers (the short one is tests/test_fuzz.py).

    python scripts/fuzz_inputs.py --seconds 300 [--seed 1]

Runs hypothesis rounds of ``--examples`` mutated files per kind, one seed per round (``--seed``,
``--seed + 1``, ...) until the time is spent; prints one JSON line: seeds, cases per kind,
"ok" / "refused" counts and the failures (an exception other than a one-line LivematteError).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hypothesis import HealthCheck, given, seed, settings  # noqa: E402

from tests.fuzz_cases import IMAGE_KINDS, VIDEO_KINDS, edits, mutate, read, seed_files  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--examples", type=int, default=40)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="lm-fuzz-"))
    files = seed_files(folder)
    outcomes, cases, failures, seeds = Counter(), Counter(), [], []
    start, round_seed = time.time(), args.seed
    while time.time() - start < args.seconds:
        seeds.append(round_seed)
        for ext in IMAGE_KINDS + VIDEO_KINDS:
            path = folder / f"case{ext}"

            @seed(round_seed)
            @settings(max_examples=args.examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
            @given(edits())
            def check(changes):
                path.write_bytes(mutate(files[ext], changes))
                cases[ext] += 1
                outcomes[read(str(path))] += 1

            try:
                check()
            except Exception as err:  # noqa: BLE001 - a finding, recorded
                failures.append({"kind": ext, "seed": round_seed, "error": repr(err)[:300],
                                 "where": traceback.format_exc().splitlines()[-3:]})
        round_seed += 1
    print(json.dumps({"seconds": round(time.time() - start, 1), "seeds": seeds, "cases": dict(cases),
                      "total": sum(cases.values()), "outcomes": dict(outcomes), "failures": failures}))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
