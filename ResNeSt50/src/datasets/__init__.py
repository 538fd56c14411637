"""ResNeSt's data recipe (Zhang et al., 2020, Sec. 5.1): the zoo's ImageNet defaults
(`zoo_core.data.recipe`: random resized crop 224, flip, colour jitter 0.4, eval resize 256 / crop 224,
bilinear, ImageNet mean/std) with AutoAugment's ImageNet policy and mixup 0.2.

The pipelines that apply it are shared: `zoo_core.data.dataset`.
"""
from zoo_core.data.recipe import DATA_DEFAULTS

DATA_RECIPE = dict(DATA_DEFAULTS, autoaugment='autoaugment', mixup=0.2)
