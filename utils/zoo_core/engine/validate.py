"""Checking a train or eval config before anything is built: nonsense settings are refused (a `ConfigError`)
or warned about, named input files must exist and not be empty, and the dataset must have the folders the
run reads. Each check runs in well under a second, so a mistake costs no network build and no data scan.
"""
import os

from zoo_core.data.autoaug import check_policy, policy_warnings
from zoo_core.data.dataset import EVAL_RESIZE_CHOICES, INTERPOLATIONS
from zoo_core.data.workers import requested_workers
from zoo_core.data.mindrecord import DATASET_FORMATS
from zoo_core.engine.resume import RESUME_AUTO
from zoo_core.models.backbone import RECOMPUTE_LEVELS
from zoo_core.optim.lr_schedule import SCHEDULES
from zoo_core.runtime.config import ConfigError
from zoo_core.runtime.devices import DEVICE_TARGETS
from zoo_core.runtime.distributed import RUN_MODES
from zoo_core.weights.checkpoint import check_checkpoint_file, checkpoint_files
from zoo_core.weights.pretrained import find_weights_file

TRAIN, EVAL = 'train', 'eval'
AMP_LEVELS = ('auto', 'O0', 'O1', 'O2', 'O3')
# The backbone halves the resolution five times (stem, max pool, three strided stages): below 32 pixels
# the last stage gets less than one pixel.
MIN_IMAGE_SIZE = 32
# Keys that count something and must be at least 1, per command.
POSITIVE_KEYS = {
    TRAIN: ('epochs', 'batch_size', 'eval_batch_size', 'keep_checkpoint_max', 'log_every', 'accumulate_steps',
            'aug_repeats'),
    EVAL: ('eval_batch_size',),
}
# Keys that name one of a fixed set of choices, per command.
CHOICES = {
    TRAIN: dict(device_target=DEVICE_TARGETS, mode=tuple(RUN_MODES), amp_level=AMP_LEVELS, lr_schedule=SCHEDULES,
                interpolation=tuple(INTERPOLATIONS), eval_resize=EVAL_RESIZE_CHOICES,
                dataset_format=DATASET_FORMATS, recompute=RECOMPUTE_LEVELS),
    EVAL: dict(device_target=DEVICE_TARGETS, mode=tuple(RUN_MODES), interpolation=tuple(INTERPOLATIONS),
               eval_resize=EVAL_RESIZE_CHOICES, dataset_format=DATASET_FORMATS),
}
TRAIN_SPLIT, VAL_SPLIT = 'train', 'val'


def check_choices(cfg, command):
    """Raise for a key whose value is not one of its choices."""
    for key, choices in CHOICES[command].items():
        if cfg[key] not in choices:
            raise ConfigError(f"unknown {key} {cfg[key]!r}; choose from {', '.join(choices)}")


def check_ranges(cfg, command):
    """Raise for a count below 1 or a value outside its meaningful range."""
    for key in POSITIVE_KEYS[command]:
        if cfg[key] < 1:
            raise ConfigError(f"--{key} must be at least 1, got {cfg[key]}")
    requested_workers(cfg.num_parallel_workers)
    if cfg.image_size < MIN_IMAGE_SIZE:
        raise ConfigError(f"--image_size must be at least {MIN_IMAGE_SIZE} (the network downsamples 32x), "
                          f"got {cfg.image_size}")
    if not 0 < cfg.crop_pct <= 1:
        raise ConfigError(f"--crop_pct must be in (0, 1] (the eval crop's share of the resized image), "
                          f"got {cfg.crop_pct}")
    if command == TRAIN:
        if not 0 <= cfg.label_smoothing < 1:
            raise ConfigError(f"--label_smoothing must be in [0, 1), got {cfg.label_smoothing}")
        if cfg.save_every_steps < 0:
            raise ConfigError(f"--save_every_steps must be 0 (epoch ends only) or more, got {cfg.save_every_steps}")
        for key in ('mixup', 'cutmix'):
            if cfg[key] < 0:
                raise ConfigError(f"--{key} is a Beta distribution's alpha: 0 (off) or more, got {cfg[key]}")
        check_policy(cfg.autoaugment)
        if not 0 <= cfg.reprob <= 1:
            raise ConfigError(f"--reprob is a probability in [0, 1], got {cfg.reprob}")
        if cfg.clip_grad < 0:
            raise ConfigError(f"--clip_grad is the largest gradient norm: 0 (off) or more, got {cfg.clip_grad}")
        if not 0 < cfg.ema_decay < 1:
            raise ConfigError(f"--ema_decay must be in (0, 1), got {cfg.ema_decay}")


def setting_warnings(cfg, command):
    """Warnings (strings) about settings that are allowed but probably not meant."""
    warnings = policy_warnings(cfg.autoaugment) if command == TRAIN else []
    if command == TRAIN and cfg.warmup_epochs >= cfg.epochs:
        warnings.append(f"--warmup_epochs {cfg.warmup_epochs} >= --epochs {cfg.epochs}: the learning rate "
                        f"only rises during this run and never decays")
    if command == TRAIN and cfg.recompute != RECOMPUTE_LEVELS[0] and cfg.mode == 'pynative':
        warnings.append(f"--recompute {cfg.recompute} has no effect in PyNative mode (MindSpore recomputes in "
                        f"graph mode only)")
    sink_mode = cfg.get('dataset_sink_mode')
    sink = sink_mode == 'on' or (sink_mode == 'auto' and cfg.device_target != 'CPU')
    if command == TRAIN and cfg.save_every_steps and sink:
        warnings.append(f"--save_every_steps {cfg.save_every_steps} with dataset sink mode: a sink runs a whole "
                        f"epoch, so checkpoints are written at epoch ends only (--dataset_sink_mode off for step "
                        f"checkpoints)")
    return warnings


def validate_settings(cfg, command):
    """Refuse (`ConfigError`) the nonsense settings of a `command` ('train' or 'eval') config; returns the
    list of warnings about settings that run but are probably a mistake."""
    check_choices(cfg, command)
    check_ranges(cfg, command)
    if command == EVAL and not cfg.ckpt_path and not cfg.pretrained:
        raise ConfigError("nothing to evaluate: pass --ckpt_path FILE_OR_DIR or --pretrained WEIGHTS")
    return setting_warnings(cfg, command)


def check_input_files(cfg, family, command):
    """Raise when a file that a `command` ('train' or 'eval') config names is missing or empty:
    `--pretrained` (a path or a name in the weight cache), train's `--resume` (unless 'auto'), and every
    checkpoint that eval's `--ckpt_path` means."""
    if cfg.pretrained:
        find_weights_file(cfg.net, family.preprocessing(cfg.net), cfg.pretrained)
    if command == TRAIN and cfg.resume and cfg.resume != RESUME_AUTO:
        check_checkpoint_file(cfg.resume)
    if command == EVAL and cfg.ckpt_path:
        for path in checkpoint_files(cfg.ckpt_path):
            check_checkpoint_file(path)


def check_training_folders(cfg):
    """Raise unless `cfg.data_dir` has `train/`, and `val/` when the run evaluates (`eval_interval > 0`)."""
    train_dir = os.path.join(cfg.data_dir, TRAIN_SPLIT)
    if not os.path.isdir(train_dir):
        raise ConfigError(f"no {TRAIN_SPLIT}/ folder in --data_dir {cfg.data_dir} (expected "
                          f"<data_dir>/{TRAIN_SPLIT}/<class>/<image> and <data_dir>/{VAL_SPLIT}/<class>/<image>)")
    if cfg.eval_interval > 0 and not os.path.isdir(os.path.join(cfg.data_dir, VAL_SPLIT)):
        raise ConfigError(f"--data_dir {cfg.data_dir} has {TRAIN_SPLIT}/ but no {VAL_SPLIT}/: training evaluates "
                          f"on {VAL_SPLIT}/ every {cfg.eval_interval} epoch(s) (--eval_interval "
                          f"{cfg.eval_interval}); add a {VAL_SPLIT}/ split, or pass --eval_interval 0 to train "
                          f"without evaluation")
