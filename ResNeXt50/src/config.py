"""ResNeXt training recipes, as EasyDicts.

`RECIPE` is the MindSpore ModelZoo's ResNeXt50 ImageNet recipe (lr 0.05 per 128 images, cosine with one
warmup epoch, label smoothing 0.1, 150 epochs): the zoo's run settings and shared hyper-parameters
(`zoo_core.runtime.config`), the data recipe of `src/datasets/`, and what ResNeXt50 sets itself.
`DEMO_PRESET` is the short CPU run on the built-in demo dataset. Override any key with `--key value` or
`--config file.yaml` (see `zoo_core.runtime.config`).
"""
from zoo_core.data.demo_data import DEMO_RUN
from zoo_core.runtime.config import RUN_DEFAULTS, TRAIN_DEFAULTS, make_recipe
from .datasets import DATA_RECIPE

RECIPE = make_recipe(
    RUN_DEFAULTS, TRAIN_DEFAULTS, DATA_RECIPE,
    net='resnext50_32x4d',
    epochs=150, warmup_epochs=1,
    batch_size=128, base_batch=128, base_lr=0.05,   # per device; lr per base_batch images, scaled linearly
)

TRAINING_PRESETS = {}

DEMO_PRESET = dict(DEMO_RUN)
