#!/bin/bash
# Evaluation sharded over N processes on this host (and N on each other host of a multi-host run;
# msrun by default): the implementation behind a model
# folder's scripts/run_distribute_eval.sh, which calls
#   bash utils/scripts/run_distribute_eval.sh MODEL_DIR --as SCRIPT_NAME ARGUMENTS DEVICE_TARGET N CKPT [DATA_DIR] [--key value ...]
# (common.sh describes --as; run directly, it takes the same without --as SCRIPT_NAME ARGUMENTS.)
# Each process scores its shard of the validation set; eval.py sums the counts over the ranks.
set -euo pipefail
source "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/common.sh"

usage() {
    usage_line
    cat << EOF
  DEVICE_TARGET CPU, GPU or Ascend
  N             number of processes on this host (GPU/Ascend: one per device, devices 0..N-1)
  CKPT          checkpoint file, or a folder of checkpoints
  DATA_DIR      ImageFolder dataset with val/ ("" or omitted: the built-in demo dataset)
  --key value   any eval.py option, passed through
Environment: LAUNCHER=msrun|mpirun (default msrun), MASTER_PORT, CLUSTER_TIME_OUT (seconds, default 600),
OUTPUT_DIR (default <model folder>/output/distribute_eval_<target>; logs in its logs/ folder).
Several hosts (docs/DISTRIBUTED.md): NUM_NODES (hosts, default 1), NODE_RANK (this host, 0..NUM_NODES-1),
MASTER_ADDR (host 0's address) and MASTER_PORT, the same on every host; run this on every host (msrun).
EOF
}

parse_script_args "DEVICE_TARGET N CKPT [DATA_DIR] [--key value ...]" 3 1 options "$@"

TARGET="$(device_target_arg "${POSITIONAL[0]}")"
COUNT="$(process_count_arg "${POSITIONAL[1]}")"
CKPT="$(existing_path_arg "${POSITIONAL[2]}" CKPT)"
DATA_DIR="${POSITIONAL[3]:-}"
[[ -z "$DATA_DIR" ]] || DATA_DIR="$(existing_dir_arg "$DATA_DIR" DATA_DIR)"
LAUNCHER="$(launcher_arg "${LAUNCHER:-msrun}")"
check_cluster_env "$LAUNCHER"
require_command python "activate the Python environment that has MindSpore"
require_backend "$TARGET"

OUT="$(output_dir_for "$MODEL_DIR" "distribute_eval_${TARGET,,}")"
unset RANK_TABLE_FILE MS_ROLE MS_NODE_ID
echo "evaluating $CKPT on $COUNT $TARGET processes$(hosts_note) with ${DATA_DIR:-the demo dataset}; results in $OUT"
cd "$OUT"
run_cluster "$LAUNCHER" "$COUNT" "$OUT/logs" "$MODEL_DIR/eval.py" --device_target "$TARGET" --ckpt_path "$CKPT" \
    ${DATA_DIR:+--data_dir "$DATA_DIR"} --output_dir "$OUT" ${EXTRA[@]+"${EXTRA[@]}"}
