"""Random erasing (Zhong et al., 2020; timm's and mindcv's `--reprob` / `re_prob`) with MindSpore's op.

`vision.RandomErasing` works on a CHW array, so it runs after normalisation and HWC2CHW, per image and
before batch mixing, where timm applies it. With `value='random'` it fills the box with per-pixel
standard-normal noise, which in normalised space is timm's default `mode='pixel'`. What differs from timm:
the box's aspect ratio is drawn uniformly in [0.3, 3.3] (timm: log-uniform in [0.3, 1/0.3]); timm's
`recount` (several boxes) and `mode='const'` are not offered. mindcv fills with 0 (its `re_value`).

A pipeline that ends in uint8 CHW (normalisation in the graph) must not erase with normal noise: the
noise only means "pixel" noise after normalisation.
"""
import mindspore.dataset.vision as vision

ERASE_SCALE = (0.02, 1.0 / 3.0)    # area fraction of the box, timm's and the paper's
ERASE_RATIO = (0.3, 3.3)           # aspect ratio, MindSpore's default (timm: 0.3 .. 1/0.3)
ERASE_ATTEMPTS = 10
ERASE_FILL = 'random'              # per-pixel N(0, 1) noise


def random_erasing_ops(probability):
    """[`vision.RandomErasing`] applied with `probability` to float CHW images ([] for 0)."""
    if probability <= 0:
        return []
    return [vision.RandomErasing(prob=probability, scale=ERASE_SCALE, ratio=ERASE_RATIO, value=ERASE_FILL,
                                 max_attempts=ERASE_ATTEMPTS)]
