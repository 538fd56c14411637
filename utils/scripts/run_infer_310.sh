#!/bin/bash
# Ascend 310 inference of an exported MINDIR over an ImageFolder tree, then top-1/top-5 accuracy: the
# implementation behind a model folder's scripts/run_infer_310.sh, which calls
#   bash utils/scripts/run_infer_310.sh MODEL_DIR --as SCRIPT_NAME ARGUMENTS MINDIR_PATH DATA_PATH DEVICE_ID [NET]
# (common.sh describes --as; run directly, it takes the same without --as SCRIPT_NAME ARGUMENTS.)
# It builds the model folder's ascend310_infer/ (the shared C++ of utils/ascend310_infer/), runs it, and
# scores the results with the model folder's create_imagenet2012_label.py and postprocess.py.
set -euo pipefail
source "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/common.sh"

usage() {
    usage_line
    cat << EOF
  MINDIR_PATH  network exported for one image: python export.py --ckpt_path CKPT --file_format MINDIR --batch_size 1
  DATA_PATH    ImageFolder tree DATA_PATH/<class>/<image>, e.g. the ImageNet val/ folder
  DEVICE_ID    Ascend device index, a non-negative integer
  NET          the exported variant (default: the one export.py recorded in MINDIR_PATH.json beside the
               MINDIR, with its run's eval preprocessing; else the model's default network, with its
               published preprocessing: export.py --preprocessing)
Environment (optional):
  CROP_PCT       center-crop fraction, overriding the variant's
  INTERPOLATION  resize interpolation, bilinear or bicubic, overriding the variant's
  ASCEND_HOME    Ascend software folder (default /usr/local/Ascend), set up when it exists
  MS_LITE_HOME   MindSpore Lite folder to build against (default: the installed mindspore package)
Writes into the current folder: result_Files/, time_Result/, infer.log, imagenet_label.json, acc.log.
EOF
}

parse_script_args "MINDIR_PATH DATA_PATH DEVICE_ID [NET]" 3 1 no-options "$@"
MINDIR_PATH="$(existing_file_arg "${POSITIONAL[0]}" MINDIR_PATH)"
DATA_PATH="$(existing_dir_arg "${POSITIONAL[1]}" DATA_PATH)"
DEVICE_ID="$(device_id_arg "${POSITIONAL[2]}")"
NET="${POSITIONAL[3]:-}"
require_command python "activate the Python environment that has MindSpore"

# The variant's eval preprocessing, one line "INPUT_SIZE CROP_PCT INTERPOLATION" (e.g. "224 0.875 bilinear").
preprocessing="$(python "$MODEL_DIR/export.py" --preprocessing "$MINDIR_PATH" ${NET:+--net "$NET"})" ||
    fail "python $MODEL_DIR/export.py --preprocessing $MINDIR_PATH${NET:+ --net $NET} failed; nothing was started"
read -r INPUT_SIZE NET_CROP_PCT NET_INTERPOLATION <<< "$preprocessing"
[[ -n "$NET_INTERPOLATION" ]] ||
    fail "export.py --preprocessing printed '$preprocessing', not INPUT_SIZE CROP_PCT INTERPOLATION"
CROP_PCT="${CROP_PCT:-$NET_CROP_PCT}"
INTERPOLATION="${INTERPOLATION:-$NET_INTERPOLATION}"
ASCEND_HOME=${ASCEND_HOME:-/usr/local/Ascend}

if [ -f "$ASCEND_HOME/ascend-toolkit/set_env.sh" ]; then
    # CANN's environment script reads variables that may be unset.
    set +u
    # shellcheck disable=SC1091
    source "$ASCEND_HOME/ascend-toolkit/set_env.sh"
    set -u
elif [ -d "$ASCEND_HOME" ]; then
    # An inference-only install (nnrt/acllib) without set_env.sh.
    export LD_LIBRARY_PATH="$ASCEND_HOME/acllib/lib64:$ASCEND_HOME/driver/lib64:$ASCEND_HOME/add-ons:${LD_LIBRARY_PATH:-}"
    export ASCEND_OPP_PATH="$ASCEND_HOME/opp"
fi
if [ -n "${MS_LITE_HOME:-}" ]; then
    export LD_LIBRARY_PATH="$MS_LITE_HOME/runtime/lib:$MS_LITE_HOME/tools/converter/lib:${LD_LIBRARY_PATH:-}"
fi

echo "building the inference program"
bash "$MODEL_DIR/ascend310_infer/build.sh"

echo "inference of $MINDIR_PATH (${NET:-the default network}: input $INPUT_SIZE, crop_pct $CROP_PCT," \
    "$INTERPOLATION) over $DATA_PATH on device $DEVICE_ID (log: infer.log)"
rm -rf result_Files time_Result
mkdir -p result_Files time_Result
if ! "$MODEL_DIR/ascend310_infer/out/main" --mindir_path="$MINDIR_PATH" --dataset_path="$DATA_PATH" \
        --device_id="$DEVICE_ID" --crop_pct="$CROP_PCT" --interpolation="$INTERPOLATION" \
        --result_dir=result_Files --time_dir=time_Result &> infer.log; then
    fail "inference failed, see infer.log"
fi
cat time_Result/test_perform_static.txt

python "$MODEL_DIR/create_imagenet2012_label.py" --img_path "$DATA_PATH" --output imagenet_label.json
python "$MODEL_DIR/postprocess.py" --result_path result_Files --label_path imagenet_label.json | tee acc.log
