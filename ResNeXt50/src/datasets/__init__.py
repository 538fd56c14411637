"""ResNeXt's data recipe: the MindSpore ModelZoo's ResNeXt50 uses the zoo's ImageNet defaults as they are
(`zoo_core.data.recipe`: random resized crop 224, flip, colour jitter 0.4, eval resize 256 / crop 224,
bilinear, ImageNet mean/std; no automatic augmentation, no mixup).

The pipelines that apply it are shared: `zoo_core.data.dataset`.
"""
from zoo_core.data.recipe import DATA_DEFAULTS

DATA_RECIPE = dict(DATA_DEFAULTS)
