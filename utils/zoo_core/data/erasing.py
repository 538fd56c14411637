"""Random erasing (Zhong et al., 2020; timm's and mindcv's `--reprob` / `re_prob`), per image, with the run's
own seeded generator.

The pipelines end in uint8 CHW (the network normalises in the graph), so the box is filled with the mean
pixel: that is mindcv's default (`re_value=0` after normalisation is the mean colour), to the rounding of
the mean to whole pixel values. It runs per image after HWC2CHW and before batch mixing, where timm and
mindcv apply it. The box: area uniform in `ERASE_SCALE` of the image, aspect ratio log-uniform in
`ERASE_RATIO` (timm's), up to `ERASE_ATTEMPTS` draws until it fits.

Why not MindSpore's `vision.RandomErasing`: it is a Python op that draws from the process's shared `random`
module, so with several pipeline workers (threads) which image gets which draw depends on thread timing,
and a `--deterministic` run of mindcv's recipe was not repeatable (docs/REPRODUCIBILITY.md). This op owns a
generator seeded by the run's seed and rank, and the pipeline runs it in a map of its own with one worker,
so its draws follow the sample order.

What differs from timm: timm's default `mode='pixel'` fills with per-pixel normal noise in normalised
space, which a uint8 image cannot hold; timm's `recount` (several boxes) is not offered.
"""
import math

import numpy as np

ERASE_SCALE = (0.02, 1.0 / 3.0)    # area fraction of the box, timm's and the paper's
ERASE_RATIO = (0.3, 1.0 / 0.3)     # aspect ratio (height / width), timm's
ERASE_ATTEMPTS = 10


class RandomErasing:
    """A `Dataset.map` operation on one uint8 CHW image: with `probability`, a box of it is set to `fill`.

    Args:
        fill: the uint8 RGB of the box (the mean pixel, `autoaug.mean_fill`).
        seed: seed of the op's own generator (the run's seed and rank).
    """

    def __init__(self, probability: float, fill, seed=0):
        self.probability = probability
        self.fill = np.asarray(fill, dtype=np.uint8).reshape(-1, 1, 1)
        self.rng = np.random.default_rng(seed)

    def box(self, height: int, width: int):
        """(top, left, box height, box width) of a box that fits, or None after `ERASE_ATTEMPTS` misses."""
        log_ratio = (math.log(ERASE_RATIO[0]), math.log(ERASE_RATIO[1]))
        for _ in range(ERASE_ATTEMPTS):
            area = self.rng.uniform(*ERASE_SCALE) * height * width
            ratio = math.exp(self.rng.uniform(*log_ratio))
            box_height, box_width = int(round(math.sqrt(area * ratio))), int(round(math.sqrt(area / ratio)))
            if box_height < height and box_width < width:
                top = int(self.rng.integers(0, height - box_height + 1))
                left = int(self.rng.integers(0, width - box_width + 1))
                return top, left, box_height, box_width
        return None

    def __call__(self, image):
        if self.rng.random() >= self.probability:
            return image
        found = self.box(image.shape[-2], image.shape[-1])
        if found is None:
            return image
        top, left, box_height, box_width = found
        erased = np.array(image, copy=True)
        erased[:, top:top + box_height, left:left + box_width] = self.fill
        return erased


def random_erasing_ops(probability: float, fill, seed=0) -> list:
    """[`RandomErasing`] applied with `probability` to uint8 CHW images, filling the box with the uint8 RGB
    `fill`; [] for probability 0. Run it in a map with one worker (its draws then follow the sample order)."""
    if probability <= 0:
        return []
    return [RandomErasing(probability, fill, seed)]
