#!/bin/bash
# Training on the CPU, one process.
#   bash scripts/run_train_cpu.sh [DATA_DIR] [--key value ...]
# Implemented once for all model folders in utils/scripts/run_train.sh; -h prints the usage.
set -euo pipefail
MODEL_DIR="$(realpath "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/..")"
exec bash "$MODEL_DIR/../utils/scripts/run_train.sh" "$MODEL_DIR" CPU "$@"
