#!/bin/bash
# Data-parallel training on N GPUs of this host, started by mpirun (LAUNCHER=msrun: by msrun).
#   bash scripts/run_distribute_train_gpu.sh N [DATA_DIR] [--key value ...]
# Implemented once for all model folders in utils/scripts/run_distribute_train.sh; -h prints the usage.
set -euo pipefail
MODEL_DIR="$(realpath "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/..")"
exec bash "$MODEL_DIR/../utils/scripts/run_distribute_train.sh" "$MODEL_DIR" GPU "$@"
