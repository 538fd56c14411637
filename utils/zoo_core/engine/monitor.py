"""Training callbacks: progress lines, per-epoch summary with a metrics log, and a divergence guard."""
import json
import math
import os
import time

import numpy as np
from mindspore.train import Callback

from zoo_core.runtime.errors import RunFailedError
from zoo_core.weights.checkpoint import folder_checkpoints
from zoo_core.runtime.config import Setting, declare

METRICS_FILE = 'metrics.jsonl'
# A loss this many times that of a uniform guess (ln of the class count) means the run diverged: cross-entropy
# starts near 1x and falls. 100x is 230 for 10 classes and 691 for ImageNet's 1000, far above any real
# run's loss, and far below the 1e18 that a finite but exploding run reaches (seen at --base_lr 1e6).
DIVERGENCE_FACTOR = 100


def step_loss(outputs):
    """The scalar loss of a step's outputs (the loss alone, or (loss, overflow, scale) with a loss scale)."""
    if isinstance(outputs, (tuple, list)):
        outputs = outputs[0]
    return float(np.mean(outputs.asnumpy()))


def format_duration(seconds):
    """'1h02m03s' / '2m03s' / '3s'."""
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f'{hours}h{minutes:02d}m{secs:02d}s'
    return f'{minutes}m{secs:02d}s' if minutes else f'{secs}s'


def divergence_bound(num_classes):
    """The loss above which a run counts as diverged: `DIVERGENCE_FACTOR` x ln(`num_classes`) (ln 2 at least)."""
    return DIVERGENCE_FACTOR * math.log(max(num_classes, 2))


def newest_checkpoint(directory):
    """The most recently written `.ckpt` file in `directory`, or None when there is none."""
    files = folder_checkpoints(directory)
    return files[-1] if files else None


class DivergedLossError(RunFailedError, FloatingPointError):
    """The training loss became NaN, infinite, or larger than the divergence bound."""


class TrainingMonitor(Callback):
    """Logs a progress line every `log_every` steps (epoch, step, loss, lr, img/s, ETA), stops the run when
    the loss diverges (NaN, infinite, or above `divergence_bound(num_classes)`), and at each epoch end logs
    a summary and appends it to `metrics.jsonl`.

    Other callbacks add fields to the epoch's record through `record` (the eval callback adds accuracy),
    so this callback must come after them in the list; it must come before the checkpoint callback, so that
    the step that diverged stops the run before its weights can be saved.

    Args:
        checkpoint_dir: the run's checkpoint folder, whose newest file the divergence message names.
        start_step: the steps completed before this process began (a resumed run's position).
        accumulate_steps: micro-batches per optimizer update; `steps_per_epoch`, `global_batch` and `start_step`
            count micro-batches, the progress lines and `lr_schedule` (one value per update) count updates;
            the run's length is that of the lr schedule.
    """

    def __init__(self, logger, lr_schedule, global_batch, steps_per_epoch, log_every, output_dir=None,
                 num_classes=1000, checkpoint_dir=None, skipped_files=0, start_step=0, accumulate_steps=1):
        super().__init__()
        self.start_step = start_step
        self.accumulate_steps = accumulate_steps
        self.updates_per_epoch = steps_per_epoch // accumulate_steps
        self.epochs = max(1, len(lr_schedule) // self.updates_per_epoch)
        self.loss_bound = divergence_bound(num_classes)
        self.checkpoint_dir = checkpoint_dir
        self.skipped_files = skipped_files
        self.logger = logger
        self.lr_schedule = lr_schedule
        self.global_batch = global_batch
        self.steps_per_epoch = steps_per_epoch
        self.log_every = max(1, log_every)
        self.metrics_path = os.path.join(output_dir, METRICS_FILE) if output_dir else None
        self.record = {}
        self.epoch_losses = []
        self.epoch_start = self.window_start = time.perf_counter()
        self.window_steps = 0

    def on_train_epoch_begin(self, run_context):
        self.record = {}
        self.epoch_losses = []
        self.epoch_start = self.window_start = time.perf_counter()
        self.window_steps = 0

    def on_train_step_end(self, run_context):
        params = run_context.original_args()
        loss = step_loss(params.net_outputs)
        # Model.train counts the steps of this process (from 0 in a resumed one); the position is the run's.
        global_step = self.start_step + params.cur_step_num
        epoch = (global_step - 1) // self.steps_per_epoch + 1
        step_in_epoch = global_step - (epoch - 1) * self.steps_per_epoch
        if not math.isfinite(loss) or loss > self.loss_bound:
            raise DivergedLossError(self.divergence_message(loss, epoch, step_in_epoch))
        self.epoch_losses.append(loss)
        self.window_steps += 1
        update, rest = divmod(step_in_epoch, self.accumulate_steps)
        if rest or (update % self.log_every and update != self.updates_per_epoch):
            return
        global_update = (epoch - 1) * self.updates_per_epoch + update
        loss = float(np.mean(self.epoch_losses[-self.accumulate_steps:]))  # the update's micro-batches
        now = time.perf_counter()
        images_per_second = self.window_steps * self.global_batch / max(now - self.window_start, 1e-9)
        steps_left = max(0, self.epochs * self.steps_per_epoch - global_step)
        eta = steps_left * self.global_batch / max(images_per_second, 1e-9)
        self.logger.info(f"epoch {epoch}/{self.epochs} step {update}/{self.updates_per_epoch} "
                         f"loss {loss:.4f} lr {self.current_lr(global_update):.6f} "
                         f"{images_per_second:.1f} img/s ETA {format_duration(eta)}")
        self.window_start, self.window_steps = now, 0

    def divergence_message(self, loss, epoch, step_in_epoch):
        """Why the run stopped, where, and which checkpoint to go back to."""
        cause = 'not finite' if not math.isfinite(loss) else f'above the divergence bound {self.loss_bound:.1f}'
        last_good = newest_checkpoint(self.checkpoint_dir)
        kept = (f"the last good checkpoint is {last_good}" if last_good else
                f"there is no checkpoint yet in {self.checkpoint_dir}" if self.checkpoint_dir else
                "no checkpoint was written")
        return (f"training diverged: loss {loss:.4g} at epoch {epoch} step {step_in_epoch} is {cause}; the "
                f"diverged weights were not saved, {kept}; lower the lr (--base_lr) or check the data")

    def current_lr(self, global_update):
        """The learning rate used at (1-based) optimizer update `global_update`."""
        return float(self.lr_schedule[min(global_update, len(self.lr_schedule)) - 1])

    def on_train_epoch_end(self, run_context):
        if run_context.get_stop_requested():  # stopped mid-epoch (a signal): the epoch has not ended
            return
        params = run_context.original_args()
        seconds = time.perf_counter() - self.epoch_start
        epoch = params.cur_epoch_num
        record = dict(epoch=epoch, loss=float(np.mean(self.epoch_losses)) if self.epoch_losses
                      else float('nan'), lr=self.current_lr(epoch * self.updates_per_epoch), seconds=round(seconds, 3),
                      images_per_second=round((len(self.epoch_losses) or self.steps_per_epoch) * self.global_batch
                                              / max(seconds, 1e-9), 2))
        record.update(self.record)
        if 0 < len(self.epoch_losses) < self.steps_per_epoch:  # resumed mid-epoch: the loss of the steps run here
            record['loss_steps'] = len(self.epoch_losses)
        if self.skipped_files:
            record['skipped_files'] = self.skipped_files
        self.logger.info(f"epoch {record['epoch']} done in {format_duration(seconds)}: mean loss "
                         f"{record['loss']:.4f}, {record['images_per_second']:.1f} img/s, "
                         f"{seconds / (len(self.epoch_losses) or self.steps_per_epoch) * 1000:.1f} ms/step"
                         + (f", {self.skipped_files} bad image file(s) skipped" if self.skipped_files else ""))
        if self.metrics_path:
            with open(self.metrics_path, 'a', encoding='utf-8') as handle:
                handle.write(json.dumps(record) + '\n')


def keep_metrics_until(output_dir, epoch):
    """Drop the rows of `output_dir`'s metrics log after `epoch` (an abandoned future, or the epoch that a
    resumed run repeats), so that the log keeps one row per epoch; rewritten atomically. Returns the
    number of rows dropped."""
    path = os.path.join(output_dir, METRICS_FILE)
    if not os.path.isfile(path):
        return 0
    with open(path, encoding='utf-8') as handle:
        rows = [line for line in handle if line.strip()]
    kept = [line for line in rows if json.loads(line)['epoch'] <= epoch]
    if len(kept) < len(rows):
        staging = path + '.tmp'
        with open(staging, 'w', encoding='utf-8') as handle:
            handle.writelines(kept)
        os.replace(staging, path)
    return len(rows) - len(kept)


# The setting of the progress lines (declared here, assembled by zoo_core.engine.settings).
MONITOR_SETTINGS = declare(
    __name__,
    Setting('log_every', 20, 'steps between progress lines', 'zoo'),
)
