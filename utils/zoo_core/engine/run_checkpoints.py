"""The run's checkpoints: one naming scheme, atomic writes, CRC, rotation that survives resumes.

A checkpoint holds every parameter of the training network (the network, the optimizer's state, a loss
scale, any extra state cell such as EMA weights) and the position: `epoch_num` (epochs completed),
`step_num` (steps completed since the run began) and `steps_per_epoch`. Its name is
`{net}-{epoch}_{step}.ckpt`, the epoch being 1-based and the step counted within it (`resnest14d-2_8.ckpt`:
epoch 2, step 8), the same before and after a resume.

A write goes to a hidden staging file that MindSpore's `save_checkpoint` itself writes through its
`.tmp` name (with a CRC32 of its content), is flushed to the disk, then renamed into place: a reader never
sees a partial checkpoint under a checkpoint's name. Only then are the oldest files beyond
`keep_checkpoint_max` deleted (counted over the folder's files of the run, whichever process wrote them);
a kill between the rename and the deletion leaves one file more, which the next write deletes.
A failed write (a full disk) removes its partial file, leaves the others as they were and stops the run
with one error line.
"""
import errno
import os
import re

import mindspore as ms
from mindspore.train import Callback

from zoo_core.runtime.errors import RunFailedError
from zoo_core.weights.files import MINDSPORE_SUFFIX
from zoo_core.runtime.config import Setting, declare

CHECKPOINT_DIR = 'checkpoints'
# Written by save_checkpoint before its rename; a file of this kind at start was left by a killed write.
MINDSPORE_TEMP_SUFFIX = '.tmp'
# Our staging name: hidden, so that listings of the folder's checkpoints never include it.
STAGING_PREFIX = '.'
STAGING_SUFFIX = '.writing' + MINDSPORE_SUFFIX


class CheckpointWriteError(RunFailedError):
    """A checkpoint could not be written (a full disk, no permission): the run stops, the older ones stay."""


def checkpoint_name(net, global_step, steps_per_epoch):
    """`{net}-{epoch}_{step}.ckpt` of the position after `global_step` (>= 1) steps."""
    epoch, step = divmod(global_step - 1, steps_per_epoch)
    return f'{net}-{epoch + 1}_{step + 1}{MINDSPORE_SUFFIX}'


def checkpoint_position(net, file_name):
    """(epoch, step in epoch) of a checkpoint named by `checkpoint_name`, or None for any other file."""
    match = re.fullmatch(rf'{re.escape(net)}-(\d+)_(\d+){re.escape(MINDSPORE_SUFFIX)}', file_name)
    return (int(match.group(1)), int(match.group(2))) if match else None


def run_checkpoints(directory, net):
    """The run's checkpoint files in `directory` (named by `checkpoint_name`), oldest position first."""
    if not os.path.isdir(directory):
        return []
    named = [(checkpoint_position(net, name), name) for name in os.listdir(directory)]
    return [os.path.join(directory, name) for position, name in sorted(n for n in named if n[0])]


def remove_stale_files(directory):
    """Delete the partial files that a killed write left in `directory`; returns their paths."""
    if not os.path.isdir(directory):
        return []
    stale = [os.path.join(directory, name) for name in sorted(os.listdir(directory))
             if name.endswith(MINDSPORE_TEMP_SUFFIX) or (name.startswith(STAGING_PREFIX)
                                                        and name.endswith(STAGING_SUFFIX))]
    for path in stale:
        remove_file(path)
    return stale


def remove_file(path):
    """Delete `path` if it exists (save_checkpoint leaves its files read-only; unlinking needs no write bit)."""
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def sync_to_disk(path):
    """Flush a file's or a folder's data to the disk, so that a rename after it cannot expose a hole."""
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def position_dict(global_step, steps_per_epoch):
    """The position entries written into a checkpoint."""
    return {'epoch_num': global_step // steps_per_epoch, 'step_num': global_step, 'steps_per_epoch': steps_per_epoch}


def describe_write_error(error):
    """'No space left on device' and friends, in a form that says what to do."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return f"{error.strerror or error}: the disk (or the file-size limit) is full; free space"
    return f"{error.strerror or error}"


def save_atomically(save_obj, path, append_dict=None):
    """`ms.save_checkpoint` of `save_obj` (with a CRC) to `path` through a hidden staging name and a rename:
    `path` holds the old file or the whole new one, never a part (save_checkpoint alone deletes `path`
    before it writes). Raises OSError when the write fails, after removing the partial file."""
    directory, name = os.path.split(path)
    staging = os.path.join(directory, STAGING_PREFIX + name[:-len(MINDSPORE_SUFFIX)] + STAGING_SUFFIX)
    try:
        ms.save_checkpoint(save_obj, staging, append_dict=append_dict, crc_check=True)
        sync_to_disk(staging)
        os.replace(staging, path)
        sync_to_disk(directory or os.curdir)
    except OSError:
        for partial in (staging, staging[:-len(MINDSPORE_SUFFIX)] + MINDSPORE_TEMP_SUFFIX):
            remove_file(partial)
        raise


class CheckpointWriter:
    """Writes the run's checkpoints into `directory` and keeps the newest `keep_max` of them.

    Args:
        net: the network's name, the prefix of every file name.
    """

    def __init__(self, directory, net, keep_max, logger):
        self.directory = directory
        self.net = net
        self.keep_max = keep_max
        self.logger = logger
        os.makedirs(directory, exist_ok=True)
        for path in remove_stale_files(directory):
            logger.warning(f"removed {path}, left by an interrupted checkpoint write")

    def save(self, train_network, global_step, steps_per_epoch):
        """Write every parameter of `train_network` with the position after `global_step` steps; returns
        the checkpoint's path. Raises `CheckpointWriteError` when the file cannot be written."""
        path = os.path.join(self.directory, checkpoint_name(self.net, global_step, steps_per_epoch))
        try:
            save_atomically(train_network, path, position_dict(global_step, steps_per_epoch))
        except OSError as error:
            kept = run_checkpoints(self.directory, self.net)
            raise CheckpointWriteError(
                f"cannot write checkpoint {path}: {describe_write_error(error)}; the previous checkpoints are "
                f"intact (newest: {kept[-1] if kept else 'none'}); continue with --resume auto") from None
        self.prune(keep=path)
        return path

    def prune(self, keep):
        """Delete the oldest of the run's checkpoints beyond `keep_max`, never `keep` (the one just written)."""
        files = [f for f in run_checkpoints(self.directory, self.net) if f != keep]
        for path in files[:max(0, len(files) + 1 - self.keep_max)]:
            remove_file(path)


class CheckpointCallback(Callback):
    """Saves a checkpoint every `every_steps` steps (0: never mid-epoch) and at the end of every epoch.

    Args:
        start_step: the steps completed before this process began (a resumed run's position).
    """

    def __init__(self, writer, steps_per_epoch, every_steps=0, start_step=0):
        super().__init__()
        self.writer = writer
        self.steps_per_epoch = steps_per_epoch
        self.every_steps = every_steps
        self.start_step = start_step
        self.last_saved_step = start_step
        self.last_saved_path = None

    def global_step(self, run_context):
        """Steps completed since the run began (Model restarts its own count in a resumed process)."""
        return self.start_step + run_context.original_args().cur_step_num

    def save(self, run_context):
        """Write the checkpoint of the current position, unless it was written already; returns its path
        (None when the position is the one resumed from)."""
        step = self.global_step(run_context)
        if step != self.last_saved_step:
            self.last_saved_path = self.writer.save(run_context.original_args().train_network, step,
                                                    self.steps_per_epoch)
            self.last_saved_step = step
        return self.last_saved_path

    def on_train_step_end(self, run_context):
        step = self.global_step(run_context)
        if self.every_steps and step % self.every_steps == 0 and step % self.steps_per_epoch:
            self.save(run_context)

    def on_train_epoch_end(self, run_context):
        self.save(run_context)


# The settings of a run's folder and checkpoints (declared here, assembled by zoo_core.engine.settings).
RUN_FOLDER_SETTINGS = declare(
    __name__,
    Setting('output_dir', '', 'logs, checkpoints and results; empty: ./output/<net> (eval: ./output/<net>/eval)',
            'zoo', eval=True),
    Setting('resume', '', "train: continue a run: 'auto' (the newest complete checkpoint in "
            "<output_dir>/checkpoints; none: a new run), or a training checkpoint of this zoo (weights, optimizer "
            "and other state, epoch and step)", 'zoo'),
    Setting('keep_checkpoint_max', 5, 'checkpoints kept, step and epoch-end ones alike (best.ckpt besides)', 'zoo'),
    Setting('save_every_steps', 0, 'train: also save a checkpoint every N steps within an epoch (0: at epoch ends '
            'only); a killed run loses at most N steps', 'zoo'),
)
