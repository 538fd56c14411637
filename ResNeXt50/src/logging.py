"""ResNeXt's logging: the zoo's rank-aware logger. ResNeXt adds nothing to it, so this is an alias of
`zoo_core.runtime.logging` (the same object), where the ModelZoo layout puts it."""
from zoo_core.runtime.logging import get_logger

__all__ = ['get_logger']
