"""ResNeSt training recipes (Zhang et al., 2020, Sec. 5.1), as EasyDicts.

`RECIPE` is ResNeSt-50's ImageNet recipe; `NETWORK_PRESETS` change what the larger variants change
(resolution, crop, DropBlock); `DEMO_PRESET` is the short CPU run on the built-in demo dataset.
Override any key with `--key value` or `--config file.yaml` (see `zoo_core.runtime.config`).
"""
from easydict import EasyDict

from zoo_core.runtime.config import RUN_DEFAULTS, build_config, preset_selector
from zoo_core.models.registry import IMAGENET_MEAN, IMAGENET_STD

RECIPE = EasyDict(
    RUN_DEFAULTS,
    net='resnest50',
    num_classes=1000,
    epochs=270,
    batch_size=64,              # per device
    base_lr=0.025,              # per base_batch images; scaled linearly with the global batch
    base_batch=64,
    lr_schedule='cosine',
    warmup_epochs=5,
    min_lr=0.0,
    milestones=[30, 60, 90],    # step schedule only
    lr_decay_rate=0.1,          # step schedule only
    momentum=0.9,
    weight_decay=1e-4,
    no_decay_bn_bias=True,      # no weight decay on BN parameters and biases
    label_smoothing=0.1,
    mixup=0.2,
    cutmix=0.0,
    autoaugment='autoaugment',  # autoaugment | randaugment | trivialaugment | none
    color_jitter=0.4,
    crop_scale_min=0.08,
    image_size=224,
    crop_pct=0.875,
    interpolation='bilinear',
    mean=list(IMAGENET_MEAN),
    std=list(IMAGENET_STD),
    drop_rate=0.2,              # dropout before the classifier
    drop_path_rate=0.0,
    drop_block_rate=0.0,
    zero_init_last=True,
)

NETWORK_PRESETS = {
    'resnest101': dict(image_size=256),
    'resnest200': dict(image_size=320, crop_pct=0.909, interpolation='bicubic', drop_block_rate=0.1),
    'resnest269': dict(image_size=416, crop_pct=0.928, interpolation='bicubic', drop_block_rate=0.1),
}

DEMO_PRESET = dict(
    num_classes=10, epochs=6, batch_size=32, base_lr=0.1, warmup_epochs=1, image_size=64, crop_pct=1.0,
    crop_scale_min=0.35, mixup=0.0, autoaugment='none', drop_rate=0.0, eval_batch_size=50, log_every=5,
)


def get_config(argv=None):
    """The effective ResNeSt config of this run (recipe <- presets <- --config file <- flags)."""
    return build_config(RECIPE, preset_selector(NETWORK_PRESETS, DEMO_PRESET), argv)
