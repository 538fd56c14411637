"""Continuing a run: which checkpoint (`--resume auto` or a path), and restoring its whole state.

`--resume auto` takes the newest checkpoint of the run's folder that reads back whole with its CRC
(a corrupt or truncated one is skipped with a warning, the previous one taken); none means a new run.
Restoring copies every parameter of the training network by name: the network, the optimizer's state
(momentum buffers, step counter), a loss scale, and any other state cell (e.g. `ema.*` weights). Only the
hyper-parameters that the config sets (`CONFIG_SET_NAMES`: the lr schedule, the momentum) come from the
current config, so that a run can be continued with more epochs.
"""
import os
from dataclasses import dataclass

import numpy as np
from mindspore import Tensor
from mindspore.train import Callback

from zoo_core.engine.run_checkpoints import checkpoint_position, run_checkpoints
from zoo_core.engine.monitor import keep_metrics_until
from zoo_core.runtime.config import ConfigError
from zoo_core.weights.checkpoint import CheckpointError, has_crc_trailer, network_weights, read_checkpoint
from zoo_core.weights.files import GROUP_LEARNING_RATE_PREFIX
from zoo_core.weights.fit import WeightMismatchError, load_weights, network_parameters

RESUME_AUTO = 'auto'
# Where checkpoints of an abandoned future go (positions after the one resumed from), out of the rotation.
ABANDONED_DIR = 'abandoned'
# Parameters of the training network that the config sets rather than the run's past: the lr schedule
# (one value per step, so its length follows --epochs) and the momentum.
CONFIG_SET_NAMES = frozenset({'learning_rate', 'momentum'})
# The optimizer's step counter: MindSpore's optimizers index the lr schedule with it.
OPTIMIZER_STEP = 'global_step'


@dataclass(frozen=True)
class ResumePoint:
    """A checkpoint to continue from and the steps completed when it was written."""
    path: str
    params: dict
    global_step: int


def saved_global_step(params, steps_per_epoch, path):
    """Steps completed at checkpoint `params`, in this run's `steps_per_epoch`.

    Checkpoints written before the position was stored (by MindSpore's ModelCheckpoint) count whole epochs.
    A mid-epoch checkpoint of a run with another epoch length (batch size, dataset) cannot be placed."""
    if 'epoch_num' not in params:
        raise CheckpointError(f"{path} has no epoch_num: it is not a training checkpoint of this zoo (to start "
                              f"from weights only, use --pretrained)")
    epoch = int(params['epoch_num'].asnumpy())
    if 'steps_per_epoch' not in params:
        return epoch * steps_per_epoch
    saved_epoch_steps = int(params['steps_per_epoch'].asnumpy())
    step = int(params['step_num'].asnumpy())
    if saved_epoch_steps == steps_per_epoch:
        return step
    if step % saved_epoch_steps:
        raise CheckpointError(f"{path} was written mid-epoch by a run of {saved_epoch_steps} steps per epoch; this "
                              f"one has {steps_per_epoch} (another batch size or dataset): resume from an "
                              f"epoch-end checkpoint")
    return epoch * steps_per_epoch


def newest_complete_checkpoint(directory, net, steps_per_epoch, logger):
    """The `ResumePoint` of the newest checkpoint in `directory` that reads back whole, or None."""
    for path in reversed(run_checkpoints(directory, net)):
        try:
            params = read_checkpoint(path)
            if 'steps_per_epoch' in params and not has_crc_trailer(path):  # written by CheckpointWriter, cut short
                raise CheckpointError(f"{path} has lost its CRC record: it is truncated")
            return ResumePoint(path, params, saved_global_step(params, steps_per_epoch, path))
        except CheckpointError as error:
            logger.warning(f"skipping {path}: {error}")
    return None


def find_resume_point(cfg, checkpoint_dir, steps_per_epoch, logger):
    """The checkpoint that `cfg.resume` means ('' -> None, 'auto' -> the newest complete one of
    `checkpoint_dir` or None, else the file named), as a `ResumePoint`."""
    if not cfg.resume:
        return None
    if cfg.resume == RESUME_AUTO:
        point = newest_complete_checkpoint(checkpoint_dir, cfg.net, steps_per_epoch, logger)
        if point is None:
            logger.info(f"--resume auto: no complete checkpoint in {checkpoint_dir}: starting a new run")
        return point
    params = read_checkpoint(cfg.resume)
    return ResumePoint(os.path.abspath(cfg.resume), params, saved_global_step(params, steps_per_epoch, cfg.resume))


def global_step_changed(point):
    """True when the checkpoint's own step count differs from the position it resumes at (a run with another
    epoch length: the position was mapped to this run's epochs)."""
    return 'step_num' in point.params and int(point.params['step_num'].asnumpy()) != point.global_step and \
        'steps_per_epoch' in point.params


def is_config_set(name):
    """True for a training-network parameter that the config sets (`CONFIG_SET_NAMES`)."""
    return name in CONFIG_SET_NAMES or name.startswith(GROUP_LEARNING_RATE_PREFIX)


def restore_training_state(point, train_network, net):
    """Copy the checkpoint of `point` into `net` (names and shapes checked) and every other parameter of
    `train_network` (optimizer state, loss scale, EMA, ...) by name; a missing one is an error."""
    try:
        load_weights(net, network_weights(point.params))
    except WeightMismatchError as error:
        raise CheckpointError(f"{point.path}: {error}") from None
    network_names = set(network_parameters(net))
    state = {p.name: p for p in train_network.get_parameters()
             if p.name not in network_names and not is_config_set(p.name)}
    missing = sorted(name for name in state if name not in point.params)
    if missing:
        raise CheckpointError(f"{point.path} lacks the training state {', '.join(missing[:5])}"
                              f"{' ...' if len(missing) > 5 else ''} (written by another training set-up?)")
    for name, param in state.items():
        saved = point.params[name]
        if name == OPTIMIZER_STEP and global_step_changed(point):
            # The epoch length changed: the optimizer's step (its index into the lr schedule) follows the position.
            param.set_data(Tensor(np.full(param.shape, point.global_step), param.dtype))
            continue
        if tuple(saved.shape) != tuple(param.shape):
            raise CheckpointError(f"{point.path}: {name} has shape {tuple(saved.shape)}, this run's "
                                  f"{tuple(param.shape)}")
        param.set_data(saved.value().astype(param.dtype))


def run_is_complete(point, steps_per_epoch: int, epochs: int) -> bool:
    """Whether resume point `point` is at the end of the run's last epoch (or past it)."""
    return point.global_step >= epochs * steps_per_epoch


def check_remaining_epochs(point, steps_per_epoch, epochs):
    """Refuse a resume from a named checkpoint with nothing left to train."""
    if run_is_complete(point, steps_per_epoch, epochs):
        raise ConfigError(f"{point.path} is at the end of epoch {point.global_step // steps_per_epoch}: nothing to do "
                          f"for --epochs {epochs} (raise --epochs to train on, or pass --resume '' and another "
                          f"--output_dir to start a new run)")


def set_aside_abandoned(checkpoint_dir, net, start_step, steps_per_epoch, logger):
    """Move the run's checkpoints positioned after `start_step` (an abandoned future, or a corrupt file that
    was skipped) into `checkpoint_dir/abandoned/`, out of the rotation and of `--resume auto`'s way."""
    moved = []
    for path in run_checkpoints(checkpoint_dir, net):
        epoch, step = checkpoint_position(net, os.path.basename(path))
        if (epoch - 1) * steps_per_epoch + step > start_step:
            target_dir = os.path.join(checkpoint_dir, ABANDONED_DIR)
            os.makedirs(target_dir, exist_ok=True)
            os.replace(path, os.path.join(target_dir, os.path.basename(path)))
            moved.append(path)
    if moved:
        logger.warning(f"moved {len(moved)} checkpoint(s) after the resumed position into "
                       f"{os.path.join(checkpoint_dir, ABANDONED_DIR)}: {', '.join(map(os.path.basename, moved))}")
    return moved


class AbandonedCheckpoints(Callback):
    """Rank 0's `set_aside_abandoned` after the first step, when every rank has chosen its checkpoint (a step
    all-reduces the gradients, so no rank can still be reading the folder)."""

    def __init__(self, checkpoint_dir, net, start_step, steps_per_epoch, logger):
        super().__init__()
        self.arguments = (checkpoint_dir, net, start_step, steps_per_epoch, logger)
        self.done = False

    def on_train_step_end(self, run_context):
        if not self.done:
            self.done = True
            set_aside_abandoned(*self.arguments)


def resume_run(cfg, train_network, net, dataset, steps_per_epoch, checkpoint_dir, logger, rank=0):
    """Continue the run that `cfg.resume` names, if any: restore the whole training state, start `dataset`
    at the next step and (rank 0) drop the metrics rows of epochs not completed. Returns the steps
    completed (0 for a new run; all of the run's for a complete run found by `--resume auto`, which is
    left as it is)."""
    point = find_resume_point(cfg, checkpoint_dir, steps_per_epoch, logger)
    start_step = 0
    if point is not None and cfg.resume == RESUME_AUTO and run_is_complete(point, steps_per_epoch, cfg.epochs):
        # Re-running a finished run's command (or one killed after its last checkpoint, whose epoch-end rows
        # and best checkpoint are written before it): nothing is lost and nothing is left to do.
        logger.info(f"the run is complete: {point.path} is at the end of epoch {cfg.epochs}; nothing left to "
                    f"train (raise --epochs to train on)")
        return point.global_step
    if point is not None:
        check_remaining_epochs(point, steps_per_epoch, cfg.epochs)
        restore_training_state(point, train_network, net)
        start_step = point.global_step
        # A global step: the pipeline starts at that epoch's shuffle and that step (see seed_run).
        dataset.set_init_step(start_step)
        epoch, step = divmod(start_step, steps_per_epoch)
        logger.info(f"resumed from {point.path} at epoch {epoch}" + (f", step {step} of epoch {epoch + 1}" if step
                                                                      else "") + f" (global step {start_step})")
    if rank == 0:
        dropped = keep_metrics_until(cfg.output_dir, start_step // steps_per_epoch)
        if dropped:
            logger.info(f"dropped {dropped} row(s) of epochs after {start_step // steps_per_epoch} from the "
                        f"metrics log")
    return start_step
