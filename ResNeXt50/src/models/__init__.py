"""ResNeXt networks: `get_network(name, num_classes=1000, pretrained=None, **options)` builds variant
`name` (see `zoo_core.weights.pretrained.create_network`); `network_names()` lists them."""
import functools

from zoo_core.weights.pretrained import create_network
from .resnext import REGISTRY

get_network = functools.partial(create_network, REGISTRY)
network_names = REGISTRY.names

__all__ = ['REGISTRY', 'get_network', 'network_names']
