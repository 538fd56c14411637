#!/bin/bash
# Data-parallel training with N processes on this host, started by msrun or by mpirun: the implementation
# behind a model folder's scripts/run_distribute_train_gpu.sh (mpirun by default) and
# scripts/run_distribute_train_cpu.sh (msrun), which call
#   bash utils/scripts/run_distribute_train.sh MODEL_DIR CPU|GPU|Ascend N [DATA_DIR] [--key value ...]
# (Ascend with a rank table: run_distribute_train_rank_table.sh.)
set -euo pipefail
source "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/common.sh"

MODEL_NAME="<model folder>"
TARGET=""

usage() {
    case "$TARGET" in
        CPU | GPU)
            echo "usage: bash $MODEL_NAME/scripts/run_distribute_train_${TARGET,,}.sh N [DATA_DIR] [--key value ...]" ;;
        *)
            echo "usage: bash utils/scripts/run_distribute_train.sh MODEL_DIR CPU|GPU|Ascend N [DATA_DIR] [--key value ...]" ;;
    esac
    cat << EOF
  N             number of processes (GPU: one per device, devices 0..N-1)
  DATA_DIR      ImageFolder dataset with train/ and val/ ("" or omitted: the built-in demo dataset)
  --key value   any train.py option, passed through; the learning rate is scaled by the Python side
Environment: LAUNCHER=msrun|mpirun (default: mpirun on GPU, msrun otherwise), MASTER_PORT (default: a free
port), CLUSTER_TIME_OUT (seconds, default 600), MPIRUN_ARGS (mpirun options, default "--bind-to none"),
OUTPUT_DIR (default <model folder>/output/distribute_train_<target>; logs in its logs/ folder).
EOF
}

(($# >= 2)) || usage_error "expects MODEL_DIR and DEVICE_TARGET first (it is called by a model folder's scripts)"
MODEL_DIR="$(model_dir_arg "$1")"
MODEL_NAME="$(basename "$MODEL_DIR")"
TARGET="$(device_target_arg "$2")"
shift 2
exit_if_help "$@"
split_positional_and_extra "$@"
expect_positional_count 1 2

COUNT="$(process_count_arg "${POSITIONAL[0]}")"
DATA_DIR="${POSITIONAL[1]:-}"
[[ -z "$DATA_DIR" ]] || DATA_DIR="$(existing_dir_arg "$DATA_DIR" DATA_DIR)"
if [[ "$TARGET" == GPU ]]; then default_launcher=mpirun; else default_launcher=msrun; fi
LAUNCHER="$(launcher_arg "${LAUNCHER:-$default_launcher}")"
require_command python "activate the Python environment that has MindSpore"

OUT="$(output_dir_for "$MODEL_DIR" "distribute_train_${TARGET,,}")"
# Left from another run in this shell, these would make the processes join a cluster that does not exist.
unset RANK_TABLE_FILE MS_ROLE MS_NODE_ID
echo "training $MODEL_NAME on $COUNT $TARGET processes with ${DATA_DIR:-the demo dataset}; output in $OUT"
cd "$OUT"
run_cluster "$LAUNCHER" "$COUNT" "$OUT/logs" "$MODEL_DIR/train.py" --device_target "$TARGET" \
    ${DATA_DIR:+--data_dir "$DATA_DIR"} --output_dir "$OUT" ${EXTRA[@]+"${EXTRA[@]}"}
