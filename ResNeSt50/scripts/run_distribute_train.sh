#!/bin/bash
# Data-parallel training on the Ascend devices of an HCCL rank table (utils/hccl_tools.py writes one).
#   bash scripts/run_distribute_train.sh RANK_TABLE_FILE [DATA_DIR] [--key value ...]
# Implemented once for all model folders in utils/scripts/run_distribute_train_rank_table.sh; -h prints the usage.
set -euo pipefail
MODEL_DIR="$(realpath "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/..")"
exec bash "$MODEL_DIR/../utils/scripts/run_distribute_train_rank_table.sh" "$MODEL_DIR" "$@"
