"""ResNeXt (Xie et al., "Aggregated Residual Transformations", 2017): the grouped bottleneck and the
variants of torchvision/timm, run by the shared ResNet backbone (`zoo_core.models.backbone`)."""
from mindspore import nn
from mindspore.common.initializer import Zero, initializer

from zoo_core.models.backbone import ResNet
from zoo_core.models.layers import DropPath, batch_norm, conv2d
from zoo_core.models.registry import PretrainedConfig, Registry, Variant

TORCHVISION_URL = 'https://download.pytorch.org/models/{}'


class ResNeXtBottleneck(nn.Cell):
    """1x1 conv -> grouped 3x3 conv (stride here, "ResNet v1.5") -> 1x1 conv, plus the shortcut."""

    expansion = 4

    def __init__(self, in_channels, planes, stride=1, downsample=None, drop_block=None, drop_path=0.0,
                 cardinality=32, base_width=4):
        super().__init__()
        width = int(planes * (base_width / 64.0)) * cardinality
        self.conv1 = conv2d(in_channels, width, 1)
        self.bn1 = batch_norm(width)
        self.act1 = nn.ReLU()
        self.conv2 = conv2d(width, width, 3, stride=stride, groups=cardinality)
        self.bn2 = batch_norm(width)
        self.drop_block = drop_block if drop_block is not None else nn.Identity()
        self.act2 = nn.ReLU()
        self.conv3 = conv2d(width, planes * self.expansion, 1)
        self.bn3 = batch_norm(planes * self.expansion)
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.downsample = downsample if downsample is not None else nn.Identity()
        self.act3 = nn.ReLU()

    def zero_init_last(self):
        """Zero the last BN's gamma so that the block starts as its shortcut."""
        self.bn3.gamma.set_data(initializer(Zero(), self.bn3.gamma.shape, self.bn3.gamma.dtype))

    def construct(self, x):
        shortcut = self.downsample(x)
        out = self.act1(self.bn1(self.conv1(x)))
        out = self.act2(self.drop_block(self.bn2(self.conv2(out))))
        out = self.bn3(self.conv3(out))
        out = self.drop_path(out)
        return self.act3(out + shortcut)


def resnext(layers, cardinality, base_width, **kwargs):
    """A ResNeXt: 7x7 stem, strided 1x1 projection shortcuts, grouped bottlenecks."""
    return ResNet(ResNeXtBottleneck, layers, block_args=dict(cardinality=cardinality, base_width=base_width),
                  **kwargs)


def _torchvision(file_name, **preprocessing):
    return PretrainedConfig(file_names=(file_name,), url=TORCHVISION_URL.format(file_name), **preprocessing)


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
