"""Top-1/top-5 accuracy of ResNeXt offline inference results (Ascend 310 or `export.py --run_mindir`).

    python postprocess.py --result_path result_Files --label_path imagenet_label.json
"""
import sys

from zoo_core.deploy.postprocess import main
from zoo_resnext.family import FAMILY

if __name__ == '__main__':
    sys.exit(main(FAMILY))
