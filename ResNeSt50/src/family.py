"""The ResNeSt family: the one object that ResNeSt50's entry points hand to the shared engine."""
from zoo_core.models.family import ModelFamily

from .config import DEMO_PRESET, RECIPE, TRAINING_PRESETS
from .models import REGISTRY

FAMILY = ModelFamily(REGISTRY, RECIPE, DEMO_PRESET, TRAINING_PRESETS)
