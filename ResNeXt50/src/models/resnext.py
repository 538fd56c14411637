"""ResNeXt variants: torchvision's (resnext50_32x4d, resnext101_32x8d, resnext101_64x4d).

Named after the family, beside `resnet.py` (the block and the backbone), as `resnest.py` is in ResNeSt50/.

Each is a configuration of ResNeXt's ResNet (`resnet.py`); `pretrained` gives the reference weights' file
names and the evaluation preprocessing published with them.
"""
from zoo_core.models.registry import PretrainedConfig, Registry, Variant, sha256_in_file_name

from .resnet import resnext

TORCHVISION_URL = 'https://download.pytorch.org/models/{}'


def _torchvision(file_name, **preprocessing):
    return PretrainedConfig(file_names=(file_name,), url=TORCHVISION_URL.format(file_name),
                            sha256=sha256_in_file_name(file_name), **preprocessing)


RESNEXT_VARIANTS = {
    'resnext50_32x4d': Variant(resnext, dict(layers=(3, 4, 6, 3), cardinality=32, base_width=4),
                               _torchvision('resnext50_32x4d-7cdf4587.pth')),
    'resnext101_32x8d': Variant(resnext, dict(layers=(3, 4, 23, 3), cardinality=32, base_width=8),
                                _torchvision('resnext101_32x8d-8ba56ff5.pth')),
    'resnext101_64x4d': Variant(resnext, dict(layers=(3, 4, 23, 3), cardinality=64, base_width=4),
                                # torchvision evaluates these weights at resize 232, crop 224.
                                _torchvision('resnext101_64x4d-173b62eb.pth', crop_pct=224 / 232)),
}

REGISTRY = Registry('ResNeXt', RESNEXT_VARIANTS)
