#!/bin/bash
# Data-parallel training with N processes on this host (and N on each other host of a multi-host run),
# started by msrun or by mpirun: the implementation
# behind a model folder's scripts/run_distribute_train_gpu.sh (mpirun by default) and
# scripts/run_distribute_train_cpu.sh (msrun), which call
#   bash utils/scripts/run_distribute_train.sh MODEL_DIR --as SCRIPT_NAME ARGUMENTS CPU|GPU|Ascend N [DATA_DIR] [--key value ...]
# (common.sh describes --as; run directly, it takes the same without --as SCRIPT_NAME ARGUMENTS.)
# (Ascend with a rank table: run_distribute_train_rank_table.sh.)
set -euo pipefail
source "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/common.sh"

usage() {
    usage_line
    cat << EOF
  N             number of processes on this host (GPU: one per device, devices 0..N-1)
  DATA_DIR      ImageFolder dataset with train/ and val/ ("" or omitted: the built-in demo dataset)
  --key value   any train.py option, passed through; the learning rate is scaled by the Python side
Environment: LAUNCHER=msrun|mpirun (default: mpirun on GPU, msrun otherwise), MASTER_PORT (default: a free
port), CLUSTER_TIME_OUT (seconds, default 600), MPIRUN_ARGS (mpirun options, default "--bind-to none"),
OUTPUT_DIR (default <model folder>/output/distribute_train_<target>; logs in its logs/ folder).
Several hosts (docs/DISTRIBUTED.md): NUM_NODES (hosts, default 1), NODE_RANK (this host, 0..NUM_NODES-1),
MASTER_ADDR (host 0's address) and MASTER_PORT, the same on every host; msrun: run this on every host;
mpirun: on host 0 only, with the hosts in MPIRUN_ARGS (--hostfile FILE).
A run continues where it stopped in its output folder (--resume auto, the default here; --resume '' starts anew).
EOF
}

parse_script_args --target "N [DATA_DIR] [--key value ...]" 1 1 options "$@"

COUNT="$(process_count_arg "${POSITIONAL[0]}")"
DATA_DIR="${POSITIONAL[1]:-}"
[[ -z "$DATA_DIR" ]] || DATA_DIR="$(existing_dir_arg "$DATA_DIR" DATA_DIR)"
if [[ "$TARGET" == GPU ]]; then default_launcher=mpirun; else default_launcher=msrun; fi
LAUNCHER="$(launcher_arg "${LAUNCHER:-$default_launcher}")"
check_cluster_env "$LAUNCHER"
require_command python "activate the Python environment that has MindSpore"
require_backend "$TARGET"

OUT="$(output_dir_for "$MODEL_DIR" "distribute_train_${TARGET,,}")"
# Left from another run in this shell, these would make the processes join a cluster that does not exist.
unset RANK_TABLE_FILE MS_ROLE MS_NODE_ID
echo "training $MODEL_NAME on $COUNT $TARGET processes$(hosts_note) with ${DATA_DIR:-the demo dataset}; output in $OUT"
cd "$OUT"
run_cluster "$LAUNCHER" "$COUNT" "$OUT/logs" "$MODEL_DIR/train.py" --device_target "$TARGET" \
    ${DATA_DIR:+--data_dir "$DATA_DIR"} --output_dir "$OUT" --resume auto ${EXTRA[@]+"${EXTRA[@]}"}
