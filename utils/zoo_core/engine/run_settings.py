"""What a training run's folder says about its checkpoints, for the commands that use them.

A run saves its effective `config.yaml` in its output folder; its checkpoints lie in it or in its
`checkpoints/`. eval.py, export.py and predict.py read from it the network, the class count and the eval
preprocessing, so that `eval.py --ckpt_path RUN/best.ckpt` needs no other flag. Explicit flags win; a `--net`
or `--num_classes` that contradicts the run is an error naming both values (the weights would not fit).
"""
import json
import os
from typing import List, Optional

from zoo_core.runtime.config import EFFECTIVE_CONFIG_NAME, ConfigError, Layer, flag_value, read_yaml
from zoo_core.weights.checkpoint import checkpoint_files

# The keys a checkpoint's run decides unless a flag says otherwise.
INHERITED_KEYS = ('net', 'num_classes', 'image_size', 'crop_pct', 'interpolation', 'eval_resize', 'mean', 'std')
# Keys whose flag must agree with the run: the weights only fit that network and classifier.
BINDING_KEYS = ('net', 'num_classes')
# How --print_config names the layer of a checkpoint's run: `run <its config.yaml>`.
RUN_LAYER_PREFIX = 'run '


def run_folder(checkpoint: str) -> Optional[str]:
    """The output folder of the training run that wrote `checkpoint` (it holds `config.yaml`), or None."""
    folder = os.path.dirname(os.path.abspath(checkpoint))
    for candidate in (folder, os.path.dirname(folder)):
        if os.path.isfile(os.path.join(candidate, EFFECTIVE_CONFIG_NAME)):
            return candidate
    return None


def run_config(checkpoint: str) -> Optional[dict]:
    """The saved config of the run that wrote `checkpoint`, or None for a checkpoint outside a run."""
    folder = run_folder(checkpoint)
    return read_yaml(os.path.join(folder, EFFECTIVE_CONFIG_NAME)) if folder else None


def flag_text(value) -> str:
    """A config value as the command line gives it (lists in YAML's flow syntax)."""
    return json.dumps(list(value)) if isinstance(value, (list, tuple)) else str(value)


def run_settings_layer(argv: List[str], keys=INHERITED_KEYS) -> Optional[Layer]:
    """The settings of `keys` that the `--ckpt_path` checkpoint's run saved, as a config layer named after the
    run's `config.yaml` (None for a checkpoint outside a run). It goes under the flags, so an explicit one
    wins; a `BINDING_KEYS` flag that contradicts the run raises a `ConfigError`."""
    checkpoint = flag_value(argv, 'ckpt_path')
    files = checkpoint_files(checkpoint) if checkpoint and os.path.exists(checkpoint) else []
    config = run_config(files[0]) if files else None
    if not config:
        return None
    source = os.path.join(run_folder(files[0]), EFFECTIVE_CONFIG_NAME)
    for key in BINDING_KEYS:
        given = flag_value(argv, key)
        if given is not None and key in config and given.strip() != flag_text(config[key]):
            raise ConfigError(f"--{key} {given} contradicts the checkpoint: its run trained {key} {config[key]} "
                              f"({source}); leave --{key} out to use the run's")
    return Layer(f'{RUN_LAYER_PREFIX}{source}', {key: config[key] for key in keys if key in config})
