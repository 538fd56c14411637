"""ResNeXt's ResNet (Xie et al., "Aggregated Residual Transformations", 2017): the grouped bottleneck,
and the shared ResNet backbone (`zoo_core.models.backbone`) with its 7x7 stem and strided shortcuts.

Named `resnet.py` as torchvision's and the ModelZoo's file of the block and backbone (ResNeXt is a ResNet
with grouped convolutions); the named variants are in `resnext.py`."""
from mindspore import nn

from zoo_core.models.backbone import Bottleneck, ResNet
from zoo_core.models.layers import batch_norm, conv2d


class ResNeXtBottleneck(Bottleneck):
    """1x1 conv -> grouped 3x3 conv (stride here, "ResNet v1.5") -> 1x1 conv, plus the shortcut."""

    def __init__(self, in_channels, planes, stride=1, downsample=None, drop_block=None, drop_path=0.0,
                 cardinality=32, base_width=4):
        super().__init__()
        width = int(planes * (base_width / 64.0)) * cardinality
        self.add_reduce(in_channels, width)
        self.conv2 = conv2d(width, width, 3, stride=stride, groups=cardinality)
        self.bn2 = batch_norm(width)
        self.drop_block = drop_block if drop_block is not None else nn.Identity()
        self.act2 = nn.ReLU()
        self.add_expand(width, planes, downsample, drop_path)

    def construct(self, x):
        shortcut = self.downsample(x)
        out = self.act1(self.bn1(self.conv1(x)))
        out = self.act2(self.drop_block(self.bn2(self.conv2(out))))
        return self.residual(out, shortcut)


def resnext(layers, cardinality, base_width, **kwargs):
    """A ResNeXt: 7x7 stem, strided 1x1 projection shortcuts, grouped bottlenecks."""
    return ResNet(ResNeXtBottleneck, layers, block_args=dict(cardinality=cardinality, base_width=base_width),
                  **kwargs)
