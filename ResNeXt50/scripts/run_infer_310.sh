#!/bin/bash
# Ascend 310 inference of an exported ResNeXt MINDIR over an ImageFolder tree, then top-1/top-5 accuracy.
#   bash scripts/run_infer_310.sh MINDIR_PATH DATA_PATH DEVICE_ID
# Implemented once for all model folders in utils/scripts/run_infer_310.sh; -h prints the usage.
set -euo pipefail
MODEL_DIR="$(realpath "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/..")"
exec bash "$MODEL_DIR/../utils/scripts/run_infer_310.sh" "$MODEL_DIR" "$@"
