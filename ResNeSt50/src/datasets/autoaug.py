"""ResNeSt's augmentation policies: the zoo's (`zoo_core.data.autoaug`, the same objects); the recipe
picks one by name (`autoaugment` in `src/datasets/__init__.py`)."""
from zoo_core.data.autoaug import POLICIES, augmentation_ops

__all__ = ['POLICIES', 'augmentation_ops']
