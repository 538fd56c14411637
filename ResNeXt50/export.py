"""Export a ResNeXt checkpoint to MINDIR, ONNX or AIR (`--ckpt_path CKPT --file_format F`), run an exported MINDIR
over an image folder (`--run_mindir M --data_path D`), or print a variant's eval preprocessing
(`--preprocessing`). `--help` lists the options; `zoo_core.deploy.export` says what each format allows.
"""
import sys

from zoo_core.deploy.export import main
from zoo_resnext.family import FAMILY

if __name__ == '__main__':
    sys.exit(main(FAMILY))
