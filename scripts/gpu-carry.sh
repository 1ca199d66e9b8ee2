#!/usr/bin/env bash
# Prepare what a GPU machine without PyAV / LiteRT / mediapipe needs to run livematte's GPU checks
# (the team's lent H100/H200 machines have torch, OpenCV, numpy, tqdm, protobuf... but not these).
#
#   bash scripts/gpu-carry.sh          # here, after `make test` has made .venv
#
# Writes (both git-ignored; with the tree they must stay under the 64 MiB a device call may carry):
#   .whl/       cp312 manylinux wheels: av 18.1.0, ai-edge-litert 2.3.0, backports.strenum
#   .gpu-site/  mediapipe's two selfie .tflite files and the pose model (quality.pose, the
#               whole-body crop pass) only, as a namespace package `mediapipe`
#               (livematte finds the model files without importing mediapipe; the 36 MB wheel
#               would not fit beside the others)
# and prints the command prefix to use there. Not yet tried on a device machine.
set -euo pipefail
cd "$(dirname "$0")/.."

py=.venv/bin/python
[ -x "$py" ] || { echo "gpu-carry: run 'make test' first (it makes .venv)" >&2; exit 2; }

rm -rf .whl .gpu-site
platforms=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64
           --platform manylinux2014_x86_64)
"$py" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${platforms[@]}" -d .whl av==18.1.0 ai-edge-litert==2.3.0 backports.strenum

models=$("$py" -c "import os, mediapipe; print(os.path.join(os.path.dirname(mediapipe.__file__), 'modules', 'selfie_segmentation'))")
mkdir -p .gpu-site/mediapipe/modules/selfie_segmentation
cp "$models"/selfie_segmentation.tflite "$models"/selfie_segmentation_landscape.tflite \
    .gpu-site/mediapipe/modules/selfie_segmentation/
mkdir -p .gpu-site/mediapipe/modules/pose_landmark
cp "$models"/../pose_landmark/pose_landmark_full.tflite .gpu-site/mediapipe/modules/pose_landmark/

du -sh .whl .gpu-site
tree=$(git ls-files -co --exclude-standard -z | du -cb --files0-from=- | tail -1 | cut -f1)
total=$(( tree + $(du -sb .whl | cut -f1) + $(du -sb .gpu-site | cut -f1) ))
echo "carry with the working tree: $((total / 1048576)) MiB of 64"
[ "$total" -lt $((64 * 1048576)) ] || echo "gpu-carry: over 64 MiB; drop the pose file and run with --no-pose" >&2
cat <<'EOF'
On the device machine: carry [".whl", ".gpu-site"] and start each command with
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl && export PYTHONPATH=$PWD:$PWD/.gpu-site:/tmp/site || exit;
then, for example,
  python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu.py tests/test_gpu_matting.py
  python3 -m livematte bench --device cuda --size 1920x1080 --seconds 10 --json $OUT/bench-1080.json
(the other measurements: docs/gpu.md)
EOF
