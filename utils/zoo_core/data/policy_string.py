"""timm's RandAugment policy strings (`rand-m9-mstd0.5-inc1`, mindcv's `randaug-m9-mstd0.5-inc1`), parsed.

The grammar is timm's `rand_augment_transform`: a `rand` (or `randaug`) head, then `-`-separated
sections of a key and a number:

| key    | meaning                                                            | timm's default |
| ------ | ------------------------------------------------------------------ | -------------- |
| `m`    | magnitude, on timm's scale of 0..10 (level = m / 10)               | 10             |
| `n`    | ops per image                                                      | 2              |
| `mstd` | standard deviation of a Gaussian noise on the magnitude, per op    | 0              |
|        | (above 100: the magnitude is uniform in [0, m], timm's `inf`)      |                |
| `mmax` | upper bound of the noisy magnitude                                 | 10             |
| `inc`  | 1: the "increasing" ops (severity grows with the magnitude)        | 0              |
| `p`    | probability of applying each op                                    | 0.5            |

timm's `w` (op choice weights) has no MindSpore counterpart and is refused.
"""
import re
from dataclasses import dataclass

from zoo_core.runtime.config import ConfigError

POLICY_HEADS = ('rand', 'randaug')
LEVEL_DENOMINATOR = 10.0       # timm's _LEVEL_DENOM: magnitude 10 is the strongest level, 1.0
UNIFORM_STD_THRESHOLD = 100.0  # timm: an mstd above this means a uniform magnitude
SECTION = re.compile(r'^([a-z]+)(\d+(?:\.\d+)?)$')


@dataclass(frozen=True)
class RandAugmentSpec:
    """A parsed RandAugment policy string, with timm's defaults."""
    magnitude: float = LEVEL_DENOMINATOR
    num_ops: int = 2
    magnitude_std: float = 0.0
    magnitude_max: float = LEVEL_DENOMINATOR
    increasing: bool = False
    prob: float = 0.5

    @property
    def uniform_magnitude(self):
        """True when each op's magnitude is drawn uniformly from [0, magnitude] (timm's mstd > 100)."""
        return self.magnitude_std > UNIFORM_STD_THRESHOLD


def is_policy_string(text):
    """True for a string whose head is `rand` / `randaug` followed by sections (or nothing)."""
    return isinstance(text, str) and text.split('-', 1)[0] in POLICY_HEADS


def parse_rand_augment(text):
    """The `RandAugmentSpec` of `text`; a `ConfigError` naming the bad section otherwise."""
    head, *sections = text.split('-')
    if head not in POLICY_HEADS:
        raise ConfigError(f"{text!r} is not a RandAugment policy string (it starts with {' or '.join(POLICY_HEADS)})")
    values = {}
    for section in sections:
        match = SECTION.match(section)
        if not match:
            raise ConfigError(f"policy {text!r}: cannot read section {section!r} (expected a key and a number, "
                              f"e.g. m9, n2, mstd0.5, mmax10, inc1, p0.5)")
        key, number = match.group(1), float(match.group(2))
        if key not in _SETTERS:
            raise ConfigError(f"policy {text!r}: unknown key {key!r} in {section!r}; known: {', '.join(_SETTERS)}")
        values[_SETTERS[key][0]] = _SETTERS[key][1](text, number)
    spec = RandAugmentSpec(**values)
    if spec.magnitude > spec.magnitude_max:
        raise ConfigError(f"policy {text!r}: magnitude {spec.magnitude:g} is above mmax {spec.magnitude_max:g}")
    return spec


def _count(text, value):
    if value < 1 or value != int(value):
        raise ConfigError(f"policy {text!r}: n must be a whole number of ops, at least 1, got {value:g}")
    return int(value)


def _level(text, value):
    if value > LEVEL_DENOMINATOR:
        raise ConfigError(f"policy {text!r}: magnitudes above {LEVEL_DENOMINATOR:g} (levels above 1) are not "
                          f"expressible with MindSpore's RandAugment")
    return value


def _flag(text, value):
    if value not in (0, 1):
        raise ConfigError(f"policy {text!r}: inc is 0 or 1, got {value:g}")
    return bool(value)


def _probability(text, value):
    if value > 1:
        raise ConfigError(f"policy {text!r}: p is a probability in [0, 1], got {value:g}")
    return value


def _plain(text, value):
    return value


_SETTERS = {
    'm': ('magnitude', _level),
    'n': ('num_ops', _count),
    'mstd': ('magnitude_std', _plain),
    'mmax': ('magnitude_max', _level),
    'inc': ('increasing', _flag),
    'p': ('prob', _probability),
}
