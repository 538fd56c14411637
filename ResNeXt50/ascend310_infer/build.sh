#!/bin/bash
# Build the shared Ascend 310 inference program (utils/ascend310_infer) into this folder's out/main.
# scripts/run_infer_310.sh builds it this way before running it; run this (no arguments) only to build by hand.
set -euo pipefail
HERE=$(realpath "$(dirname "${BASH_SOURCE[0]}")")
exec bash "$HERE/../../utils/ascend310_infer/build.sh" "$HERE/out" "$@"
