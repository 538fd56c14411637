"""Named network variants: what each one is built from, and the preprocessing of its pretrained weights.

The registry only builds; loading weights is `zoo_core.weights`' job, so nothing here imports it."""
import importlib.metadata
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Tuple

from zoo_core.runtime.errors import ZooError
from zoo_core.runtime.isa import warn_if_convolutions_slow

if TYPE_CHECKING:  # names used in annotations only
    from mindspore import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# The SHA-256 prefix that torch.hub-style file names carry: `resnest50-528c19ca.pth`.
HASH_IN_FILE_NAME = re.compile(r'-([0-9a-f]{8,64})\.[^.]+$')


def sha256_in_file_name(file_name: str) -> str:
    """The hex SHA-256 prefix in a file name such as `resnest50-528c19ca.pth` ('528c19ca'); '' for none."""
    match = HASH_IN_FILE_NAME.search(file_name)
    return match.group(1) if match else ''


@dataclass(frozen=True)
class PretrainedConfig:
    """Where a variant's reference weights come from and the eval preprocessing that goes with them.

    `sha256` is the SHA-256 (whole, or its leading hex digits) that the file at `url` must have."""
    file_names: Tuple[str, ...] = ()
    url: str = ''
    sha256: str = ''
    input_size: int = 224
    crop_pct: float = 0.875
    interpolation: str = 'bilinear'
    mean: Tuple[float, float, float] = IMAGENET_MEAN
    std: Tuple[float, float, float] = IMAGENET_STD


@dataclass(frozen=True)
class Variant:
    """A named network: `builder(**arch, **options)` makes it."""
    builder: Callable
    arch: Dict = field(default_factory=dict)
    pretrained: PretrainedConfig = PretrainedConfig()


class UnknownNetworkError(ZooError):
    """Raised for a network name that no registry knows."""


_REGISTRIES: List['Registry'] = []


class Registry:
    """A family's variants by name; `build` makes one, `names` lists them. Every registry created is
    listed by `known_registries`, so importing a model package is enough for its variants to be known."""

    def __init__(self, family: str, variants: Mapping[str, Variant]) -> None:
        self.family = family
        self.variants = dict(variants)
        _REGISTRIES.append(self)

    def names(self) -> List[str]:
        """Variant names, sorted."""
        return sorted(self.variants)

    def variant(self, name: str) -> Variant:
        """The variant called `name`; an unknown name raises an error that lists the valid ones."""
        if name not in self.variants:
            raise UnknownNetworkError(
                f"unknown {self.family} network {name!r}; valid names: {', '.join(self.names())}")
        return self.variants[name]

    def build(self, name: str, num_classes: int = 1000, **options: Any) -> 'nn.Cell':
        """Build network `name` with freshly initialised weights (`zoo_core.weights.pretrained.create_network`
        builds and loads pretrained ones). On the CPU, warns once if oneDNN's ISA cap came too late
        (`zoo_core.runtime.isa`)."""
        variant = self.variant(name)
        warn_if_convolutions_slow()
        return variant.builder(**variant.arch, num_classes=num_classes, **options)


def known_registries() -> Tuple[Registry, ...]:
    """Every registry created in this process (one per imported model package), in creation order."""
    return tuple(_REGISTRIES)


# The model packages declare their registry under this entry-point group (pyproject.toml), so that a
# command of the engine can list every installed family without importing a model package by name.
REGISTRY_ENTRY_POINTS = 'zoo_core.registries'


def installed_registries() -> Tuple[Registry, ...]:
    """Every registry of the installed model packages (loaded through their entry points), then any other
    one created in this process."""
    for entry_point in importlib.metadata.entry_points(group=REGISTRY_ENTRY_POINTS):
        entry_point.load()
    return known_registries()
