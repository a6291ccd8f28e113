#!/usr/bin/env bash
# Builds rectifier.ptx, the committed PTX the CUDA backend loads, from rectifier.cu.
#
#   kernels-cuda/build-ptx.sh          rebuild rectifier.ptx (after editing rectifier.cu)
#   kernels-cuda/build-ptx.sh --check  fail unless the committed PTX is what the sources give and
#                                      it assembles with ptxas for every GPU architecture we ship for
#
# nvcc (13 here) writes PTX ISA 9.0, which only CUDA 13 drivers (580+) load. The kernels use no
# instruction newer than ISA 8.0 (CUDA 12.0), so the file declares 8.0: drivers from CUDA 12.0 on
# load it. What makes that claim safe: ptxas checks the file as ISA 8.0 below, and the tests compile
# it with JCuda's bundled CUDA 12.0 PTX compiler (CudaPtxTest). compute_75 is the oldest target
# nvcc 13 can write (Turing); the driver compiles the PTX for the GPU it finds.
# --fmad=false: no a*b+c fused behind the kernels' back (see rectifier.cu).
set -euo pipefail
cd "$(dirname "$0")"
NVCC=${NVCC:-nvcc}
PTXAS=${PTXAS:-ptxas}
ARCHS=(sm_75 sm_80 sm_86 sm_89 sm_90)

build() { # build OUT
  local raw
  raw=$(mktemp)
  "$NVCC" -ptx -arch=compute_75 --fmad=false -O3 rectifier.cu -o "$raw"
  if ! grep -qx '\.version 9\.0' "$raw" && ! grep -qx '\.version 8\.0' "$raw"; then
    echo "build-ptx.sh: nvcc wrote $(grep -m1 '^\.version' "$raw"), not 9.0; revisit the ISA rewrite" >&2
    rm -f "$raw"
    exit 1
  fi
  sed -e 's/^\.version 9\.0$/.version 8.0/' "$raw" >"$1"
  rm -f "$raw"
}

if [[ "${1:-}" == "--check" ]]; then
  if ! command -v "$NVCC" >/dev/null || ! command -v "$PTXAS" >/dev/null; then
    echo "build-ptx.sh --check: nvcc/ptxas not found (install the CUDA toolkit's compiler)" >&2
    exit 1
  fi
  fresh=$(mktemp)
  build "$fresh"
  # nvcc's header comments name its exact release; the code must match, not them
  if ! cmp -s <(grep -v '^//' "$fresh") <(grep -v '^//' rectifier.ptx); then
    echo "build-ptx.sh --check: rectifier.ptx is not what rectifier.cu gives; run kernels-cuda/build-ptx.sh and commit it" >&2
    diff <(grep -v '^//' rectifier.ptx) <(grep -v '^//' "$fresh") | head -20 >&2 || true
    rm -f "$fresh"
    exit 1
  fi
  rm -f "$fresh"
  for arch in "${ARCHS[@]}"; do
    "$PTXAS" -arch="$arch" rectifier.ptx -o /dev/null
    echo "rectifier.ptx assembles for $arch"
  done
  exit 0
fi

build rectifier.ptx
echo "wrote kernels-cuda/rectifier.ptx ($(grep -c '^\.visible \.entry' rectifier.ptx) kernels)"
