"""Stopping a run on SIGINT (Ctrl-C) or SIGTERM (a scheduler's preemption) without losing its work.

The first signal lets the current step finish; the run then saves a checkpoint (rank 0), stops, and the
command exits 128 + the signal's number (130 for SIGINT, 143 for SIGTERM) after printing how to resume.
A signal that lands in an epoch's last step lets that epoch end as usual (evaluation, metrics, checkpoint)
first. A second signal stops the process at once, by the signal's default action.

In a distributed run every rank learns at each step whether any rank was signalled (a one-element
all-reduce), so all ranks stop after the same step, whichever got the signal.

MindSpore's `mindspore.train.OnRequestExit` does the first half of this, but it takes SIGTERM only, writes
its own file name (`rank_<id>/Net_train.ckpt`, outside this zoo's rotation and `--resume auto`), has no
second-signal escape and leaves the ranks to stop independently, so it is not used.
"""
import os
import shlex
import signal

import numpy as np
from mindspore.train import Callback

from zoo_core.runtime.distributed import all_reduce_sum
from zoo_core.runtime.sigint import KEEP_SIGINT

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# A process ended by signal N exits with 128 + N in the shells' convention.
SIGNAL_EXIT_BASE = 128


class GracefulStop(Callback):
    """Turns SIGINT/SIGTERM into a checkpoint and a clean stop after the current step.

    Args:
        save: function of the run context that writes the current position's checkpoint and returns its
            path (rank 0's `CheckpointCallback.save`); None on the other ranks.
        start_step: the steps completed before this process began (a resumed run's position).
    """

    def __init__(self, logger, steps_per_epoch, group_size=1, save=None, start_step=0):
        super().__init__()
        self.logger = logger
        self.steps_per_epoch = steps_per_epoch
        self.group_size = group_size
        self.save = save
        self.start_step = start_step
        self.signum = None
        self.saved_path = None
        self.stopped_at_step = None
        self.previous_handlers = {}
        self.keep_sigint = KEEP_SIGINT

    @property
    def exit_status(self):
        """128 + the signal that stopped the run, or None when it was not stopped."""
        return None if self.stopped_at_step is None else SIGNAL_EXIT_BASE + self.signum

    def handle(self, signum, frame):
        """First signal: remember it. Second: the default action, at once."""
        if self.signum is not None:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        self.signum = signum
        # Not the logger: a handler may run while the logging lock is held.
        os.write(2, f"\nreceived {signal.Signals(signum).name}: stopping after this step and saving a checkpoint "
                    f"(send it again to stop at once)\n".encode())

    def on_train_begin(self, run_context):
        for signum in STOP_SIGNALS:
            self.previous_handlers[signum] = signal.signal(signum, self.handle)
        # MindSpore's graph runs turn a Ctrl-C into a SIGTERM; `KeepSigint` keeps it a SIGINT (exit 130).
        self.keep_sigint.start()

    def on_train_end(self, run_context):
        self.keep_sigint.stop()
        for signum, handler in self.previous_handlers.items():
            signal.signal(signum, handler)

    def stop_signal(self):
        """The signal that stops the run (of this rank or of any rank), or None."""
        if self.group_size == 1:
            return self.signum
        flags = np.array([self.signum == s for s in STOP_SIGNALS], dtype=np.int32)
        summed = all_reduce_sum(flags, self.group_size)
        for signum, count in zip(STOP_SIGNALS, summed):
            if count:
                return self.signum or signum
        return None

    def stop(self, run_context, step, signum):
        """Save (rank 0) and ask Model.train to stop after `step` because of `signum`."""
        self.signum = signum
        self.stopped_at_step = step
        if self.save is not None:
            self.saved_path = self.save(run_context) or self.saved_path
        if self.group_size > 1:  # no rank exits before rank 0 has saved: a launcher kills the rest at the first exit
            all_reduce_sum(np.zeros(1, dtype=np.int32), self.group_size)
        run_context.request_stop()

    def on_train_step_end(self, run_context):
        step = self.start_step + run_context.original_args().cur_step_num
        if step % self.steps_per_epoch == 0:
            return  # the epoch's end comes next: stop after it (see on_train_epoch_end)
        signum = self.stop_signal()
        if signum is not None:
            self.stop(run_context, step, signum)

    def on_train_epoch_end(self, run_context):
        if self.stopped_at_step is not None:
            return
        signum = self.stop_signal()
        if signum is not None:
            self.stop(run_context, self.start_step + run_context.original_args().cur_step_num, signum)


def resume_command(argv, output_dir):
    """The command line that continues a stopped run: `argv` (the script and its flags) with
    `--resume auto` and `--output_dir OUTPUT_DIR`."""
    kept, skip = [], False
    for arg in argv[1:]:
        if skip:
            skip = False
        elif arg in ('--resume', '--output_dir'):
            skip = True
        elif not arg.startswith(('--resume=', '--output_dir=')):
            kept.append(arg)
    return shlex.join(['python', argv[0], *kept, '--output_dir', output_dir, '--resume', 'auto'])
