#!/bin/bash
# Build the shared Ascend 310 inference program (utils/ascend310_infer) into this folder's out/main.
# scripts/run_infer_310.sh builds it this way before running it; run this only to build by hand.
set -euo pipefail

usage() {
    echo "Usage: bash ascend310_infer/build.sh   (no arguments)" >&2
    exit 1
}

[ $# -eq 0 ] || usage
HERE=$(realpath "$(dirname "${BASH_SOURCE[0]}")")
bash "$HERE/../../utils/ascend310_infer/build.sh" "$HERE/out"
