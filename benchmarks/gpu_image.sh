#!/usr/bin/env bash
# kernelgrad on a bare GPU image: the one command for a lent GPU machine.
#
# The image this project is checked on (Python 3.12, torch 2.11, triton 3.6.0, cupy-cuda13x 14.2, numpy,
# scikit-learn, matplotlib, tqdm, safetensors, threadpoolctl) lacks one dependency: array-api-compat. It
# cannot reach a package registry, so the wheel travels with the working tree:
#
#   benchmarks/gpu_image.sh fetch          here (with a registry): download the wheels into .whl/ (git-ignored
#                                          through .git/info/exclude)
#   benchmarks/gpu_image.sh check [ARGS]   there, as the single device command, with .whl carried: install the
#                                          wheels into /tmp/site ($KERNELGRAD_SITE), then
#                                          `python3 -m framework.cli gpu-check ARGS`
#                                          from this checkout (PYTHONPATH, not installed). Results go to
#                                          $OUT/gpu-check when $OUT is set, else gpu-check's default folder.
#
# gpu-check's default budget (390 s) keeps `check` under 7 minutes; a rerun of what failed:
#   benchmarks/gpu_image.sh check --only correctness --only bench --budget-s 240
set -euo pipefail
cd "$(dirname "$0")/.."

# What the image lacks, pinned to the version CI tests with. KERNELGRAD_GPU_WHEELS replaces the list, e.g. to
# add CUDA's crt/ headers if the cupy rows of gpu-check fail with "cannot open crt/mma.h":
#   KERNELGRAD_GPU_WHEELS="array-api-compat==1.16.0 nvidia-cuda-crt==13.0.88" benchmarks/gpu_image.sh fetch
# (the crt version must match the image's NVRTC, which gpu-check's facts record under cupy.nvrtc).
read -r -a WHEELS <<<"${KERNELGRAD_GPU_WHEELS:-array-api-compat==1.16.0}"
PLATFORMS=(manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64)

case "${1:-}" in
  fetch)
    exclude="$(git rev-parse --git-path info/exclude)"
    grep -qxF '/.whl/' "$exclude" 2>/dev/null || echo '/.whl/' >>"$exclude"
    rm -rf .whl  # one version of each wheel: two would stop the install there
    python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      "${PLATFORMS[@]/#/--platform=}" -d .whl "${WHEELS[@]}"
    ls -l .whl
    ;;
  check)
    shift
    ls .whl/*.whl >/dev/null || { echo "no wheels in .whl/: run '$0 fetch' here and carry .whl" >&2; exit 3; }
    site="${KERNELGRAD_SITE:-/tmp/site}"
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" .whl/*.whl
    export PYTHONPATH="$PWD:$site${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
    nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader || true
    exec python3 -m framework.cli gpu-check ${OUT:+--out "$OUT/gpu-check"} "$@"
    ;;
  *)
    sed -n '2,16p' "$0" >&2
    exit 2
    ;;
esac
