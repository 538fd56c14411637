#!/bin/bash
# Ascend 310 inference of an exported MINDIR over an ImageFolder tree, then top-1/top-5 accuracy: the
# implementation behind a model folder's scripts/run_infer_310.sh, which calls
#   bash utils/scripts/run_infer_310.sh MODEL_DIR MINDIR_PATH DATA_PATH DEVICE_ID
# It builds the model folder's ascend310_infer/ (the shared C++ of utils/ascend310_infer/), runs it, and
# scores the results with the model folder's create_imagenet2012_label.py and postprocess.py.
set -euo pipefail

MODEL_NAME="<model folder>"

usage() {
    cat <<USAGE
usage: bash $MODEL_NAME/scripts/run_infer_310.sh MINDIR_PATH DATA_PATH DEVICE_ID
  MINDIR_PATH  network exported for one image: python export.py --ckpt_file CKPT --file_format MINDIR --batch_size 1
  DATA_PATH    ImageFolder tree DATA_PATH/<class>/<image>, e.g. the ImageNet val/ folder
  DEVICE_ID    Ascend device index, a non-negative integer
Environment (optional):
  CROP_PCT       center-crop fraction of the variant (default 0.875; resnest200: 0.909, resnest269: 0.928)
  INTERPOLATION  bilinear (default) or bicubic (resnest200, resnest269)
  ASCEND_HOME    Ascend software folder (default /usr/local/Ascend), set up when it exists
  MS_LITE_HOME   MindSpore Lite folder to build against (default: the installed mindspore package)
Writes into the current folder: result_Files/, time_Result/, infer.log, imagenet_label.json, acc.log.
USAGE
}

# usage_error MESSAGE: the message and the usage on stderr, exit status 2 (nothing has been started).
usage_error() {
    echo "error: $*" >&2
    usage >&2
    exit 2
}

(($# >= 1)) && [ -d "$1" ] || usage_error "expects MODEL_DIR first (it is called by a model folder's scripts/run_infer_310.sh)"
MODEL_DIR=$(realpath "$1")
MODEL_NAME=$(basename "$MODEL_DIR")
shift
case "${1:-}" in
    -h | --help) usage; exit 0 ;;
esac
[ $# -eq 3 ] || usage_error "expected 3 arguments, got $#"
[ -f "$1" ] || usage_error "MINDIR_PATH is not a file: '$1'"
[ -d "$2" ] || usage_error "DATA_PATH is not a folder: '$2'"
[[ "$3" =~ ^[0-9]+$ ]] || usage_error "DEVICE_ID must be a non-negative integer, got '$3'"

MINDIR_PATH=$(realpath "$1")
DATA_PATH=$(realpath "$2")
DEVICE_ID=$3
CROP_PCT=${CROP_PCT:-0.875}
INTERPOLATION=${INTERPOLATION:-bilinear}
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

echo "inference of $MINDIR_PATH over $DATA_PATH on device $DEVICE_ID (log: infer.log)"
rm -rf result_Files time_Result
mkdir -p result_Files time_Result
if ! "$MODEL_DIR/ascend310_infer/out/main" --mindir_path="$MINDIR_PATH" --dataset_path="$DATA_PATH" \
        --device_id="$DEVICE_ID" --crop_pct="$CROP_PCT" --interpolation="$INTERPOLATION" \
        --result_dir=result_Files --time_dir=time_Result &> infer.log; then
    echo "error: inference failed, see infer.log" >&2
    exit 1
fi
cat time_Result/test_perform_static.txt

python "$MODEL_DIR/create_imagenet2012_label.py" --img_path "$DATA_PATH" --output imagenet_label.json
python "$MODEL_DIR/postprocess.py" --result_path result_Files --label_path imagenet_label.json | tee acc.log
