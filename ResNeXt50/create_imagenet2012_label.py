"""Write imagenet_label.json: each image file name of an ImageFolder tree -> its class index.

    python create_imagenet2012_label.py --img_path VAL_DIR [--output imagenet_label.json]
"""
import sys

from zoo_core.deploy.postprocess import label_main
from zoo_resnext.family import FAMILY

if __name__ == '__main__':
    sys.exit(label_main(FAMILY))
