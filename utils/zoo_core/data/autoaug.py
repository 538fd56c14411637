"""Which automatic augmentation policy a recipe uses; the ops themselves are `mindspore.dataset.vision`'s.

`--autoaugment` takes a name or a timm policy string:
- `autoaugment`: AutoAugment's ImageNet policy; `trivialaugment`: TrivialAugmentWide; `none`;
- `randaugment`: torchvision's RandAugment as MindSpore ships it (2 ops, magnitude 9 of 31 bins, every op
  applied);
- a policy string in timm's grammar (`rand-m9-mstd0.5-inc1`, `rand-m9-n3`, mindcv's `randaug-...`; see
  `zoo_core.data.policy_string`), mapped onto `vision.RandAugment` as timm applies it: each of the n ops
  is one `RandAugment(num_ops=1)` op (drawn uniformly, with replacement) inside `transforms.RandomApply`
  with timm's probability p; the level is timm's m / 10 (`num_magnitude_bins` of 10 steps per unit of m,
  so m9.5 is exact); with `mstd` each op draws its magnitude around m (Gaussian, clipped to [0, mmax];
  uniform in [0, m] above mstd100), a C++ `RandomChoice` over the distribution's quantiles
  (`noisy_magnitude_op`); geometric ops fill with the mean pixel, as timm's do.

What remains different from timm: MindSpore's op set is torchvision's (Identity, ShearX/Y, TranslateX/Y,
Rotate, Brightness, Color, Contrast, Sharpness, Posterize, Solarize, AutoContrast, Equalize), whose
strength grows with the magnitude like timm's increasing ops (`inc1`); timm's set also has Invert and
SolarizeAdd and no Identity. timm's default `inc0` ops (e.g. an enhancement factor of 0.1..1.9 that is the
identity at m5) are not available: an `inc0` string runs the increasing ops, with a warning
(`policy_warnings`).
"""
from statistics import NormalDist

import mindspore.dataset.transforms as transforms
import mindspore.dataset.vision as vision

from zoo_core.data.policy_string import LEVEL_DENOMINATOR, is_policy_string, parse_rand_augment
from zoo_core.models.registry import IMAGENET_MEAN
from zoo_core.runtime.config import ConfigError

POLICIES = ('autoaugment', 'randaugment', 'trivialaugment', 'none')
RANDAUGMENT_OPS = 2
RANDAUGMENT_MAGNITUDE = 9
# Magnitude bins per unit of timm's magnitude: m is exact to 0.1.
MAGNITUDE_STEPS = 10
MAGNITUDE_BINS = int(LEVEL_DENOMINATOR * MAGNITUDE_STEPS) + 1
PIXEL_MAX = 255
# Equally likely magnitudes that stand for a noisy magnitude's distribution (`noisy_magnitudes`).
MAGNITUDE_QUANTILES = 100
POLICY_INTERPOLATION = vision.Inter.BILINEAR


def mean_fill(mean=IMAGENET_MEAN):
    """The mean pixel as uint8 RGB: what timm's geometric ops fill the uncovered area with."""
    return tuple(int(round(m * PIXEL_MAX)) for m in mean)


def magnitude_bin(magnitude):
    """The `num_magnitude_bins=MAGNITUDE_BINS` index of timm magnitude `magnitude` (0..10)."""
    return int(round(magnitude * MAGNITUDE_STEPS))


def single_op(magnitude_index, fill):
    """One RandAugment op, drawn uniformly, at bin `magnitude_index` of `MAGNITUDE_BINS`."""
    return vision.RandAugment(num_ops=1, magnitude=magnitude_index, num_magnitude_bins=MAGNITUDE_BINS,
                              interpolation=POLICY_INTERPOLATION, fill_value=fill)


def noisy_magnitudes(magnitude, std, magnitude_max, uniform, count=MAGNITUDE_QUANTILES):
    """`count` equally likely magnitudes that stand for timm's per-image draw: the quantiles at
    (k + 0.5) / count of a Gaussian around `magnitude` with `std`, clipped to [0, `magnitude_max`], or of
    the uniform distribution on [0, magnitude] when `uniform`."""
    levels = [(k + 0.5) / count for k in range(count)]
    if uniform:
        return [level * magnitude for level in levels]
    normal = NormalDist(magnitude, std)
    return [min(max(normal.inv_cdf(level), 0.0), magnitude_max) for level in levels]


def noisy_magnitude_op(magnitude, std, magnitude_max, uniform, fill):
    """One RandAugment op whose magnitude is drawn per image (timm's `mstd`), as a C++ `RandomChoice` over
    `noisy_magnitudes`: MindSpore seeds each pipeline worker's copy of a C++ random op, so the draws repeat
    under any thread timing, which a Python op drawing from a shared generator does not
    (docs/REPRODUCIBILITY.md). The distribution is the continuous one to within 1 / MAGNITUDE_QUANTILES of
    probability, at bins of 1 / MAGNITUDE_STEPS of magnitude."""
    bins = [magnitude_bin(value) for value in noisy_magnitudes(magnitude, std, magnitude_max, uniform)]
    ops = {index: single_op(index, fill) for index in set(bins)}
    return transforms.RandomChoice([ops[index] for index in bins])


def policy_string_ops(text, fill):
    """The ops of a timm RandAugment policy string (see the module docstring)."""
    spec = parse_rand_augment(text)
    layers = []
    for _ in range(spec.num_ops):
        if spec.magnitude_std > 0:
            op = noisy_magnitude_op(spec.magnitude, spec.magnitude_std, magnitude_max=spec.magnitude_max,
                                    uniform=spec.uniform_magnitude, fill=fill)
        else:
            op = single_op(magnitude_bin(spec.magnitude), fill)
        layers.append(op if spec.prob >= 1 else transforms.RandomApply([op], prob=spec.prob))
    return layers


def check_policy(policy):
    """Raise a `ConfigError` unless `policy` is a known name or a valid policy string."""
    augmentation_ops(policy)


def policy_warnings(policy):
    """Warnings (strings) about a policy that runs but differs from what its string means in timm."""
    if is_policy_string(policy) and not parse_rand_augment(policy).increasing:
        return [f"--autoaugment {policy}: timm's non-increasing ops (inc0, its default) have no MindSpore "
                f"counterpart; MindSpore's RandAugment ops (severity increasing with the magnitude, as inc1) are "
                f"used: add -inc1 to say so"]
    return []


def augmentation_ops(policy, fill=None):
    """The list of vision ops for `policy` (applied to uint8 HWC images after the random crop); `fill` is
    the uint8 RGB of the area that geometric ops uncover in policy strings (default: the ImageNet mean)."""
    if policy == 'autoaugment':
        return [vision.AutoAugment(vision.AutoAugmentPolicy.IMAGENET)]
    if policy == 'randaugment':
        return [vision.RandAugment(num_ops=RANDAUGMENT_OPS, magnitude=RANDAUGMENT_MAGNITUDE)]
    if policy == 'trivialaugment':
        return [vision.TrivialAugmentWide()]
    if policy in ('none', '', None):
        return []
    if is_policy_string(policy):
        return policy_string_ops(policy, fill or mean_fill())
    raise ConfigError(f"unknown autoaugment {policy!r}; choose from {', '.join(POLICIES)}, or a "
                      f"RandAugment policy string such as rand-m9-mstd0.5-inc1")
