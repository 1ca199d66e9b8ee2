#!/usr/bin/env bash
# Prepare what the lent GPU machine lacks for livematte's device check (it has torch, OpenCV, numpy,
# pytest, protobuf, flatbuffers, ml-dtypes, tqdm... but no PyAV, LiteRT or mediapipe, and no network).
#
#   bash scripts/gpu-carry.sh          # here, once .venv exists (`make test` makes it)
#   bash scripts/gpu-carry.sh --size   # only measure what would travel now (after more commits, say)
#
# Writes (both git-ignored; with the working tree they must stay under the 64 MiB a device call carries):
#   .whl/       cp312 manylinux wheels: av 18.1.0, ai-edge-litert 2.3.0, backports.strenum 1.2.8 (LiteRT
#               needs it) and pyvirtualcam 0.15.0 (160 kB: without it tests/test_live.py and
#               test_doctor.py do not even import, and pytest -m gpu reports them as errors), re-zipped with LZMA (the same files, RECORD unchanged; pip installs them as usual):
#               57.6 MB as downloaded, ~42.5 MB repacked
#   .gpu-site/  the three mediapipe model files the check needs (the two selfie models and the pose
#               model), as a namespace package `mediapipe`: livematte finds them with find_spec without
#               importing mediapipe, so neither the 36 MB mediapipe wheel nor protobuf travels;
#               and 2 x 26 DAVIS frames (davis2016/, ~8.5 MB) for the whole-body gpu test
# then prints the size of everything that travels and the device command (docs/gpu.md).
set -euo pipefail
cd "$(dirname "$0")/.."

py=.venv/bin/python
[ -x "$py" ] || { echo "gpu-carry: run 'make test' first (it makes .venv)" >&2; exit 2; }

if [ "${1:-}" != "--size" ]; then
rm -rf .whl .gpu-site
raw=$(mktemp -d)
trap 'rm -rf "$raw"' EXIT
platforms=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64
           --platform manylinux2014_x86_64)
"$py" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${platforms[@]}" -d "$raw" av==18.1.0 ai-edge-litert==2.3.0 backports.strenum==1.2.8 pyvirtualcam==0.15.0 2>&1 \
    | { grep -v "is ignored: it is neither a file nor a directory" || true; }

mkdir -p .whl
# Re-zip each wheel with LZMA: same members, same bytes, same RECORD (its hashes are of the contents),
# ~25% smaller than deflate on the shared libraries. Python's zipfile (pip's wheel installer) reads it.
"$py" - "$raw" .whl <<'EOF'
import os, sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
for name in sorted(os.listdir(src)):
    a, b = os.path.join(src, name), os.path.join(dst, name)
    with zipfile.ZipFile(a) as zin, zipfile.ZipFile(b, "w", compression=zipfile.ZIP_LZMA) as zout:
        for info in zin.infolist():
            zi = zipfile.ZipInfo(info.filename, info.date_time)
            zi.external_attr, zi.create_system = info.external_attr, info.create_system
            zout.writestr(zi, zin.read(info), compress_type=zipfile.ZIP_LZMA)
    with zipfile.ZipFile(a) as x, zipfile.ZipFile(b) as y:  # check: every member, byte for byte
        assert y.testzip() is None and x.namelist() == y.namelist()
        assert all(x.getinfo(n).CRC == y.getinfo(n).CRC for n in x.namelist()), name
    print(f"  {name}: {os.path.getsize(a) / 1e6:.1f} MB -> {os.path.getsize(b) / 1e6:.1f} MB (LZMA)")
EOF

# mediapipe's model files, located without importing it (ENVIRONMENT.md)
mp=$("$py" -c "import importlib.util as u; s = u.find_spec('mediapipe'); print(list(s.submodule_search_locations)[0])")
for f in selfie_segmentation/selfie_segmentation.tflite selfie_segmentation/selfie_segmentation_landscape.tflite \
         pose_landmark/pose_landmark_full.tflite; do
    mkdir -p ".gpu-site/mediapipe/modules/$(dirname "$f")"
    cp "$mp/modules/$f" ".gpu-site/mediapipe/modules/$f"
done
# The DAVIS frames tests/test_gpu.py::test_the_pose_pass_agrees_on_whole_bodies reads (frames 20-25
# of two sequences, from ../shared/data, which does not travel): the first 26 of each, ~8.5 MB. On
# the device, gpu_check.py links ../shared/data/davis2016 to them when that folder is missing there.
davis=../shared/data/davis2016
if [ -d "$davis/hike/frames" ] && [ -d "$davis/breakdance-flare/frames" ]; then
    for seq in hike breakdance-flare; do
        mkdir -p ".gpu-site/davis2016/$seq/frames"
        find "$davis/$seq/frames" -maxdepth 1 -name '*.jpg' | sort | head -26 | xargs cp -t ".gpu-site/davis2016/$seq/frames/"
    done
else
    echo "gpu-carry: no $davis here: the whole-body gpu test will skip on the device"
fi
fi
[ -d .whl ] && [ -d .gpu-site ] || { echo "gpu-carry: no .whl / .gpu-site yet: run without --size" >&2; exit 2; }

# What travels: tracked and untracked-not-ignored files (as the device tool copies them) + the carry.
tree=$(git ls-files -co --exclude-standard -z | "$py" -c '
import os, sys
names = [n for n in sys.stdin.buffer.read().split(b"\0") if n]
print(sum(os.path.getsize(n) for n in names if os.path.isfile(n)))')  # a file deleted but still tracked: 0
whl=$(du -sb .whl | cut -f1)
site=$(du -sb .gpu-site | cut -f1)
total=$((tree + whl + site))
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }
echo "working tree $(mib "$tree") + .whl $(mib "$whl") + .gpu-site $(mib "$site") = $(mib "$total") of 64 MiB"
if [ "$total" -ge $((64 * 1048576)) ] && [ -d .gpu-site/davis2016 ]; then
    echo "gpu-carry: over 64 MiB: leaving the DAVIS frames out (the whole-body gpu test will skip)"
    rm -rf .gpu-site/davis2016
    site=$(du -sb .gpu-site | cut -f1)
    total=$((tree + whl + site))
    echo "working tree $(mib "$tree") + .whl $(mib "$whl") + .gpu-site $(mib "$site") = $(mib "$total") of 64 MiB"
fi
[ "$total" -lt $((64 * 1048576)) ] || { echo "gpu-carry: over the 64 MiB a device call carries" >&2; exit 1; }
cat <<'EOF'
The device check, one call of the device tool's `run`:
  command:   bash scripts/gpu-check.sh
  carry:     [".whl", ".gpu-site"]
  timeout_s: 540
It installs the wheels itself (pip --no-index --no-deps --target), writes $OUT/gpu-check.json and
$OUT/gpu-check.log, and stays inside a 450 s budget. Rerun some steps only with e.g.
  bash scripts/gpu-check.sh --steps engines,bench_rvm_1080 --budget 200
Try it here first: bash scripts/gpu-check.sh --device cpu
EOF
