"""ResNeSt training recipes (Zhang et al., 2020, Sec. 5.1).

`RECIPE_LAYER` is what ResNeSt-50's ImageNet recipe sets, each value with its source; with the data recipe of
`src/datasets/`, it goes over the zoo's declared settings (`zoo_core.engine.settings`). `RECIPE` is the
result: every key with ResNeSt-50's value. A larger variant brings its published resolution, crop and filter
(its `PretrainedConfig` in `src/models/resnest.py`) and `TRAINING_PRESETS`; `DEMO_PRESET` is the short CPU
run on the built-in demo dataset. Override any key with `--key value` or `--config file.yaml`;
`train.py --print_config` shows where each value comes from.
"""
from zoo_core.data.demo_data import DEMO_RUN
from zoo_core.engine.settings import ZOO_SETTINGS
from zoo_core.runtime.config import recipe_layer, resolve
from .datasets import DATA_RECIPE

RECIPE_LAYER = recipe_layer('ResNeSt recipe, ResNeSt50/src', DATA_RECIPE, dict(
    net=('resnest50', 'paper'),
    epochs=(270, 'paper'), warmup_epochs=(5, 'paper'),
    batch_size=(64, 'ModelZoo'), base_batch=(64, 'ModelZoo'),   # per device; lr per base_batch images
    base_lr=(0.025, 'paper (0.1 per 256)'),
    lr_schedule=('cosine', 'paper'), label_smoothing=(0.1, 'paper'), no_decay_bn_bias=(True, 'ModelZoo'),
    drop_rate=(0.2, 'paper'), drop_block_rate=(0.0, 'paper'), zero_init_last=(True, 'paper'),
))
RECIPE = resolve(ZOO_SETTINGS, [RECIPE_LAYER]).values

# The paper trains the two largest variants with DropBlock.
TRAINING_PRESETS = {
    'resnest200': dict(drop_block_rate=0.1),
    'resnest269': dict(drop_block_rate=0.1),
}

# The demo run learns from hue in a few hundred steps; mixup, AutoAugment and dropout slow that down.
DEMO_PRESET = dict(DEMO_RUN, mixup=0.0, autoaugment='none', drop_rate=0.0)
