#!/bin/bash
# Training on one GPU.
#   bash scripts/run_train_gpu.sh [DATA_DIR] [DEVICE_ID] [--key value ...]
# Implemented once for all model folders in utils/scripts/run_train.sh; -h prints the usage.
set -euo pipefail
MODEL_DIR="$(realpath "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/..")"
exec bash "$MODEL_DIR/../utils/scripts/run_train.sh" "$MODEL_DIR" GPU "$@"
