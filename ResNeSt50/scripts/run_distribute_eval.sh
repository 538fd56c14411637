#!/bin/bash
# Evaluation sharded over N processes on this host, started by msrun.
#   bash scripts/run_distribute_eval.sh DEVICE_TARGET N CKPT [DATA_DIR] [--key value ...]
# Implemented once for all model folders in utils/scripts/run_distribute_eval.sh; -h prints the usage.
set -euo pipefail
MODEL_DIR="$(realpath "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/..")"
exec bash "$MODEL_DIR/../utils/scripts/run_distribute_eval.sh" "$MODEL_DIR" "$@"
