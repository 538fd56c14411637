"""The zoo's data settings, declared once: ImageNet training and evaluation as torchvision and timm do them.

Random resized crop to 224 (scale from 0.08), flip, colour jitter 0.4, no automatic augmentation and
no mixing; evaluation resizes the shorter side to 224 / 0.875 = 256 (bilinear) and center-crops 224;
ImageNet's mean and standard deviation. A model folder's `src/datasets/` states what its recipe changes.
"""
from zoo_core.models.registry import IMAGENET_MEAN, IMAGENET_STD
from zoo_core.runtime.config import REQUIRED, Setting, declare, declared_defaults

# The settings of the data a run reads and how it is augmented (assembled by zoo_core.engine.settings).
DATA_SETTINGS = declare(
    __name__,
    Setting('batch_size', REQUIRED, 'images per device and step', 'ModelZoo', kind=int),
    Setting('image_size', 224, 'training crop and evaluation size', 'paper', eval=True),
    Setting('crop_pct', 0.875, 'evaluation: resize the shorter side to image_size / crop_pct, center crop', 'timm',
            eval=True),
    Setting('interpolation', 'bilinear', 'resize filter: bilinear, bicubic, nearest', 'torchvision', eval=True),
    Setting('eval_resize', 'auto', "pil (the published weights' exact pixels), fast (C++ ops), auto: pil for "
            "--pretrained", 'zoo', eval=True),
    Setting('crop_scale_min', 0.08, 'random resized crop: smallest area fraction', 'torchvision'),
    Setting('color_jitter', 0.4, 'brightness, contrast and saturation jitter (0: off)', 'timm'),
    Setting('autoaugment', 'none', "autoaugment (AutoAugment's ImageNet policy), randaugment, trivialaugment, "
            "none, or a timm RandAugment policy string: rand-m9-mstd0.5-inc1, rand-m9-n3 (m magnitude 0-10, n ops, "
            "mstd magnitude noise, mmax, inc1, p op probability)", 'ModelZoo'),
    Setting('mixup', 0.0, 'Beta(alpha, alpha) of batch mixup (0: off)', 'ModelZoo'),
    Setting('cutmix', 0.0, 'Beta(alpha, alpha) of batch CutMix (0: off)', 'timm'),
    Setting('reprob', 0.0, 'random erasing probability per image, the box filled with the mean pixel (0: off)',
            'timm'),
    Setting('aug_repeats', 1, "repeated augmentation (timm's RepeatAugSampler): each image R times per epoch, its "
            "copies on different ranks; the epoch keeps its length; 1: off", 'timm'),
    Setting('mean', list(IMAGENET_MEAN), 'per-channel mean (of 0-1 pixels)', 'torchvision', eval=True),
    Setting('std', list(IMAGENET_STD), 'per-channel standard deviation', 'torchvision', eval=True),
    Setting('data_dir', '', 'ImageFolder root with train/<class>/<image> and val/<class>/<image>, or a MindRecord '
            'folder; empty: the built-in demo dataset', 'zoo', eval=True),
    Setting('dataset_format', 'auto', 'imagefolder: data_dir is an ImageFolder tree; mindrecord: a folder written '
            'by utils/to_mindrecord.py; auto: mindrecord when data_dir has its mindrecord.json', 'zoo', eval=True),
    Setting('num_parallel_workers', 'auto', "data pipeline workers per rank: 'auto' (this host's cores / its "
            "ranks) or a count (clamped to the cores)", 'mindcv', eval=True),
    Setting('eval_batch_size', 64, 'evaluation batch', 'zoo', eval=True),
    Setting('strict_data', False, 'true: the first bad image file is an error; false: each is named in a warning, '
            'left out and counted', 'zoo', eval=True),
)
# {key: the zoo's value} of the data settings that have one, for code that builds a pipeline without a run.
DATA_DEFAULTS = declared_defaults(DATA_SETTINGS)
