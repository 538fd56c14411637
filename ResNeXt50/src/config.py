"""ResNeXt training recipes.

`RECIPE_LAYER` is what the MindSpore ModelZoo's ResNeXt50 ImageNet recipe sets (lr 0.05 per 128 images,
cosine with one warmup epoch, label smoothing 0.1, 150 epochs), each value with its source; with the data
recipe of `src/datasets/`, it goes over the zoo's declared settings (`zoo_core.engine.settings`). `RECIPE` is
the result: every key with ResNeXt50's value. `DEMO_PRESET` is the short CPU run on the built-in demo
dataset. Override any key with `--key value` or `--config file.yaml`; `train.py --print_config` shows where
each value comes from.
"""
from zoo_core.data.demo_data import DEMO_RUN
from zoo_core.engine.settings import ZOO_SETTINGS
from zoo_core.runtime.config import recipe_layer, resolve
from .datasets import DATA_RECIPE

RECIPE_LAYER = recipe_layer('ResNeXt recipe, ResNeXt50/src', DATA_RECIPE, dict(
    net=('resnext50_32x4d', 'paper'),
    epochs=(150, 'ModelZoo'), warmup_epochs=(1, 'ModelZoo'),
    batch_size=(128, 'ModelZoo'), base_batch=(128, 'ModelZoo'),   # per device; lr per base_batch images
    base_lr=(0.05, 'ModelZoo'),
    lr_schedule=('cosine', 'ModelZoo'), label_smoothing=(0.1, 'ModelZoo'),
))
RECIPE = resolve(ZOO_SETTINGS, [RECIPE_LAYER]).values

TRAINING_PRESETS = {}

DEMO_PRESET = dict(DEMO_RUN)
