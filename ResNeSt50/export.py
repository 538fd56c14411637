"""Export a ResNeSt checkpoint to MINDIR, ONNX or AIR, or run an exported MINDIR over an image folder.

    python export.py --ckpt_file CKPT [--net resnest50] [--file_format MINDIR|ONNX|AIR] [--batch_size 1]
                     [--dynamic_batch] [--image_size N] [--num_classes N] [--file_name NAME]
    python export.py --run_mindir NAME.mindir --data_path VAL_DIR [--result_path result_Files]

See `zoo_core.deploy.export` for the options and what each format allows.
"""
from zoo_core.deploy.export import main
from zoo_resnest.models.resnest import REGISTRY

DEFAULT_NET = 'resnest50'

if __name__ == '__main__':
    main(REGISTRY, DEFAULT_NET)
