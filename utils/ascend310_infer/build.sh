#!/bin/bash
# Build the Ascend 310 inference program (CMakeLists.txt in this folder) into BUILD_DIR/main.
# MindSpore's C++ headers and libraries come from $MS_LITE_HOME/runtime when MS_LITE_HOME is set
# (MindSpore Lite), else from the installed `mindspore` Python package (Ascend build).
set -euo pipefail

usage() {
    echo "Usage: bash build.sh [BUILD_DIR]   (default: $(dirname "${BASH_SOURCE[0]}")/out)" >&2
    exit 1
}

[ $# -le 1 ] || usage
SRC_DIR=$(realpath "$(dirname "${BASH_SOURCE[0]}")")
BUILD_DIR=$(realpath -m "${1:-$SRC_DIR/out}")

if [ -n "${MS_LITE_HOME:-}" ]; then
    MINDSPORE_PATH=$(realpath "$MS_LITE_HOME/runtime")
else
    MINDSPORE_PATH=$(python -c 'import os, mindspore; print(os.path.dirname(mindspore.__file__))')
fi

cmake -S "$SRC_DIR" -B "$BUILD_DIR" -DMINDSPORE_PATH="$MINDSPORE_PATH"
cmake --build "$BUILD_DIR" -j "$(nproc)"
echo "built $BUILD_DIR/main"
