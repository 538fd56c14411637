#!/bin/bash
# CPU inference of an exported MINDIR over an ImageFolder tree, then top-1/top-5 accuracy: the same result
# files and scoring as the Ascend 310 path, runnable anywhere. The implementation behind a model folder's
# scripts/run_infer_cpu.sh, which calls
#   bash utils/scripts/run_infer_cpu.sh MODEL_DIR DEFAULT_NET MINDIR_PATH DATA_PATH [NET]
set -euo pipefail

MODEL_NAME="<model folder>"
DEFAULT_NET="<the model's default network>"

usage() {
    cat <<USAGE
usage: bash $MODEL_NAME/scripts/run_infer_cpu.sh MINDIR_PATH DATA_PATH [NET]
  MINDIR_PATH  network exported with: python export.py --ckpt_file CKPT --file_format MINDIR [--dynamic_batch]
  DATA_PATH    ImageFolder tree DATA_PATH/<class>/<image>, e.g. the ImageNet val/ folder
  NET          the exported variant, whose eval preprocessing is applied (default $DEFAULT_NET)
Writes into the current folder: result_Files/, imagenet_label.json, acc.log.
USAGE
}

# usage_error MESSAGE: the message and the usage on stderr, exit status 2 (nothing has been started).
usage_error() {
    echo "error: $*" >&2
    usage >&2
    exit 2
}

(($# >= 2)) && [ -d "$1" ] || usage_error "expects MODEL_DIR and DEFAULT_NET first (it is called by a model folder's scripts/run_infer_cpu.sh)"
MODEL_DIR=$(realpath "$1")
MODEL_NAME=$(basename "$MODEL_DIR")
DEFAULT_NET=$2
shift 2
case "${1:-}" in
    -h | --help) usage; exit 0 ;;
esac
[ $# -eq 2 ] || [ $# -eq 3 ] || usage_error "expected 2 or 3 arguments, got $#"
[ -f "$1" ] || usage_error "MINDIR_PATH is not a file: '$1'"
[ -d "$2" ] || usage_error "DATA_PATH is not a folder: '$2'"

MINDIR_PATH=$(realpath "$1")
DATA_PATH=$(realpath "$2")
NET=${3:-$DEFAULT_NET}

rm -rf result_Files
python "$MODEL_DIR/export.py" --run_mindir "$MINDIR_PATH" --net "$NET" --data_path "$DATA_PATH" \
    --result_path result_Files --device_target CPU
python "$MODEL_DIR/create_imagenet2012_label.py" --img_path "$DATA_PATH" --output imagenet_label.json
python "$MODEL_DIR/postprocess.py" --result_path result_Files --label_path imagenet_label.json | tee acc.log
