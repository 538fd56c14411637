"""ResNeXt's loss: the zoo's label-smoothing cross entropy. ResNeXt adds nothing to it, so this is an alias
of `zoo_core.engine.crossentropy` (the same object), where the ModelZoo layout puts it."""
from zoo_core.engine.crossentropy import CrossEntropySmooth

__all__ = ['CrossEntropySmooth']
