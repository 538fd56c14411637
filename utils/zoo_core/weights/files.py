"""Reading weight files: reference PyTorch (`.pth`/`.pt`/`.bin`) and `.safetensors` files, and MindSpore
checkpoints, as name -> numpy array in our parameter names.

`.safetensors` files are read without PyTorch; `.pth` files need it (imported only then).
"""
from __future__ import annotations

import os
import pickle
from typing import TYPE_CHECKING, Any, Dict, Mapping, TypeVar, Union

import mindspore as ms

from zoo_core.runtime.compat import available_memory_bytes, checkpoint_memory_check
from zoo_core.runtime.errors import MissingFileError, ZooError
from zoo_core.weights.fit import WeightMismatchError, rename_torch_state_dict

if TYPE_CHECKING:  # names used in annotations only
    import numpy as np

# For the type checker: a file path, as `os.path` takes it; any value of a name -> tensor mapping.
StrPath = Union[str, 'os.PathLike[str]']
Value = TypeVar('Value')

# Wrappers and prefixes that training frameworks put around a model's state dict.
STATE_DICT_WRAPPERS = ('state_dict', 'model', 'model_state', 'module', 'net')
STRIPPED_PREFIXES = ('module.', 'model.', '_orig_mod.')
TORCH_SUFFIXES = ('.pth', '.pt', '.bin')
SAFETENSORS_SUFFIX = '.safetensors'
MINDSPORE_SUFFIX = '.ckpt'
WEIGHT_FILE_SUFFIXES = TORCH_SUFFIXES + (SAFETENSORS_SUFFIX, MINDSPORE_SUFFIX)
# Besides the network, a MindSpore training checkpoint holds the optimizer's scalars, the position in
# training (`append_info`), the loss-scale cells' state, and one slot per parameter named
# `<slot>.<parameter name>` (`moments.` for Momentum, `accum.`/`stat.` for SGD, `adam_m.`/`adam_v.` for
# Adam and AdamWeightDecay).
# The counters of `zoo_core.optim.ema` (EMA_UPDATES_NAME), `zoo_core.engine.train_step`
# (ACCUMULATED_STEPS_NAME) and `zoo_core.models.noise` (NOISE_COUNTER_NAME) are training state too; their tensors (`ema.<name>`, `accumulated_grads.<name>`)
# are left out as `<slot>.<parameter>` entries.
TRAINING_STATE_NAMES = frozenset({'global_step', 'learning_rate', 'momentum', 'epoch_num', 'step_num', 'steps_per_epoch',
                                  'scale_sense', 'current_iterator_step', 'last_overflow_iterator_step',
                                  'ema_num_updates', 'accumulated_steps', 'noise_step'})
# An optimizer with parameter groups stores one learning rate per group.
GROUP_LEARNING_RATE_PREFIX = 'learning_rate_group_'
MIB = 1024 * 1024


class WeightFileError(ZooError):
    """A weight file that cannot be read: unknown type, truncated or corrupt, or not a state dict."""


def unwrap_state_dict(obj: Any) -> Dict[str, Any]:
    """The plain name->tensor mapping inside a checkpoint object (`{'state_dict': ...}` etc.),
    with DataParallel/DDP/compile prefixes (`module.`, `model.`, `_orig_mod.`) removed."""
    while isinstance(obj, dict):
        inner = next((obj[k] for k in STATE_DICT_WRAPPERS if isinstance(obj.get(k), dict)), None)
        if inner is None:
            break
        obj = inner
    if not isinstance(obj, dict) or not obj:
        raise WeightMismatchError("the file holds no state dict (a mapping of tensor names to tensors)")
    state = dict(obj)
    for prefix in STRIPPED_PREFIXES:
        if all(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
    return state


def _first_line(err: BaseException) -> str:
    """The first line of an exception's message (PyTorch's run to paragraphs), or its type's name."""
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__


def _unwrapped(path: StrPath, obj: Any) -> Dict[str, Any]:
    try:
        return unwrap_state_dict(obj)
    except WeightMismatchError as err:
        raise WeightFileError(f"{path}: {err}") from None


def _load_torch_file(path: StrPath) -> Dict[str, np.ndarray]:
    try:
        import torch  # only `.pth` files need PyTorch
    except ImportError as err:
        raise WeightFileError(f"{path}: reading a PyTorch file needs PyTorch (pip install torch), or "
                              f"the same weights as {SAFETENSORS_SUFFIX}") from err
    try:
        state = torch.load(path, map_location='cpu', weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as err:
        raise WeightFileError(f"{path} cannot be read as PyTorch weights (truncated or corrupt, or it holds "
                              f"objects other than tensors): {_first_line(err)}") from None
    state = _unwrapped(path, state)
    not_tensors = sorted(k for k, v in state.items() if not isinstance(v, torch.Tensor))
    if not_tensors:
        raise WeightFileError(f"{path}: entries that are not tensors: {', '.join(not_tensors[:10])}")
    # `.float()` also for bfloat16/float16 tensors, which numpy cannot hold or our networks do not use.
    return {k: (v.float() if v.is_floating_point() else v).numpy() for k, v in state.items()}


def _load_safetensors_file(path: StrPath) -> Dict[str, np.ndarray]:
    from safetensors import SafetensorError
    from safetensors.numpy import load_file
    try:
        state = load_file(path)
    except SafetensorError as err:
        raise WeightFileError(f"{path} cannot be read as safetensors (truncated or corrupt): "
                              f"{_first_line(err)}") from None
    return _unwrapped(path, state)


def _suffix(path: StrPath) -> str:
    suffix = os.path.splitext(str(path))[1].lower()
    if suffix not in WEIGHT_FILE_SUFFIXES:
        raise WeightFileError(f"{path}: unknown weight file type {suffix or '(no extension)'!r}; "
                              f"expected one of {', '.join(WEIGHT_FILE_SUFFIXES)}")
    return suffix


def _existing(path: StrPath) -> StrPath:
    if not os.path.isfile(path):
        raise MissingFileError(f"no weight file {path}")
    return path


def read_torch_weights(path: StrPath) -> Dict[str, np.ndarray]:
    """Name -> numpy array of a reference weight file, with the state dict's original (PyTorch) names.

    `.pth`/`.pt`/`.bin` are read by `torch.load(weights_only=True)`, `.safetensors` without PyTorch.
    Wrappers (`{'state_dict': ...}`, `{'model': ...}`) and `module.`-style prefixes are removed.
    Raises `FileNotFoundError`, or `WeightFileError` for an unknown type or a truncated/corrupt file.
    """
    suffix = _suffix(path)
    if suffix not in TORCH_SUFFIXES + (SAFETENSORS_SUFFIX,):
        raise WeightFileError(f"{path}: not a PyTorch or safetensors file")
    _existing(path)
    return _load_torch_file(path) if suffix in TORCH_SUFFIXES else _load_safetensors_file(path)


def network_weights_of(checkpoint: Mapping[str, Value]) -> Dict[str, Value]:
    """The network's tensors of a MindSpore checkpoint's name -> tensor mapping, without the training
    state (`TRAINING_STATE_NAMES` and the optimizer's `<slot>.<parameter>` entries)."""
    return {k: v for k, v in checkpoint.items()
            if k not in TRAINING_STATE_NAMES and not k.startswith(GROUP_LEARNING_RATE_PREFIX)
            and k.partition('.')[2] not in checkpoint}


class CheckpointMemoryError(WeightFileError):
    """A checkpoint larger than the memory the kernel can make available (MemAvailable)."""


def load_mindspore_checkpoint(path: StrPath, crc_check: bool = False) -> Dict[str, ms.Parameter]:
    """name -> Parameter of a MindSpore `.ckpt`: the zoo's one reader of them (resume, eval, export, predict,
    conversion, `--pretrained`). The file must fit in MemAvailable, not only in MemFree as MindSpore 2.10
    asks (`zoo_core.runtime.compat`); MindSpore's own errors pass through."""
    path = str(path)
    available = available_memory_bytes()
    size = os.path.getsize(path)
    if available is not None and size > available:
        raise CheckpointMemoryError(f"{path} is {size / MIB:,.0f} MB but the system has only {available / MIB:,.0f} "
                                    f"MB available (MemAvailable in /proc/meminfo): free memory, or load it on a "
                                    f"machine with more")
    with checkpoint_memory_check(available):
        return ms.load_checkpoint(path, crc_check=crc_check)


def read_mindspore_weights(path: StrPath) -> Dict[str, np.ndarray]:
    """Name -> numpy array of the network's tensors in a MindSpore `.ckpt` (training state left out)."""
    try:
        checkpoint = load_mindspore_checkpoint(_existing(path))
    except (ValueError, RuntimeError) as err:
        raise WeightFileError(f"{path} cannot be read as a MindSpore checkpoint (truncated or corrupt): "
                              f"{_first_line(err)}") from None
    return {k: v.asnumpy() for k, v in network_weights_of(checkpoint).items()}


def read_weights(path: StrPath) -> Dict[str, np.ndarray]:
    """Name -> numpy array, in our parameter names, of any weight file: a MindSpore `.ckpt`, or a
    reference `.pth`/`.pt`/`.bin`/`.safetensors` file (renamed by `rename_torch_state_dict`, which leaves
    a file already in our names unchanged)."""
    if _suffix(path) == MINDSPORE_SUFFIX:
        return read_mindspore_weights(path)
    return rename_torch_state_dict(read_torch_weights(path))
