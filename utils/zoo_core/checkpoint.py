"""Reading this zoo's MindSpore checkpoints: the network's weights without the optimizer's state."""
import os

import mindspore as ms

from .convert import check_weights_fit

CHECKPOINT_SUFFIX = '.ckpt'
# What training checkpoints hold besides the network: optimizer slots, schedule position, loss scale.
TRAINING_STATE_PREFIXES = ('moments.', 'accum.', 'global_step', 'learning_rate', 'momentum', 'epoch_num',
                           'step_num', 'scale_sense', 'current_iterator_step', 'last_overflow_iterator_step',
                           'top1', 'top5')


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read or used."""


def read_checkpoint(path):
    """name -> Parameter of a MindSpore checkpoint, with a clear error for a missing or broken file."""
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        return ms.load_checkpoint(path)
    except (RuntimeError, ValueError) as error:
        raise CheckpointError(f"cannot read checkpoint {path}: {str(error).splitlines()[0]}") from None


def is_training_state(name):
    """True for the optimizer/schedule entries that training checkpoints add to the network's weights."""
    return name.startswith(TRAINING_STATE_PREFIXES)


def network_weights(params):
    """name -> numpy array of the network's own tensors in a checkpoint's parameter dict."""
    return {k: v.asnumpy() for k, v in params.items() if not is_training_state(k)}


def load_network_checkpoint(net, path, ignore_prefixes=()):
    """Load a checkpoint's network weights into `net` after checking every name and shape; returns the
    checkpoint's full parameter dict (with its training state)."""
    params = read_checkpoint(path)
    weights = network_weights(params)
    try:
        check_weights_fit(weights, net, ignore_prefixes)
    except ValueError as error:
        raise CheckpointError(f"{path}: {error}") from None
    for param in net.get_parameters():
        if param.name in weights and not param.name.startswith(tuple(ignore_prefixes)):
            param.set_data(ms.Tensor(weights[param.name], dtype=param.dtype))
    return params


def checkpoint_files(path):
    """The checkpoint itself, or the `.ckpt` files of a folder sorted by modification time."""
    if os.path.isdir(path):
        files = [os.path.join(path, f) for f in os.listdir(path) if f.endswith(CHECKPOINT_SUFFIX)]
        if not files:
            raise CheckpointError(f"no {CHECKPOINT_SUFFIX} files in {path}")
        return sorted(files, key=lambda f: (os.path.getmtime(f), f))
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint not found: {path}")
    return [path]
