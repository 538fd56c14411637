"""Telling which variant a set of weights belongs to, from its tensor names and shapes.

Each candidate variant's shape table costs a network build (without initialising its parameters), so it
is computed once per process, and only for the variants with the weights' stage depths when one fits.
"""
import functools


from zoo_core.models.backbone import CLASSIFIER_BIAS, CLASSIFIER_PREFIX, CLASSIFIER_WEIGHT, STAGE_NAMES
from zoo_core.models.registry import UnknownNetworkError, known_registries
from zoo_core.runtime.compat import no_init_parameters
from zoo_core.weights.fit import (WeightMismatchError, classifier_classes, compare_shapes, describe_mismatch,
                                  network_shapes, rename_torch_state_dict, shapes_of)


def registry_of(name, registries=None):
    """The registry that knows variant `name`; `UnknownNetworkError` (listing every name) otherwise."""
    registries = registries or known_registries()
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
    registries = registries or known_registries()
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
