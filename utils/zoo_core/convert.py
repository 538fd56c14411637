"""Reference (PyTorch) weights -> our networks: the fixed rename table and the checked loading.

Our module names are the references' (torchvision, timm, the ResNeSt authors'), so converting a state
dict only renames the BatchNorm tensors to MindSpore's names and drops the batch counters. Every
tensor's name and shape is checked against the network before anything is loaded.
"""
import numpy as np
import mindspore as ms

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


class WeightMismatchError(ValueError):
    """Weights that do not fit the network: lists the missing, unexpected and mis-shaped tensors."""


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


def check_weights_fit(weights, net, ignore_prefixes=()):
    """Raise `WeightMismatchError` unless `weights` (name -> array) has exactly `net`'s tensors and shapes.

    Tensors whose names start with one of `ignore_prefixes` are left out of the check on both sides.
    """
    def kept(name):
        return not any(name.startswith(p) for p in ignore_prefixes)

    expected = {k: v for k, v in network_shapes(net).items() if kept(k)}
    given = {k: tuple(np.shape(v)) for k, v in weights.items() if kept(k)}
    missing = sorted(set(expected) - set(given))
    unexpected = sorted(set(given) - set(expected))
    misshaped = sorted(k for k in set(expected) & set(given) if expected[k] != given[k])
    if missing or unexpected or misshaped:
        raise WeightMismatchError(describe_mismatch(missing, unexpected,
                                                    [(k, given[k], expected[k]) for k in misshaped]))


def describe_mismatch(missing, unexpected, misshaped, limit=10):
    """One readable message for the three kinds of mismatch (lists are cut at `limit` names)."""
    def listing(names):
        shown = ', '.join(names[:limit])
        return shown + (f', ... ({len(names) - limit} more)' if len(names) > limit else '')

    lines = ["the weights do not fit the network:"]
    if missing:
        lines.append(f"  missing ({len(missing)}): {listing(missing)}")
    if unexpected:
        lines.append(f"  unexpected ({len(unexpected)}): {listing(unexpected)}")
    if misshaped:
        lines.append(f"  wrong shape ({len(misshaped)}): " + listing(
            [f"{k} {tuple(got)} vs {tuple(want)} in the network" for k, got, want in misshaped]))
    return '\n'.join(lines)


def load_weights(net, weights, ignore_prefixes=()):
    """Check, then copy `weights` (name -> numpy array) into `net`'s parameters."""
    check_weights_fit(weights, net, ignore_prefixes)
    params = {p.name: p for p in net.get_parameters()}
    for name, value in weights.items():
        if name in params and not any(name.startswith(p) for p in ignore_prefixes):
            params[name].set_data(ms.Tensor(np.ascontiguousarray(value, dtype=np.float32)))
    return net
