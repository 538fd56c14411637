"""Per-step learning-rate schedules: linear warmup, then cosine to `min_lr` or step decay."""
import math

import numpy as np

from zoo_core.runtime.config import REQUIRED, ConfigError, Setting, declare

SCHEDULES = ('cosine', 'step')


def scaled_lr(base_lr, base_batch, global_batch):
    """Linear scaling rule (Goyal et al.): the recipe's lr is per `base_batch` images."""
    return base_lr * global_batch / base_batch


def warmup_lr(peak_lr, warmup_steps, step, warmup_start_lr=0.0):
    """Linear warmup from `warmup_start_lr` to `peak_lr`, reaching it at step `warmup_steps`."""
    return warmup_start_lr + (peak_lr - warmup_start_lr) * (step + 1) / warmup_steps


def build_lr_schedule(peak_lr, steps_per_epoch, epochs, warmup_epochs=0, schedule='cosine', min_lr=0.0,
                      milestones=(30, 60, 90), gamma=0.1):
    """The learning rate of every training step, as a float32 array of `steps_per_epoch * epochs`.

    Args:
        schedule: 'cosine' (to `min_lr` at the last step) or 'step' (x `gamma` at each milestone epoch).
    """
    if schedule not in SCHEDULES:
        raise ConfigError(f"unknown lr schedule {schedule!r}; choose from {', '.join(SCHEDULES)}")
    if steps_per_epoch < 1 or epochs < 1:
        raise ConfigError(f"need at least one step and one epoch, got {steps_per_epoch} steps x {epochs} epochs")
    total = steps_per_epoch * epochs
    warmup = min(int(warmup_epochs * steps_per_epoch), total)
    rates = np.empty(total, dtype=np.float32)
    decay_steps = max(total - warmup, 1)
    for step in range(total):
        if step < warmup:
            rates[step] = warmup_lr(peak_lr, warmup, step)
        elif schedule == 'cosine':
            progress = (step - warmup) / decay_steps
            rates[step] = min_lr + 0.5 * (peak_lr - min_lr) * (1.0 + math.cos(math.pi * progress))
        else:
            epoch = step // steps_per_epoch
            rates[step] = peak_lr * gamma ** sum(epoch >= m for m in milestones)
    return rates


# The settings of the learning-rate schedule (declared here, assembled by zoo_core.engine.settings).
SCHEDULE_SETTINGS = declare(
    __name__,
    Setting('epochs', REQUIRED, 'training epochs', 'paper', kind=int),
    Setting('warmup_epochs', REQUIRED, 'linear warmup epochs before the schedule', 'paper', kind=int),
    Setting('base_batch', REQUIRED, 'the batch that `base_lr` is given for', 'ModelZoo', kind=int),
    Setting('base_lr', REQUIRED, 'lr per `base_batch` images, scaled linearly with the global batch', 'paper',
            kind=float),
    Setting('lr_schedule', 'cosine', '`cosine` or `step`', 'ModelZoo'),
    Setting('min_lr', 0.0, 'lr at the end of the cosine schedule', 'ModelZoo'),
    Setting('milestones', [30, 60, 90], 'epochs where the `step` schedule decays', 'torchvision'),
    Setting('lr_decay_rate', 0.1, 'factor of each `step` decay', 'ModelZoo'),
)
