#!/bin/bash
# CPU inference of an exported ResNeSt MINDIR over an ImageFolder tree, then top-1/top-5 accuracy.
#   bash scripts/run_infer_cpu.sh MINDIR_PATH DATA_PATH [NET]   (NET default: resnest50)
# Implemented once for all model folders in utils/scripts/run_infer_cpu.sh; -h prints the usage.
set -euo pipefail
MODEL_DIR="$(realpath "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/..")"
DEFAULT_NET=resnest50
exec bash "$MODEL_DIR/../utils/scripts/run_infer_cpu.sh" "$MODEL_DIR" "$DEFAULT_NET" "$@"
