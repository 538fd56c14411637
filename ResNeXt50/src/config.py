"""ResNeXt training recipes, as EasyDicts.

`RECIPE` is the MindSpore ModelZoo's ResNeXt50 ImageNet recipe (lr 0.05 per 128 images, cosine with one
warmup epoch, label smoothing 0.1, 150 epochs); `DEMO_PRESET` is the short CPU run on the built-in demo
dataset. Override any key with `--key value` or `--config file.yaml` (see `zoo_core.runtime.config`).
"""
from easydict import EasyDict

from zoo_core.runtime.config import RUN_DEFAULTS, build_config, preset_selector
from zoo_core.models.registry import IMAGENET_MEAN, IMAGENET_STD

RECIPE = EasyDict(
    RUN_DEFAULTS,
    net='resnext50_32x4d',
    num_classes=1000,
    epochs=150,
    batch_size=128,             # per device
    base_lr=0.05,               # per base_batch images; scaled linearly with the global batch
    base_batch=128,
    lr_schedule='cosine',
    warmup_epochs=1,
    min_lr=0.0,
    milestones=[30, 60, 90],    # step schedule only
    lr_decay_rate=0.1,          # step schedule only
    momentum=0.9,
    weight_decay=1e-4,
    no_decay_bn_bias=True,      # no weight decay on BN parameters and biases
    label_smoothing=0.1,
    mixup=0.0,
    cutmix=0.0,
    autoaugment='none',         # autoaugment | randaugment | trivialaugment | none
    color_jitter=0.4,
    crop_scale_min=0.08,
    image_size=224,
    crop_pct=0.875,
    interpolation='bilinear',
    mean=list(IMAGENET_MEAN),
    std=list(IMAGENET_STD),
    drop_rate=0.0,
    drop_path_rate=0.0,
    drop_block_rate=0.0,
    zero_init_last=True,
)

NETWORK_PRESETS = {}

DEMO_PRESET = dict(
    num_classes=10, epochs=6, batch_size=32, base_lr=0.1, warmup_epochs=1, image_size=64, crop_pct=1.0,
    crop_scale_min=0.35, eval_batch_size=50, log_every=5,
)


def get_config(argv=None):
    """The effective ResNeXt config of this run (recipe <- presets <- --config file <- flags)."""
    return build_config(RECIPE, preset_selector(NETWORK_PRESETS, DEMO_PRESET), argv)
