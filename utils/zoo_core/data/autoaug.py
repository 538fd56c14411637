"""Which automatic augmentation policy a recipe uses; the ops themselves are `mindspore.dataset.vision`'s."""
import mindspore.dataset.vision as vision

from zoo_core.runtime.config import ConfigError

POLICIES = ('autoaugment', 'randaugment', 'trivialaugment', 'none')
RANDAUGMENT_OPS = 2
RANDAUGMENT_MAGNITUDE = 9


def augmentation_ops(policy):
    """The list of vision ops for `policy` (applied to uint8 HWC images after the random crop)."""
    if policy == 'autoaugment':
        return [vision.AutoAugment(vision.AutoAugmentPolicy.IMAGENET)]
    if policy == 'randaugment':
        return [vision.RandAugment(num_ops=RANDAUGMENT_OPS, magnitude=RANDAUGMENT_MAGNITUDE)]
    if policy == 'trivialaugment':
        return [vision.TrivialAugmentWide()]
    if policy in ('none', '', None):
        return []
    raise ConfigError(f"unknown augmentation policy {policy!r}; choose from {', '.join(POLICIES)}")
