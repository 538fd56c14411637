"""Classify images with ResNeXt weights: `python predict.py (--pretrained FILE | --ckpt_path CKPT | --model
FILE.mindir/.onnx) [--net NAME] [--topk 5] [--output out.json|out.csv] IMAGE_OR_FOLDER...`.

Prints each image's top-k classes with names and probabilities; the weights' eval preprocessing and class
names come with them (see `zoo_core.deploy.predict`).
"""
import sys

from zoo_core.deploy.predict import main
from zoo_resnext.family import FAMILY

if __name__ == '__main__':
    sys.exit(main(FAMILY))
