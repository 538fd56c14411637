"""The ResNeSt family: the one object that ResNeSt50's entry points hand to the shared engine."""
import os

from zoo_core.engine.settings import ZOO_SETTINGS
from zoo_core.models.family import ModelFamily
from .config import DEMO_PRESET, RECIPE_LAYER, TRAINING_PRESETS
from .models import REGISTRY

# The model folder's recipe files (`--config NAME`): <model folder>/configs/, beside src/.
CONFIGS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'configs')

FAMILY = ModelFamily(registry=REGISTRY, settings=ZOO_SETTINGS, recipe_layer=RECIPE_LAYER, demo_preset=DEMO_PRESET,
                     training_presets=TRAINING_PRESETS, configs_dir=CONFIGS_DIR)
