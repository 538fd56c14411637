"""ResNeSt networks."""
from .utils import get_network, network_names

__all__ = ['get_network', 'network_names']
