#!/bin/bash
# Evaluation on the CPU.
#   bash scripts/run_eval_cpu.sh OUT_DIR CKPT [DATA_DIR] [--key value ...]
# Implemented once for all model folders in utils/scripts/run_eval.sh; -h prints the usage.
set -euo pipefail
MODEL_DIR="$(realpath "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/..")"
exec bash "$MODEL_DIR/../utils/scripts/run_eval.sh" "$MODEL_DIR" CPU "$@"
