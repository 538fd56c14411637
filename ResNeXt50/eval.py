"""Evaluate ResNeXt checkpoints: `python eval.py --ckpt_path FILE_OR_DIR [--data_dir D] [--key value ...]`,
or reference weights: `python eval.py --pretrained FILE --net NAME --data_dir D`.

Reports top-1/top-5 over the whole validation set and writes <output_dir>/eval_result.json.
"""
import sys

from zoo_core.engine.evaluate import main
from zoo_resnext.family import FAMILY

if __name__ == '__main__':
    sys.exit(main(FAMILY))
