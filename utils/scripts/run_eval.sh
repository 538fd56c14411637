#!/bin/bash
# Evaluation on one device, in the foreground: the implementation behind a model folder's
# scripts/run_eval.sh (Ascend), scripts/run_eval_gpu.sh and scripts/run_eval_cpu.sh, which call
#   bash utils/scripts/run_eval.sh MODEL_DIR --as SCRIPT_NAME ARGUMENTS CPU|GPU|Ascend OUT_DIR CKPT [DATA_DIR] [--key value ...]
# (common.sh describes --as; run directly, it takes the same without --as SCRIPT_NAME ARGUMENTS.)
set -euo pipefail
source "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/common.sh"

usage() {
    usage_line
    cat << EOF
  OUT_DIR       folder for eval.py's results (JSON, log) and console.log; created if missing
  CKPT          checkpoint file, or a folder of checkpoints
  DATA_DIR      ImageFolder dataset with val/ ("" or omitted: the built-in demo dataset)
  --key value   any eval.py option, passed through (e.g. --net resnest50 --batch_size 64)
The device is \$DEVICE_ID (default 0) on GPU and Ascend.
EOF
}

parse_script_args --target "OUT_DIR CKPT [DATA_DIR] [--key value ...]" 2 1 options "$@"

[[ -n "${POSITIONAL[0]}" ]] || usage_error "OUT_DIR is empty"
[[ ! -e "${POSITIONAL[0]}" || -d "${POSITIONAL[0]}" ]] || usage_error "OUT_DIR exists and is not a folder: '${POSITIONAL[0]}'"
CKPT="$(existing_path_arg "${POSITIONAL[1]}" CKPT)"
DATA_DIR="${POSITIONAL[2]:-}"
[[ -z "$DATA_DIR" ]] || DATA_DIR="$(existing_dir_arg "$DATA_DIR" DATA_DIR)"
require_command python "activate the Python environment that has MindSpore"
require_backend "$TARGET"

mkdir -p "${POSITIONAL[0]}"
OUT="$(realpath "${POSITIONAL[0]}")"
clear_distributed_env
echo "evaluating $CKPT on $TARGET with ${DATA_DIR:-the demo dataset}; results and console.log in $OUT"
cd "$OUT"
python "$MODEL_DIR/eval.py" --device_target "$TARGET" --ckpt_path "$CKPT" ${DATA_DIR:+--data_dir "$DATA_DIR"} \
    --output_dir "$OUT" ${EXTRA[@]+"${EXTRA[@]}"} 2>&1 | tee "$OUT/console.log"
