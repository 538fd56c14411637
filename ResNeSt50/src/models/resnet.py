"""ResNeSt's ResNet: the split-attention bottleneck block and the ResNet-D configuration (deep 3x3 stem,
avg-down shortcut) of the shared backbone (`zoo_core.models.backbone`).

Named `resnet.py` because the authors' repository (`resnest/torch/models/resnet.py`) and the ModelZoo card
put the block and the backbone there; the named variants (resnest50, ...) are in `resnest.py`, the split
attention in `splat.py`, as in the authors' repository."""
from mindspore import nn

from zoo_core.models.backbone import STEM_DEEP_3X3, Bottleneck, ResNet
from zoo_core.models.layers import AvgPool3x3
from .splat import SplitAttnConv2d


class ResNestBottleneck(Bottleneck):
    """1x1 conv -> split-attention 3x3 conv -> 1x1 conv, plus the shortcut.

    A stride-2 block strides with a 3x3 average pool ("avd") instead of the convolution: before the
    split attention when `avd_first`, after it otherwise. Stride-1 blocks have no pooling.
    """

    def __init__(self, in_channels, planes, stride=1, downsample=None, drop_block=None, drop_path=0.0,
                 radix=2, cardinality=1, base_width=64, avd=True, avd_first=False):
        super().__init__()
        group_width = int(planes * (base_width / 64.0)) * cardinality
        use_avd = avd and stride > 1
        conv_stride = 1 if use_avd else stride
        self.add_reduce(in_channels, group_width)
        self.avd_first = AvgPool3x3(stride) if use_avd and avd_first else nn.Identity()
        self.conv2 = SplitAttnConv2d(group_width, group_width, 3, stride=conv_stride,
                                     cardinality=cardinality, radix=radix, drop_block=drop_block)
        self.avd_last = AvgPool3x3(stride) if use_avd and not avd_first else nn.Identity()
        self.add_expand(group_width, planes, downsample, drop_path)

    def construct(self, x):
        shortcut = self.downsample(x)
        out = self.act1(self.bn1(self.conv1(x)))
        out = self.avd_last(self.conv2(self.avd_first(out)))
        return self.residual(out, shortcut)


def resnest(layers, stem_width, radix=2, cardinality=1, base_width=64, avd_first=False, **kwargs):
    """A ResNeSt: deep stem, avg-down shortcut, split-attention bottlenecks with avd."""
    block_args = dict(radix=radix, cardinality=cardinality, base_width=base_width, avd=True,
                      avd_first=avd_first)
    return ResNet(ResNestBottleneck, layers, stem_type=STEM_DEEP_3X3, stem_width=stem_width, avg_down=True,
                  block_args=block_args, **kwargs)
