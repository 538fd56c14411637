"""Our parameter names for a reference state dict, and the check that weights fit a network.

Our module names are the references' (torchvision, timm, the ResNeSt authors'), so converting a state
dict only renames the BatchNorm tensors to MindSpore's names and drops the batch counters. Every
tensor's name and shape is checked against the network before anything is loaded.
"""
import numpy as np
import mindspore as ms

from zoo_core.models.backbone import CLASSIFIER_WEIGHT
from zoo_core.models.noise import NOISE_COUNTER_NAME
from zoo_core.runtime.errors import ZooError

# PyTorch BatchNorm tensor -> MindSpore BatchNorm parameter. A module is a BatchNorm exactly when the
# state dict holds its `running_mean`.
BN_RENAMES = {
    'weight': 'gamma',
    'bias': 'beta',
    'running_mean': 'moving_mean',
    'running_var': 'moving_variance',
}
DROPPED_SUFFIXES = ('num_batches_tracked',)


class WeightMismatchError(ZooError):
    """Weights that do not fit the network: lists the missing, unexpected and mis-shaped tensors."""


def _split(key):
    module, _, tensor = key.rpartition('.')
    return module, tensor


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


def network_parameters(net) -> dict:
    """Name -> Parameter of `net`'s own tensors (trainable and BN statistics), without the training step's
    noise counter that its stochastic layers may share (`zoo_core.models.noise`)."""
    return {p.name: p for p in net.get_parameters() if p.name != NOISE_COUNTER_NAME}


def network_shapes(net):
    """Name -> shape of every tensor of `net` (`network_parameters`)."""
    return {name: tuple(p.shape) for name, p in network_parameters(net).items()}


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
    params = network_parameters(net)
    for name, value in weights.items():
        if name in params and not any(name.startswith(p) for p in ignore_prefixes):
            params[name].set_data(ms.Tensor(np.ascontiguousarray(value, dtype=np.float32)))
    return net


def classifier_classes(weights):
    """Number of classes of the classifier in `weights` (name -> array); 0 without a classifier."""
    return np.shape(weights[CLASSIFIER_WEIGHT])[0] if CLASSIFIER_WEIGHT in weights else 0
