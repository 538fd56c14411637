"""Training callbacks: progress lines, per-epoch summary with a metrics log, and a NaN guard."""
import json
import math
import os
import time

import numpy as np
from mindspore.train import Callback

from zoo_core.runtime.errors import RunFailedError

METRICS_FILE = 'metrics.jsonl'


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


class NonFiniteLossError(RunFailedError, FloatingPointError):
    """The training loss became NaN or infinite."""


class TrainingMonitor(Callback):
    """Logs a progress line every `log_every` steps (epoch, step, loss, lr, img/s, ETA), stops the run on a
    non-finite loss, and at each epoch end logs a summary and appends it to `metrics.jsonl`.

    Other callbacks add fields to the epoch's record through `record` (the eval callback adds accuracy),
    so this callback must come after them in the list.
    """

    def __init__(self, logger, lr_schedule, global_batch, steps_per_epoch, log_every, output_dir=None,
                 skipped_files=0):
        super().__init__()
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
        epoch = params.cur_epoch_num
        step_in_epoch = (params.cur_step_num - 1) % self.steps_per_epoch + 1
        # Model.train restarts cur_step_num at a resumed run's first epoch; the epoch number is absolute.
        global_step = (epoch - 1) * self.steps_per_epoch + step_in_epoch
        if not math.isfinite(loss):
            raise NonFiniteLossError(f"loss is {loss} at epoch {epoch} step {step_in_epoch}: lower the lr "
                                     f"(--base_lr) or check the data; the last good checkpoint is kept")
        self.epoch_losses.append(loss)
        self.window_steps += 1
        if step_in_epoch % self.log_every and step_in_epoch != self.steps_per_epoch:
            return
        now = time.perf_counter()
        images_per_second = self.window_steps * self.global_batch / max(now - self.window_start, 1e-9)
        steps_left = (params.epoch_num - epoch) * self.steps_per_epoch + self.steps_per_epoch - step_in_epoch
        eta = steps_left * self.global_batch / max(images_per_second, 1e-9)
        self.logger.info(f"epoch {epoch}/{params.epoch_num} step {step_in_epoch}/{self.steps_per_epoch} "
                         f"loss {loss:.4f} lr {self.current_lr(global_step):.6f} "
                         f"{images_per_second:.1f} img/s ETA {format_duration(eta)}")
        self.window_start, self.window_steps = now, 0

    def current_lr(self, global_step):
        """The learning rate used at (1-based) `global_step`."""
        return float(self.lr_schedule[min(global_step, len(self.lr_schedule)) - 1])

    def on_train_epoch_end(self, run_context):
        params = run_context.original_args()
        seconds = time.perf_counter() - self.epoch_start
        epoch = params.cur_epoch_num
        record = dict(epoch=epoch, loss=float(np.mean(self.epoch_losses)) if self.epoch_losses
                      else float('nan'), lr=self.current_lr(epoch * self.steps_per_epoch), seconds=round(seconds, 3),
                      images_per_second=round(self.steps_per_epoch * self.global_batch / max(seconds, 1e-9), 2))
        record.update(self.record)
        if self.skipped_files:
            record['skipped_files'] = self.skipped_files
        self.logger.info(f"epoch {record['epoch']} done in {format_duration(seconds)}: mean loss "
                         f"{record['loss']:.4f}, {record['images_per_second']:.1f} img/s, "
                         f"{seconds / self.steps_per_epoch * 1000:.1f} ms/step"
                         + (f", {self.skipped_files} bad image file(s) skipped" if self.skipped_files else ""))
        if self.metrics_path:
            with open(self.metrics_path, 'a', encoding='utf-8') as handle:
                handle.write(json.dumps(record) + '\n')
