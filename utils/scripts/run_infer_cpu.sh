#!/bin/bash
# CPU inference of an exported MINDIR over an ImageFolder tree, then top-1/top-5 accuracy: the same result
# files and scoring as the Ascend 310 path, runnable anywhere. The implementation behind a model folder's
# scripts/run_infer_cpu.sh, which calls
#   bash utils/scripts/run_infer_cpu.sh MODEL_DIR --as SCRIPT_NAME ARGUMENTS MINDIR_PATH DATA_PATH [NET]
# (common.sh describes --as; run directly, it takes the same without --as SCRIPT_NAME ARGUMENTS.)
set -euo pipefail
source "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/common.sh"

usage() {
    usage_line
    cat << EOF
  MINDIR_PATH  network exported with: python export.py --ckpt_path CKPT --file_format MINDIR [--dynamic_batch]
  DATA_PATH    ImageFolder tree DATA_PATH/<class>/<image>, e.g. the ImageNet val/ folder
  NET          the exported variant (default: the one export.py recorded in MINDIR_PATH.json beside the
               MINDIR, with its run's eval preprocessing; else the model's default network)
Writes into the current folder: result_Files/, imagenet_label.json, acc.log.
EOF
}

parse_script_args "MINDIR_PATH DATA_PATH [NET]" 2 1 no-options "$@"
MINDIR_PATH="$(existing_file_arg "${POSITIONAL[0]}" MINDIR_PATH)"
# This path runs MindSpore's exported graphs; ONNX files are run by predict.py (onnxruntime).
if [[ "${MINDIR_PATH,,}" == *.onnx ]]; then
    echo "error: $MINDIR_PATH is an ONNX file and this script runs MINDIR files (export.py --file_format MINDIR); for an ONNX model: python $MODEL_NAME/predict.py --model $MINDIR_PATH IMAGES" >&2
    exit 2
fi
DATA_PATH="$(existing_dir_arg "${POSITIONAL[1]}" DATA_PATH)"
NET="${POSITIONAL[2]:-}"
require_command python "activate the Python environment that has MindSpore"

rm -rf result_Files
python "$MODEL_DIR/export.py" --run_mindir "$MINDIR_PATH" ${NET:+--net "$NET"} --data_path "$DATA_PATH" \
    --result_path result_Files --device_target CPU
python "$MODEL_DIR/create_imagenet2012_label.py" --img_path "$DATA_PATH" --output imagenet_label.json
python "$MODEL_DIR/postprocess.py" --result_path result_Files --label_path imagenet_label.json | tee acc.log
