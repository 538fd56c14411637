"""Reference (PyTorch) weights -> our networks: reading the files, the fixed rename table, the checked
loading, and the conversion to a MindSpore checkpoint.

Our module names are the references' (torchvision, timm, the ResNeSt authors'), so converting a state
dict only renames the BatchNorm tensors to MindSpore's names and drops the batch counters. Every
tensor's name and shape is checked against the network before anything is loaded or written.
`.safetensors` files are read without PyTorch; `.pth` files need it (imported only then).
"""
import functools
import importlib
import os
import pickle

import numpy as np
import mindspore as ms
from mindspore.nn.utils import no_init_parameters

from zoo_core.models.backbone import STAGE_NAMES
from zoo_core.models.registry import UnknownNetworkError

# PyTorch BatchNorm tensor -> MindSpore BatchNorm parameter. A module is a BatchNorm exactly when the
# state dict holds its `running_mean`.
BN_RENAMES = {
    'weight': 'gamma',
    'bias': 'beta',
    'running_mean': 'moving_mean',
    'running_var': 'moving_variance',
}
DROPPED_SUFFIXES = ('num_batches_tracked',)
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
TRAINING_STATE_NAMES = frozenset({'global_step', 'learning_rate', 'momentum', 'epoch_num', 'step_num',
                                  'scale_sense', 'current_iterator_step', 'last_overflow_iterator_step'})
# An optimizer with parameter groups stores one learning rate per group.
GROUP_LEARNING_RATE_PREFIX = 'learning_rate_group_'
# The classifier, the only part whose shape depends on the number of classes.
CLASSIFIER_PREFIX = 'fc.'
CLASSIFIER_WEIGHT = 'fc.weight'
CLASSIFIER_BIAS = 'fc.bias'
# The model packages whose `REGISTRY` holds the zoo's variants (they import zoo_core, hence by name).
FAMILY_MODULES = ('zoo_resnest.models.resnest', 'zoo_resnext.models.resnext')


class WeightMismatchError(ValueError):
    """Weights that do not fit the network: lists the missing, unexpected and mis-shaped tensors."""


class WeightFileError(ValueError):
    """A weight file that cannot be read: unknown type, truncated or corrupt, or not a state dict."""


def _split(key):
    module, _, tensor = key.rpartition('.')
    return module, tensor


def unwrap_state_dict(obj):
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


def rename_torch_state_dict(state):
    """Rename a PyTorch state dict (name -> numpy array) to our parameter names; returns a new dict."""
    bn_modules = {_split(k)[0] for k in state if k.endswith('.running_mean')}
    renamed = {}
    for key, value in state.items():
        module, tensor = _split(key)
        if tensor in DROPPED_SUFFIXES:
            continue
        if module in bn_modules and tensor in BN_RENAMES:
            key = f'{module}.{BN_RENAMES[tensor]}'
        renamed[key] = value
    return renamed


def network_shapes(net):
    """Name -> shape of every parameter of `net` (trainable and BN statistics)."""
    return {p.name: tuple(p.shape) for p in net.get_parameters()}


def compare_shapes(given, expected):
    """(missing, unexpected, mis-shaped) between two name -> shape tables; mis-shaped entries are
    `(name, given shape, expected shape)`. All three empty means the tables fit."""
    missing = sorted(set(expected) - set(given))
    unexpected = sorted(set(given) - set(expected))
    misshaped = [(k, given[k], expected[k]) for k in sorted(set(expected) & set(given))
                 if expected[k] != given[k]]
    return missing, unexpected, misshaped


def shapes_of(weights):
    """Name -> shape of a name -> array mapping."""
    return {k: tuple(np.shape(v)) for k, v in weights.items()}


def check_shapes_fit(weights, expected, ignore_prefixes=()):
    """Raise `WeightMismatchError` unless `weights` (name -> array) has exactly the tensors and shapes of
    `expected` (name -> shape). Names starting with one of `ignore_prefixes` are left out on both sides."""
    def kept(table):
        return {k: v for k, v in table.items() if not any(k.startswith(p) for p in ignore_prefixes)}

    mismatch = compare_shapes(kept(shapes_of(weights)), kept(expected))
    if any(mismatch):
        raise WeightMismatchError(describe_mismatch(*mismatch))


def check_weights_fit(weights, net, ignore_prefixes=()):
    """Raise `WeightMismatchError` unless `weights` (name -> array) has exactly `net`'s tensors and shapes.

    Tensors whose names start with one of `ignore_prefixes` are left out of the check on both sides.
    """
    check_shapes_fit(weights, network_shapes(net), ignore_prefixes)


def describe_mismatch(missing, unexpected, misshaped, limit=10):
    """One readable line for the three kinds of mismatch (lists are cut at `limit` names)."""
    def listing(names):
        shown = ', '.join(names[:limit])
        return shown + (f', ... ({len(names) - limit} more)' if len(names) > limit else '')

    parts = []
    if missing:
        parts.append(f"missing ({len(missing)}): {listing(missing)}")
    if unexpected:
        parts.append(f"unexpected ({len(unexpected)}): {listing(unexpected)}")
    if misshaped:
        parts.append(f"wrong shape ({len(misshaped)}): " + listing(
            [f"{k} {tuple(got)} vs {tuple(want)} in the network" for k, got, want in misshaped]))
    return "the weights do not fit the network: " + '; '.join(parts)


def load_weights(net, weights, ignore_prefixes=()):
    """Check, then copy `weights` (name -> numpy array) into `net`'s parameters."""
    check_weights_fit(weights, net, ignore_prefixes)
    params = {p.name: p for p in net.get_parameters()}
    for name, value in weights.items():
        if name in params and not any(name.startswith(p) for p in ignore_prefixes):
            params[name].set_data(ms.Tensor(np.ascontiguousarray(value, dtype=np.float32)))
    return net


def _first_line(err):
    """The first line of an exception's message (PyTorch's run to paragraphs), or its type's name."""
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__


def _unwrapped(path, obj):
    try:
        return unwrap_state_dict(obj)
    except WeightMismatchError as err:
        raise WeightFileError(f"{path}: {err}") from None


def _load_torch_file(path):
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


def _load_safetensors_file(path):
    from safetensors import SafetensorError
    from safetensors.numpy import load_file
    try:
        state = load_file(path)
    except SafetensorError as err:
        raise WeightFileError(f"{path} cannot be read as safetensors (truncated or corrupt): "
                              f"{_first_line(err)}") from None
    return _unwrapped(path, state)


def _suffix(path):
    suffix = os.path.splitext(str(path))[1].lower()
    if suffix not in WEIGHT_FILE_SUFFIXES:
        raise WeightFileError(f"{path}: unknown weight file type {suffix or '(no extension)'!r}; "
                              f"expected one of {', '.join(WEIGHT_FILE_SUFFIXES)}")
    return suffix


def _existing(path):
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no weight file {path}")
    return path


def read_torch_weights(path):
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


def network_weights_of(checkpoint):
    """The network's tensors of a MindSpore checkpoint's name -> tensor mapping, without the training
    state (`TRAINING_STATE_NAMES` and the optimizer's `<slot>.<parameter>` entries)."""
    return {k: v for k, v in checkpoint.items()
            if k not in TRAINING_STATE_NAMES and not k.startswith(GROUP_LEARNING_RATE_PREFIX)
            and k.partition('.')[2] not in checkpoint}


def read_mindspore_weights(path):
    """Name -> numpy array of the network's tensors in a MindSpore `.ckpt` (training state left out)."""
    try:
        checkpoint = ms.load_checkpoint(str(_existing(path)))
    except (ValueError, RuntimeError) as err:
        raise WeightFileError(f"{path} cannot be read as a MindSpore checkpoint (truncated or corrupt): "
                              f"{_first_line(err)}") from None
    return {k: v.asnumpy() for k, v in network_weights_of(checkpoint).items()}


def read_weights(path):
    """Name -> numpy array, in our parameter names, of any weight file: a MindSpore `.ckpt`, or a
    reference `.pth`/`.pt`/`.bin`/`.safetensors` file (renamed by `rename_torch_state_dict`, which leaves
    a file already in our names unchanged)."""
    if _suffix(path) == MINDSPORE_SUFFIX:
        return read_mindspore_weights(path)
    return rename_torch_state_dict(read_torch_weights(path))


def zoo_registries():
    """The registries of the zoo's network families (`FAMILY_MODULES`)."""
    return tuple(importlib.import_module(module).REGISTRY for module in FAMILY_MODULES)


def registry_of(name, registries=None):
    """The registry that knows variant `name`; `UnknownNetworkError` (listing every name) otherwise."""
    registries = registries or zoo_registries()
    for registry in registries:
        if name in registry.variants:
            return registry
    names = sorted(n for registry in registries for n in registry.names())
    raise UnknownNetworkError(f"unknown network {name!r}; valid names: {', '.join(names)}")


@functools.lru_cache(maxsize=None)
def variant_shapes(registry, name):
    """Name -> shape of every parameter of `registry`'s variant `name` with a 1000-class classifier.

    Computed once per process, on a network built without initialising its parameters (several times
    faster than a full build).
    """
    with no_init_parameters():
        return network_shapes(registry.build(name))


def classifier_classes(weights):
    """Number of classes of the classifier in `weights` (name -> array); 0 without a classifier."""
    return np.shape(weights[CLASSIFIER_WEIGHT])[0] if CLASSIFIER_WEIGHT in weights else 0


def expected_shapes(name, num_classes, registries=None):
    """Name -> shape of the tensors of variant `name` with a `num_classes` classifier (none for 0)."""
    shapes = variant_shapes(registry_of(name, registries), name)
    expected = {k: v for k, v in shapes.items() if not k.startswith(CLASSIFIER_PREFIX)}
    if num_classes > 0:
        num_features = shapes[CLASSIFIER_WEIGHT][1]
        expected.update({CLASSIFIER_WEIGHT: (num_classes, num_features), CLASSIFIER_BIAS: (num_classes,)})
    return expected


def stage_depths(weights):
    """Number of residual blocks in each stage of a state dict, counted from its `layer<k>.<block>.` names."""
    return tuple(len({k.split('.')[1] for k in weights if k.startswith(stage + '.')})
                 for stage in STAGE_NAMES)


def infer_variant(weights, registries=None):
    """The name of the variant that `weights` (name -> array, PyTorch's or our names) are the weights of.

    Names and shapes are compared with the variants', the classifier apart (its number of classes is
    free): first with those of the same stage depths (`arch['layers']`), as each variant's shape table
    costs a network build; with all of them if none of those fits. Raises `WeightMismatchError` naming
    the closest variant when none fits.
    """
    registries = registries or zoo_registries()
    weights = rename_torch_state_dict(weights)
    given, depths = shapes_of(weights), stage_depths(weights)
    classes = classifier_classes(weights)
    names = [name for registry in registries for name in registry.names()]
    # A variant that does not declare its `layers` is always a candidate.
    same_depths = [name for registry in registries for name in registry.names()
                   if tuple(registry.variant(name).arch.get('layers', depths)) == depths]
    mismatches = {}
    for candidates in (same_depths, names):
        mismatches.update({name: compare_shapes(given, expected_shapes(name, classes, registries))
                           for name in candidates if name not in mismatches})
        fitting = [name for name, mismatch in mismatches.items() if not any(mismatch)]
        if len(fitting) == 1:
            return fitting[0]
        if fitting:
            raise WeightMismatchError(f"the weights fit several variants ({', '.join(fitting)}): name one")
    closest = min(mismatches, key=lambda name: sum(len(kind) for kind in mismatches[name]))
    raise WeightMismatchError(f"the weights are none of the known variants; the closest, {closest}, "
                              f"does not fit: {describe_mismatch(*mismatches[closest])}")


def mismatch_error(source, name, weights, error, registries=None):
    """The `WeightMismatchError` to raise when `weights` read from `source` do not fit variant `name`
    (`error` says how): it names the variant the weights belong to when that can be told."""
    try:
        found = infer_variant(weights, registries)
    except WeightMismatchError:
        found = name
    if found != name:
        return WeightMismatchError(f"{source} holds {found} weights, not {name} weights")
    return WeightMismatchError(f"{source}: {error}")


def convert_checkpoint(src, dst, name=None, registries=None):
    """Convert the reference weight file `src` into the MindSpore checkpoint `dst`; returns the variant.

    Args:
        name: the variant the weights are for; by default it is inferred from the weights' shapes.
            Every tensor is checked against it (`WeightMismatchError` lists what does not fit).
        registries: the families to look the variant up in (default: the zoo's).
    """
    weights = read_weights(src)
    if name is None:
        try:
            name = infer_variant(weights, registries)
        except WeightMismatchError as err:
            raise WeightMismatchError(f"{src}: {err}") from None
    try:
        check_shapes_fit(weights, expected_shapes(name, classifier_classes(weights), registries))
    except WeightMismatchError as err:
        raise mismatch_error(src, name, weights, err, registries) from None
    ms.save_checkpoint([{'name': k, 'data': ms.Tensor(np.ascontiguousarray(v, dtype=np.float32))}
                        for k, v in weights.items()], str(dst))
    return name
