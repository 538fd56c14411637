"""ResNeSt networks."""
from .utils import get_network, network_names, preprocessing_for

__all__ = ['get_network', 'network_names', 'preprocessing_for']
