"""Reference (PyTorch) weights -> a MindSpore checkpoint of our network, checked tensor by tensor."""
import numpy as np
import mindspore as ms

from zoo_core.weights.files import read_weights
from zoo_core.weights.fit import WeightMismatchError, check_shapes_fit, classifier_classes
from zoo_core.weights.identify import expected_shapes, infer_variant, mismatch_error


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
        raise mismatch_error(src, name, weights, err, registries=registries) from None
    ms.save_checkpoint([{'name': k, 'data': ms.Tensor(np.ascontiguousarray(v, dtype=np.float32))}
                        for k, v in weights.items()], str(dst))
    return name
