#!/bin/bash
# Training on one GPU.
# Implemented once for all model folders in utils/scripts/run_train.sh, which checks the arguments
# against this script's ARGUMENTS and counts and prints them as its usage (-h).
set -euo pipefail
ARGUMENTS="[DATA_DIR] [DEVICE_ID] [--key value ...]"
# What ARGUMENTS accepts: required and optional positional arguments, and whether --key value options follow.
REQUIRED=0 OPTIONAL=2 OPTIONS=options
MODEL_DIR="$(realpath "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/..")"
exec bash "$MODEL_DIR/../utils/scripts/run_train.sh" "$MODEL_DIR" --as "$(basename "$0")" "$ARGUMENTS" "$REQUIRED" "$OPTIONAL" "$OPTIONS" GPU "$@"
