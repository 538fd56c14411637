#!/bin/bash
# CPU inference of an exported MINDIR over an ImageFolder tree, then top-1/top-5 accuracy.
# Implemented once for all model folders in utils/scripts/run_infer_cpu.sh, which checks the arguments
# against this script's ARGUMENTS and counts and prints them as its usage (-h).
set -euo pipefail
ARGUMENTS="MINDIR_PATH DATA_PATH [NET]"
# What ARGUMENTS accepts: required and optional positional arguments, and whether --key value options follow.
REQUIRED=2 OPTIONAL=1 OPTIONS=no-options
MODEL_DIR="$(realpath "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/..")"
exec bash "$MODEL_DIR/../utils/scripts/run_infer_cpu.sh" "$MODEL_DIR" --as "$(basename "$0")" "$ARGUMENTS" "$REQUIRED" "$OPTIONAL" "$OPTIONS" "$@"
