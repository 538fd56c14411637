"""`get_network`: build a ResNeXt variant by name."""
from .resnext import REGISTRY


def get_network(name, num_classes=1000, pretrained=None, **options):
    """Build ResNeXt variant `name` (see `network_names()`).

    Args:
        num_classes: classifier outputs (0 for a headless feature extractor).
        pretrained: a MindSpore checkpoint, a PyTorch/safetensors file of the reference weights, or a
            file name looked up in the weight cache (`ZOO_WEIGHTS_HOME`).
        options: `drop_rate`, `drop_path_rate`, `drop_block_rate`, `zero_init_last`, `in_chans`.
    """
    return REGISTRY.build(name, num_classes=num_classes, pretrained=pretrained, **options)


def network_names():
    """The ResNeXt variants that `get_network` knows."""
    return REGISTRY.names()


def preprocessing_for(name):
    """The eval preprocessing of variant `name`'s pretrained weights (input size, crop, interpolation, mean/std)."""
    return REGISTRY.variant(name).pretrained
