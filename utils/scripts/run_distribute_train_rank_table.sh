#!/bin/bash
# Data-parallel training on the Ascend devices of an HCCL rank table, one process per device: the
# implementation behind a model folder's scripts/run_distribute_train.sh, which calls
#   bash utils/scripts/run_distribute_train_rank_table.sh MODEL_DIR --as SCRIPT_NAME ARGUMENTS RANK_TABLE_FILE [DATA_DIR] [--key value ...]
# (common.sh describes --as; run directly, it takes the same without --as SCRIPT_NAME ARGUMENTS.)
#
# python -m zoo_core.runtime.rank_table_launch validates the table before anything starts, then starts the
# table's ranks of this server (SERVER_ID; needed only when the table lists several servers), each in
# <output>/train_parallel<rank>/ with its log there, pinned to its share of the CPU cores, and waits for
# all of them: if one fails, the others are stopped and its log tail is printed.
set -euo pipefail
source "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/common.sh"

usage() {
    usage_line
    cat << EOF
  RANK_TABLE_FILE  HCCL rank table JSON (make one with: python utils/hccl_tools.py --device_num "[0,8)")
  DATA_DIR         ImageFolder dataset with train/ and val/ ("" or omitted: the built-in demo dataset)
  --key value      any train.py option, passed through; the learning rate is scaled by the Python side
Environment: SERVER_ID (this server's server_id, for a table of several servers), OUTPUT_DIR (default
<model folder>/output/distribute_train_ascend; rank r logs to train_parallel<r>/log in it), LOG_TAIL_LINES.
A run continues where it stopped in its output folder (--resume auto, the default here; --resume '' starts anew).
EOF
}

parse_script_args "RANK_TABLE_FILE [DATA_DIR] [--key value ...]" 1 1 options "$@"
DATA_DIR="${POSITIONAL[1]:-}"
[[ -z "$DATA_DIR" ]] || DATA_DIR="$(existing_dir_arg "$DATA_DIR" DATA_DIR)"
require_command python "activate the Python environment that has MindSpore"

# Created by the launcher once the table is found valid.
OUT="$(realpath -m "${OUTPUT_DIR:-$MODEL_DIR/output/distribute_train_ascend}")"
exec python -m zoo_core.runtime.rank_table_launch --rank_table "${POSITIONAL[0]}" --output_dir "$OUT" \
    ${SERVER_ID:+--server_id "$SERVER_ID"} --log_tail_lines "$LOG_TAIL_LINES" -- \
    python "$MODEL_DIR/train.py" --device_target Ascend ${DATA_DIR:+--data_dir "$DATA_DIR"} --output_dir "$OUT" \
    --resume auto ${EXTRA[@]+"${EXTRA[@]}"}
