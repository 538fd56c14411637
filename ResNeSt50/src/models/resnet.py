"""The ResNeSt bottleneck block, run by the shared ResNet backbone (`zoo_core.models.backbone`)."""
from mindspore import nn
from mindspore.common.initializer import Zero, initializer

from zoo_core.models.backbone import ResNet
from zoo_core.models.layers import AvgPool3x3, DropPath, batch_norm, conv2d
from .splat import SplitAttnConv2d


class ResNestBottleneck(nn.Cell):
    """1x1 conv -> split-attention 3x3 conv -> 1x1 conv, plus the shortcut.

    A stride-2 block strides with a 3x3 average pool ("avd") instead of the convolution: before the
    split attention when `avd_first`, after it otherwise. Stride-1 blocks have no pooling.
    """

    expansion = 4

    def __init__(self, in_channels, planes, stride=1, downsample=None, drop_block=None, drop_path=0.0,
                 radix=2, cardinality=1, base_width=64, avd=True, avd_first=False):
        super().__init__()
        group_width = int(planes * (base_width / 64.0)) * cardinality
        use_avd = avd and stride > 1
        conv_stride = 1 if use_avd else stride
        self.conv1 = conv2d(in_channels, group_width, 1)
        self.bn1 = batch_norm(group_width)
        self.act1 = nn.ReLU()
        self.avd_first = AvgPool3x3(stride) if use_avd and avd_first else nn.Identity()
        self.conv2 = SplitAttnConv2d(group_width, group_width, 3, stride=conv_stride,
                                     cardinality=cardinality, radix=radix, drop_block=drop_block)
        self.avd_last = AvgPool3x3(stride) if use_avd and not avd_first else nn.Identity()
        self.conv3 = conv2d(group_width, planes * self.expansion, 1)
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
        out = self.avd_first(out)
        out = self.conv2(out)
        out = self.avd_last(out)
        out = self.bn3(self.conv3(out))
        out = self.drop_path(out)
        return self.act3(out + shortcut)


def resnest(layers, stem_width, radix=2, cardinality=1, base_width=64, avd_first=False, **kwargs):
    """A ResNeSt: deep stem, avg-down shortcut, split-attention bottlenecks with avd."""
    block_args = dict(radix=radix, cardinality=cardinality, base_width=base_width, avd=True,
                      avd_first=avd_first)
    return ResNet(ResNestBottleneck, layers, stem_type='deep', stem_width=stem_width, avg_down=True,
                  block_args=block_args, **kwargs)
