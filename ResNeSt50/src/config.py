"""ResNeSt training recipes (Zhang et al., 2020, Sec. 5.1), as EasyDicts.

`RECIPE` is ResNeSt-50's ImageNet recipe: the zoo's run settings and shared hyper-parameters
(`zoo_core.runtime.config`), the data recipe of `src/datasets/`, and what ResNeSt-50 sets itself.
A larger variant brings its published resolution, crop and filter (its `PretrainedConfig` in
`src/models/resnest.py`) and `TRAINING_PRESETS`; `DEMO_PRESET` is the short CPU run on the built-in demo
dataset. Override any key with `--key value` or `--config file.yaml` (see `zoo_core.runtime.config`).
"""
from zoo_core.data.demo_data import DEMO_RUN
from zoo_core.runtime.config import RUN_DEFAULTS, TRAIN_DEFAULTS, make_recipe
from .datasets import DATA_RECIPE

RECIPE = make_recipe(
    RUN_DEFAULTS, TRAIN_DEFAULTS, DATA_RECIPE,
    net='resnest50',
    epochs=270, warmup_epochs=5,
    batch_size=64, base_batch=64, base_lr=0.025,    # per device; lr per base_batch images, scaled linearly
    drop_rate=0.2,                                  # dropout before the classifier
)

# The paper trains the two largest variants with DropBlock.
TRAINING_PRESETS = {
    'resnest200': dict(drop_block_rate=0.1),
    'resnest269': dict(drop_block_rate=0.1),
}

# The demo run learns from hue in a few hundred steps; mixup, AutoAugment and dropout slow that down.
DEMO_PRESET = dict(DEMO_RUN, mixup=0.0, autoaugment='none', drop_rate=0.0)
