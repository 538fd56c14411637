#!/bin/bash
# Training on one device, in the foreground: the implementation behind a model folder's
# scripts/run_train_cpu.sh, scripts/run_train_gpu.sh and scripts/run_train.sh (Ascend), which call
#   bash utils/scripts/run_train.sh MODEL_DIR --as SCRIPT_NAME ARGUMENTS CPU|GPU|Ascend [DATA_DIR] [DEVICE_ID] [--key value ...]
# (common.sh describes --as; run directly, it takes the same without --as SCRIPT_NAME ARGUMENTS.)
set -euo pipefail
source "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/common.sh"

usage() {
    usage_line
    cat << EOF
  DATA_DIR      ImageFolder dataset with train/ and val/ ("" or omitted where optional: the built-in demo dataset)
EOF
    # The CPU wrappers take no DEVICE_ID; the GPU and Ascend ones do.
    [[ "$SCRIPT_ARGUMENTS" != *DEVICE_ID* ]] || echo "  DEVICE_ID     device to train on (default: \$DEVICE_ID, else 0)"
    cat << EOF
  --key value   any train.py option, passed through (e.g. --epochs 2 --batch_size 32 --net resnest50)
Output (checkpoints, logs, console.log): \$OUTPUT_DIR, default <model folder>/output/train_<target>
A run continues where it stopped in its output folder (--resume auto, the default here; --resume '' starts anew).
EOF
}

parse_script_args --target "[DATA_DIR] [DEVICE_ID] [--key value ...]" 0 2 options "$@"
DATA_DIR="${POSITIONAL[0]:-}"
[[ -z "$DATA_DIR" ]] || DATA_DIR="$(existing_dir_arg "$DATA_DIR" DATA_DIR)"
if ((${#POSITIONAL[@]} > 1)); then
    DEVICE_ID="$(device_id_arg "${POSITIONAL[1]}")"
    export DEVICE_ID
fi
require_command python "activate the Python environment that has MindSpore"
require_backend "$TARGET"

OUT="$(output_dir_for "$MODEL_DIR" "train_${TARGET,,}")"
clear_distributed_env
echo "training $MODEL_NAME on $TARGET${DEVICE_ID:+ device $DEVICE_ID} with ${DATA_DIR:-the demo dataset}"
echo "output and console.log in $OUT"
# Run in the output folder: MindSpore writes compile artefacts (kernel_meta/, rank_*/) to the working folder.
cd "$OUT"
# --resume auto: a run killed or stopped in this output folder continues (train.py --help); tee ignores Ctrl-C
# so that it still shows how the stopped run continues.
# console.log keeps every run and resume of this folder, each after a separator line.
echo "===== $(date '+%Y-%m-%d %H:%M:%S') $USAGE_COMMAND ${POSITIONAL[*]:-} ${EXTRA[*]:-}" >> "$OUT/console.log"
python "$MODEL_DIR/train.py" --device_target "$TARGET" ${DATA_DIR:+--data_dir "$DATA_DIR"} --output_dir "$OUT" \
    --resume auto ${EXTRA[@]+"${EXTRA[@]}"} 2>&1 | tee -i -a "$OUT/console.log"
