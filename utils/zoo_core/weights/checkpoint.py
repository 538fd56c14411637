"""Reading this zoo's MindSpore checkpoints: the network's weights without the optimizer's state."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Dict, List, Mapping, Optional, Sequence

from zoo_core.runtime.errors import ZooError
from zoo_core.weights.files import MINDSPORE_SUFFIX, load_mindspore_checkpoint, network_weights_of
from zoo_core.weights.fit import WeightMismatchError, load_weights

if TYPE_CHECKING:  # names used in annotations only
    import mindspore as ms
    import numpy as np

    from zoo_core.weights.files import StrPath


# save_checkpoint(crc_check=True) ends the file with this marker and a 10-byte CRC32 of the rest.
CRC_MARKER = b'crc_num'
CRC_TRAILER_BYTES = len(CRC_MARKER) + 10


class CheckpointError(ZooError):
    """A checkpoint file that cannot be read or used."""


def check_checkpoint_file(path: StrPath) -> None:
    """Raise a `CheckpointError` unless `path` is a non-empty file (MindSpore calls an empty one a
    'filter_prefix' problem, which sends the user the wrong way)."""
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint not found: {path}")
    if os.path.getsize(path) == 0:
        raise CheckpointError(f"checkpoint {path} is empty (0 bytes): the file is truncated, e.g. by an "
                              f"interrupted save or copy; use another checkpoint")


def has_crc_trailer(path: StrPath) -> bool:
    """True when the file ends with the CRC record of `save_checkpoint(crc_check=True)` (a truncated one has
    lost it; files written without CRC never had it)."""
    with open(path, 'rb') as handle:
        handle.seek(0, os.SEEK_END)
        if handle.tell() < CRC_TRAILER_BYTES:
            return False
        handle.seek(-CRC_TRAILER_BYTES, os.SEEK_END)
        return handle.read(len(CRC_MARKER)) == CRC_MARKER


def read_checkpoint(path: StrPath) -> Dict[str, ms.Parameter]:
    """name -> Parameter of a MindSpore checkpoint, with a clear error for a missing, empty or broken file
    (its CRC32 is checked when it has one: this zoo's training writes them)."""
    check_checkpoint_file(path)
    try:
        return load_mindspore_checkpoint(path, crc_check=has_crc_trailer(path))
    except (RuntimeError, ValueError) as error:
        raise CheckpointError(f"cannot read checkpoint {path}: {str(error).splitlines()[0]}") from None


def network_weights(params: Mapping[str, ms.Parameter]) -> Dict[str, np.ndarray]:
    """name -> numpy array of the network's own tensors in a checkpoint's parameter dict (the optimizer
    slots and the training position left out, see `files.network_weights_of`)."""
    return {k: v.asnumpy() for k, v in network_weights_of(params).items()}


def load_network_checkpoint(net: ms.nn.Cell, path: StrPath,
                            ignore_prefixes: Sequence[str] = ()) -> Dict[str, ms.Parameter]:
    """Load a checkpoint's network weights into `net` after checking every name and shape; returns the
    checkpoint's full parameter dict (with its training state)."""
    params = read_checkpoint(path)
    try:
        load_weights(net, network_weights(params), ignore_prefixes)
    except WeightMismatchError as error:
        raise CheckpointError(f"{path}: {error}") from None
    return params


def folder_checkpoints(directory: Optional[str]) -> List[str]:
    """The `.ckpt` files of `directory`, oldest first (by modification time, then name); [] for none.
    Hidden files (a checkpoint being written) are not listed."""
    if not directory or not os.path.isdir(directory):
        return []
    files = [os.path.join(directory, f) for f in os.listdir(directory)
             if f.endswith(MINDSPORE_SUFFIX) and not f.startswith('.')]
    return sorted(files, key=lambda f: (os.path.getmtime(f), f))


def checkpoint_files(path: str) -> List[str]:
    """The checkpoint itself, or the `.ckpt` files of a folder sorted by modification time."""
    if os.path.isdir(path):
        files = folder_checkpoints(path)
        if not files:
            raise CheckpointError(f"no {MINDSPORE_SUFFIX} files in {path}")
        return files
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint not found: {path}")
    return [path]
