"""The zoo's default data recipe: ImageNet training and evaluation as torchvision and timm do them.

Random resized crop to 224 (scale from 0.08), flip, colour jitter 0.4, no automatic augmentation and
no mixing; evaluation resizes the shorter side to 224 / 0.875 = 256 (bilinear) and center-crops 224;
ImageNet's mean and standard deviation. A model folder's `src/datasets/` states what it changes.
"""
from zoo_core.models.registry import IMAGENET_MEAN, IMAGENET_STD

DATA_DEFAULTS = dict(
    image_size=224,
    crop_pct=0.875,             # eval: resize the shorter side to image_size / crop_pct, center crop
    interpolation='bilinear',   # bilinear | bicubic | nearest
    eval_resize='auto',         # pil (the reference's pixels) | fast (C++ ops) | auto: pil for --pretrained
    crop_scale_min=0.08,        # random resized crop: smallest area fraction
    color_jitter=0.4,           # brightness, contrast and saturation (0: off)
    autoaugment='none',         # autoaugment | randaugment | trivialaugment | none | rand-m9-mstd0.5-inc1 ...
    reprob=0.0,                 # random erasing probability (0: off)
    aug_repeats=1,              # repeated augmentation: copies of each image per epoch, on different ranks
    mixup=0.0,                  # Beta(alpha, alpha) of batch mixup (0: off)
    cutmix=0.0,                 # Beta(alpha, alpha) of batch CutMix (0: off)
    mean=list(IMAGENET_MEAN),
    std=list(IMAGENET_STD),
)
