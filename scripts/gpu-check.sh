#!/usr/bin/env bash
# The one device check (issue #15; docs/gpu.md, "The one device check"). On the lent GPU machine,
# with `.whl` and `.gpu-site` carried (made here by scripts/gpu-carry.sh):
#
#   bash scripts/gpu-check.sh                  # writes $OUT/gpu-check.json and $OUT/gpu-check.log
#   bash scripts/gpu-check.sh --device cpu     # the stand-in on this CPU machine (small, quick)
#   bash scripts/gpu-check.sh --steps engines,bench_rvm_1080   # a rerun of some steps only
#
# Every step has its own timeout inside one budget (--budget, default 450 s on cuda) and its status
# in the JSON; a failing step never stops the next. Exits 0 whenever the JSON was written.
set -u
cd "$(dirname "$0")/.."
if [ -n "${PYTHON:-}" ]; then py=$PYTHON
elif [ -x .venv/bin/python ]; then py=.venv/bin/python     # here; the device has no .venv
else py=python3; fi
out=${OUT:-$PWD/out/gpu-check}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 OPENCV_LOG_LEVEL=OFF
exec "$py" scripts/gpu_check.py --out "$out" "$@"
