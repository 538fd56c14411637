"""Random erasing (Zhong et al., 2020; timm's and mindcv's `--reprob` / `re_prob`) with MindSpore's op.

The pipelines end in uint8 CHW (the network normalises in the graph), so the box is filled with the mean
pixel: that is mindcv's default (`re_value=0` after normalisation is the mean colour), to the rounding of
the mean to whole pixel values. `vision.RandomErasing` runs per image after HWC2CHW and before batch
mixing, where timm and mindcv apply it.

What differs from timm: timm's default `mode='pixel'` fills with per-pixel normal noise in normalised
space, which a uint8 image cannot hold (MindSpore's `value='random'` on uint8 writes 0, 1, 254 and 255);
the box's aspect ratio is drawn uniformly in [0.3, 3.3] (timm: log-uniform in [0.3, 1/0.3]); timm's
`recount` (several boxes) is not offered.
"""
import mindspore.dataset.vision as vision

ERASE_SCALE = (0.02, 1.0 / 3.0)    # area fraction of the box, timm's and the paper's
ERASE_RATIO = (0.3, 3.3)           # aspect ratio, MindSpore's default (timm: 0.3 .. 1/0.3)
ERASE_ATTEMPTS = 10


def random_erasing_ops(probability, fill):
    """[`vision.RandomErasing`] applied with `probability` to uint8 CHW images, filling the box with the
    uint8 RGB `fill` (the mean pixel, `autoaug.mean_fill`); [] for probability 0."""
    if probability <= 0:
        return []
    return [vision.RandomErasing(prob=probability, scale=ERASE_SCALE, ratio=ERASE_RATIO, value=tuple(fill),
                                 max_attempts=ERASE_ATTEMPTS)]
