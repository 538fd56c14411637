"""Run configuration: recipe defaults <- network preset <- YAML file (`--config`) <- `--key value` flags.

Every key of the recipe can be overridden from the command line, with the type of its default:
booleans accept true/false/1/0/yes/no (so `--zero_init_last False` means False), lists and tuples take
YAML syntax (`--milestones [30,60]`). Unknown keys are errors, so a typo never passes silently.
"""
import argparse
import os
import sys
import textwrap
from typing import List, Optional

import yaml
from easydict import EasyDict

from zoo_core.runtime.errors import ZooError

TRUE_WORDS = ('true', '1', 'yes', 'y', 'on')
FALSE_WORDS = ('false', '0', 'no', 'n', 'off')
EFFECTIVE_CONFIG_NAME = 'config.yaml'
RECIPE_SUFFIXES = ('.yaml', '.yml')
# The dataset `--help` assumes when it shows the defaults, so that they are a real run's, not the demo's.
HELP_DATASET = 'DATA_DIR'

HELP_WIDTH = 100


class ConfigError(ZooError):
    """A configuration value or file that cannot be used."""


def parse_bool(text):
    """'True'/'false'/'1'/'no'... -> bool; anything else is an error (never truthiness of a string)."""
    if isinstance(text, bool):
        return text
    word = str(text).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigError(f"expected a boolean (true/false), got {text!r}")


def coerce(key, text, default):
    """Convert a command-line string to the type of `default`."""
    try:
        if isinstance(default, bool):
            return parse_bool(text)
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
        if isinstance(default, (list, tuple)):
            value = yaml.safe_load(text)
            if not isinstance(value, (list, tuple)):
                value = [value]
            return type(default)(value)
        if default is None:
            return yaml.safe_load(text)
        return str(text)
    except (ValueError, yaml.YAMLError) as error:
        raise ConfigError(f"--{key}: {error}") from None


def read_yaml(path):
    """The mapping in a YAML config file; clear errors for a missing file or a non-mapping."""
    if not os.path.isfile(path):
        raise ConfigError(f"config file not found: {path}")
    with open(path, encoding='utf-8') as handle:
        try:
            data = yaml.safe_load(handle) or {}
        except yaml.YAMLError as error:
            raise ConfigError(f"config file {path} is not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of keys to values")
    return data


def resolve_config_path(name_or_path, directory=None):
    """The YAML file that `--config name_or_path` means: an existing path, else the recipe file of that name
    (with or without its suffix) in `directory`, a model folder's `configs/`."""
    if os.path.isfile(name_or_path) or not directory:
        return name_or_path
    for candidate in [name_or_path] + [name_or_path + suffix for suffix in RECIPE_SUFFIXES]:
        path = os.path.join(directory, candidate)
        if os.path.isfile(path):
            return path
    names = sorted(os.path.splitext(f)[0] for f in os.listdir(directory) if f.endswith(RECIPE_SUFFIXES))
    raise ConfigError(f"config file not found: {name_or_path} is neither a file nor a recipe of {directory} "
                      f"({', '.join(names) or 'none'})")


def check_known(keys, defaults, source):
    """Raise for keys that the recipe does not have."""
    unknown = sorted(set(keys) - set(defaults))
    if unknown:
        raise ConfigError(f"unknown config key(s) in {source}: {', '.join(unknown)}; "
                          f"known keys: {', '.join(sorted(defaults))}")


def flag_value(argv: List[str], key: str) -> Optional[str]:
    """The value of the last `--key value` or `--key=value` in `argv`, or None."""
    value = None
    for index, word in enumerate(argv):
        if word == f'--{key}' and index + 1 < len(argv):
            value = argv[index + 1]
        elif word.startswith(f'--{key}='):
            value = word.split('=', 1)[1]
    return value


def parse_overrides(argv, defaults, description=None, listed_keys=None):
    """(`--config` path or None, {key: raw string}) from `--key value` / `--key=value` flags.

    Args:
        defaults: every key with the value `--help` shows for it.
        description: what `--help` says above the flags (default: this module's description).
        listed_keys: the keys that `--help` lists (default: all); the others are accepted all the same.
    """
    paragraphs = (description or __doc__).strip().split('\n\n')
    parser = argparse.ArgumentParser(description='\n\n'.join(textwrap.fill(p, HELP_WIDTH) for p in paragraphs),
                                     allow_abbrev=False, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--config', default=None,
                        help="YAML file of config overrides, or the name of a recipe in the model folder's configs/")
    for key, value in defaults.items():
        listed = listed_keys is None or key in listed_keys
        what = f'{FLAG_HELP[key]}; ' if key in FLAG_HELP else ''
        parser.add_argument(f'--{key}', default=None, metavar=type(value).__name__.upper(),
                            help=f'{what}default: {value!r}' if listed else argparse.SUPPRESS)
    args = parser.parse_args(argv)
    flags = {k: v for k, v in vars(args).items() if k != 'config' and v is not None}
    return args.config, flags


def apply_explicit(config, defaults, from_file, flags):
    """Write the YAML file's values, then the flags' values, over `config`."""
    for key, value in from_file.items():
        config[key] = coerce(key, value, defaults[key]) if isinstance(value, str) else value
    for key, text in flags.items():
        config[key] = coerce(key, text, defaults[key])
    return config


def build_config(defaults, select_presets=None, argv=None, description=None, listed_keys=None, config_dir=None):
    """The effective config of a run.

    Args:
        defaults: the recipe (every key and its default value).
        select_presets: function of the explicitly set config (defaults + file + flags) returning a list
            of override dicts that go between the defaults and the explicit settings, e.g. the
            resolution of a larger variant, or the demo settings when no dataset is given.
        argv: command-line arguments (default: `sys.argv[1:]`).
        description, listed_keys: what the command's `--help` says and which keys it lists
            (see `parse_overrides`).
        config_dir: the folder of shipped recipe files that `--config NAME` looks in.
    """
    argv = sys.argv[1:] if argv is None else argv
    config_path = flag_value(argv, 'config')  # before the full parse: the file decides what --help shows
    config_path = resolve_config_path(config_path, config_dir) if config_path else None
    from_file = read_yaml(config_path) if config_path else {}
    check_known(from_file, defaults, config_path)
    # `--help` shows the values a run on a dataset would start from: the recipe's, the network's preset and
    # the --config file's (not the demo preset, which only a run without a dataset gets).
    shown = layered_config(defaults, select_presets and with_dataset(select_presets), from_file, {})
    _, flags = parse_overrides(argv, shown, description, listed_keys)
    return layered_config(defaults, select_presets, from_file, flags)


def with_dataset(select_presets):
    """`select_presets` as it answers for a run with a dataset (`HELP_DATASET` when none is set)."""
    return lambda explicit: select_presets(EasyDict(explicit, data_dir=explicit.get('data_dir') or HELP_DATASET))


def layered_config(defaults, select_presets, from_file, flags):
    """defaults <- the presets that the explicit settings select <- the YAML file's values <- the flags."""
    explicit = apply_explicit(EasyDict(defaults), defaults, from_file, flags)
    config = EasyDict(defaults)
    for overrides in (select_presets(explicit) if select_presets else []):
        check_known(overrides, defaults, 'a preset')
        config.update(overrides)
    return apply_explicit(config, defaults, from_file, flags)


def make_recipe(*layers, **settings):
    """A recipe: the `layers` (mappings) merged in order, then `settings`; later values win."""
    recipe = EasyDict()
    for layer in layers + (settings,):
        recipe.update(layer)
    return recipe


def save_config(config, directory):
    """Write the effective config as YAML next to the run's checkpoints; returns the file path."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, EFFECTIVE_CONFIG_NAME)
    plain = {k: list(v) if isinstance(v, tuple) else v for k, v in config.items()}
    with open(path, 'w', encoding='utf-8') as handle:
        yaml.safe_dump(plain, handle, sort_keys=True)
    return path


def format_config(config):
    """The config as aligned `key: value` lines, for the log."""
    width = max(len(k) for k in config)
    return '\n'.join(f'  {k:<{width}} : {config[k]!r}' for k in sorted(config))


# What `--help` says about the flags whose name alone does not tell.
FLAG_HELP = dict(
    data_dir='ImageFolder root with train/<class>/<image> and val/<class>/<image>; empty: the built-in demo '
             'dataset',
    dataset_format='imagefolder: data_dir is an ImageFolder tree; mindrecord: a folder written by '
                   'utils/to_mindrecord.py; auto (default): mindrecord when data_dir has its mindrecord.json',
    output_dir="logs, checkpoints and results; empty: ./output/<net> (eval: ./output/<net>/eval)",
    resume="train: continue a run: 'auto' (the newest complete checkpoint in <output_dir>/checkpoints; none: a "
           "new run), or a training checkpoint of this zoo (weights, optimizer and other state, epoch and step)",
    save_every_steps='train: also save a checkpoint every N steps within an epoch (0: at epoch ends only); a '
                     'killed run loses at most N steps',
    deterministic='train: deterministic kernels, and a resumed run replays its data pipeline up to the resume '
                  'point so that it sees the same augmentations (costs the data time of the steps before it)',
    pretrained='weights to start from (train) or to evaluate (eval): a MindSpore, PyTorch or safetensors '
               'file, or a file name in the weight cache',
    ckpt_path='eval: the checkpoint to evaluate, or a folder whose every .ckpt is evaluated',
    accumulate_steps='an optimizer update every K micro-batches: the update of one batch of K x batch_size per '
                     'device (the lr scales with it); lr schedule and progress lines count updates',
    clip_grad='clip the global gradient norm to this value (after the loss scale is undone and the ranks '
              'are averaged); 0: off',
    ema='keep an exponential moving average of the weights (ema.<name> in checkpoints); evaluated beside the '
        'raw weights, best of each kept (best.ckpt raw, best_ema.ckpt EMA)',
    ema_decay='weight of the old average per update',
    ema_warmup='lower the EMA decay in early updates: min(ema_decay, (1 + n) / (10 + n))',
    autoaugment="autoaugment (AutoAugment's ImageNet policy), randaugment, trivialaugment, none, or a timm "
                "RandAugment policy string: rand-m9-mstd0.5-inc1, rand-m9-n3 (m magnitude 0-10, n ops, mstd "
                "magnitude noise, mmax, inc1, p op probability)",
    reprob='random erasing probability per image (MindSpore RandomErasing, the box filled with the mean '
           "pixel, mindcv's default); 0: off",
    aug_repeats="repeated augmentation (timm's RepeatAugSampler): each image R times per epoch, its copies on "
                "different ranks; the epoch keeps its length; 1: off",
    results_file="eval: a CSV file to append one row per checkpoint to (timm validate.py's columns); empty: none",
    strict_data='true: the first bad image file is an error; false (default): each is named in a warning, '
                'left out and counted',
    recompute="recompute activations in the backward pass instead of keeping them (MindSpore's Cell.recompute, "
              "timm's --grad-checkpointing): none, stage (each of layer1..4) or block (each residual block); graph "
              "mode only",
    num_parallel_workers="data pipeline workers per rank: 'auto' (this host's cores / its ranks) or a count "
                         "(clamped to the cores)",
)


# Settings of a run that every recipe has (where, on what, how often); recipes add the hyper-parameters.
RUN_DEFAULTS = dict(
    device_target='CPU',        # CPU | GPU | Ascend
    device_id=0,                # overridden by the DEVICE_ID environment variable of a launcher
    mode='graph',               # graph | pynative
    data_dir='',
    dataset_format='auto',      # auto | imagefolder | mindrecord (auto: data_dir with a mindrecord.json)
    output_dir='',
    resume='',
    pretrained='',
    ckpt_path='',
    results_file='',            # eval: CSV results table to append to
    num_parallel_workers='auto',  # data workers per rank: auto (the rank's share of the cores) or a count
    eval_batch_size=64,
    log_every=20,               # steps between progress lines
    keep_checkpoint_max=5,
    save_every_steps=0,         # checkpoints within an epoch (0: at epoch ends only)
    deterministic=False,        # deterministic kernels and exact data recovery on resume
    eval_interval=1,            # epochs between evaluations during training (0: none)
    seed=1,
    amp_level='auto',           # auto: O0 on CPU, O2 on GPU/Ascend
    loss_scale=1024.0,          # fixed loss scale, or the initial one of the dynamic scaler
    dynamic_loss_scale=True,    # GPU/Ascend only; MindSpore's CPU backend takes a fixed scale
    freeze_backbone=False,      # fine-tuning: train the classifier only
    backbone_lr_scale=1.0,      # fine-tuning: lr of every layer but the classifier x this
    dataset_sink_mode='auto',   # auto: off on CPU, on for GPU/Ascend
    strict_data=False,          # a bad image file stops the run (default: named in a warning, left out)
)


# The keys that evaluation reads: `eval.py --help` lists these. It accepts every other key of the recipe
# too (and ignores them), so that a training run's flags or its saved config.yaml can be reused as they are.
EVAL_KEYS = ('net', 'num_classes', 'ckpt_path', 'results_file', 'pretrained', 'data_dir', 'dataset_format', 'output_dir',
             'device_target', 'device_id', 'mode', 'eval_batch_size', 'num_parallel_workers', 'image_size', 'crop_pct',
             'interpolation', 'eval_resize', 'mean', 'std', 'strict_data')
# Keys that only evaluation reads: `train.py --help` leaves them out.
EVAL_ONLY_KEYS = ('ckpt_path', 'results_file')


# The hyper-parameters that both families' ImageNet recipes share (SGD with momentum, cosine decay, label
# smoothing, no weight decay on BN and biases); a model folder's `src/config.py` states what it changes.
TRAIN_DEFAULTS = dict(
    num_classes=1000,
    lr_schedule='cosine',       # cosine | step
    min_lr=0.0,
    milestones=[30, 60, 90],    # step schedule only
    lr_decay_rate=0.1,          # step schedule only
    momentum=0.9,
    weight_decay=1e-4,
    no_decay_bn_bias=True,      # no weight decay on BN parameters and biases
    label_smoothing=0.1,
    drop_rate=0.0,              # dropout before the classifier
    drop_path_rate=0.0,
    drop_block_rate=0.0,
    zero_init_last=True,        # zero gamma of each block's last BN
    accumulate_steps=1,         # micro-batches per optimizer update (lr schedule and logs count updates)
    clip_grad=0.0,              # largest global gradient norm (0: no clipping)
    ema=False,                  # keep a model EMA, evaluated and saved beside the raw weights
    ema_decay=0.9998,
    ema_warmup=False,           # decay min(ema_decay, (1 + n) / (10 + n)) at update n
    recompute='none',           # none | stage | block: recompute activations in the backward pass (less memory)
)
