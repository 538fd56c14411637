"""The configurable ResNet backbone that ResNeSt and ResNeXt are variants of.

A variant is configuration, not a class: the residual block (ResNeSt's split-attention bottleneck or
ResNeXt's grouped bottleneck), the stage depths, the stem (7x7, or the "deep" 3x3 stem of ResNet-C),
and the shortcut (strided 1x1 conv, or the average-pooled "avg-down" shortcut of ResNet-D).
Attribute names follow the reference implementations (torchvision, timm, the ResNeSt authors'), so
their state dicts map onto ours by a fixed rename table (`zoo_core.weights.convert`).
"""
import math

import numpy as np
import mindspore as ms
from mindspore import nn
from mindspore.common.initializer import HeNormal, Normal, Zero, One, initializer

from zoo_core.models.layers import AvgPoolCeil, DropBlock, GlobalAvgPool, MaxPool3x3, batch_norm, conv2d

STAGE_PLANES = (64, 128, 256, 512)
STAGE_STRIDES = (1, 2, 2, 2)
STAGE_NAMES = ('layer1', 'layer2', 'layer3', 'layer4')
# DropBlock as timm applies it to a ResNet: (block size, seed-rate scale) for stages 3 and 4 only.
DROP_BLOCK_SETTINGS = {'layer3': (5, 0.25), 'layer4': (3, 1.0)}


def make_stem(stem_type, stem_width, in_chans):
    """The stem convolution(s) before `bn1`; returns (cell, output channels)."""
    if stem_type == 'deep':
        stem = nn.SequentialCell([
            conv2d(in_chans, stem_width, 3, stride=2), batch_norm(stem_width), nn.ReLU(),
            conv2d(stem_width, stem_width, 3), batch_norm(stem_width), nn.ReLU(),
            conv2d(stem_width, stem_width * 2, 3),
        ])
        return stem, stem_width * 2
    if stem_type == '':
        return conv2d(in_chans, stem_width, 7, stride=2), stem_width
    raise ValueError(f"unknown stem_type {stem_type!r}: expected '' (7x7) or 'deep' (3x3 x3)")


def make_downsample(in_channels, out_channels, stride, avg_down):
    """The projection shortcut: `[pool, conv1x1, bn]` (avg-down) or `[conv1x1 strided, bn]`.

    The avg-down pool is an identity at stride 1, as in timm, and keeps index 0 so that the conv and
    BN names (`downsample.1`, `downsample.2`) match the references.
    """
    if avg_down:
        pool = AvgPoolCeil(stride) if stride > 1 else nn.Identity()
        return nn.SequentialCell([pool, conv2d(in_channels, out_channels, 1), batch_norm(out_channels)])
    return nn.SequentialCell([conv2d(in_channels, out_channels, 1, stride=stride), batch_norm(out_channels)])


class ResNet(nn.Cell):
    """ResNet backbone + classifier head.

    Args:
        block: residual block class; called as `block(in_channels, planes, stride, downsample,
            drop_block=..., drop_path=..., **block_args)`; has an `expansion` and `zero_init_last()`.
        layers: number of blocks in each of the four stages.
        stem_type / stem_width: '' (7x7, `stem_width` out) or 'deep' (3x3 x3, `2 * stem_width` out).
        avg_down: average-pool the projection shortcut instead of striding its 1x1 conv.
        drop_rate: dropout before the classifier.
        drop_path_rate: stochastic-depth rate, rising linearly over the blocks to this value.
        drop_block_rate: DropBlock rate in stages 3 and 4.
        zero_init_last: start each residual branch at zero (gamma of its last BN = 0).
    """

    def __init__(self, block, layers, num_classes=1000, in_chans=3, stem_type='', stem_width=64,
                 avg_down=False, drop_rate=0.0, drop_path_rate=0.0, drop_block_rate=0.0,
                 zero_init_last=True, block_args=None):
        super().__init__()
        if len(layers) != len(STAGE_NAMES):
            raise ValueError(f"layers must give {len(STAGE_NAMES)} stage depths, got {layers}")
        if not 0.0 <= drop_rate < 1.0:
            raise ValueError(f"drop_rate must be in [0, 1), got {drop_rate}")
        block_args = block_args or {}
        self.num_classes = num_classes
        self.conv1, channels = make_stem(stem_type, stem_width, in_chans)
        self.bn1 = batch_norm(channels)
        self.act1 = nn.ReLU()
        self.maxpool = MaxPool3x3(stride=2)
        self.feature_info = [dict(num_chs=channels, reduction=2, module='act1')]

        total_blocks = sum(layers)
        block_index = 0
        for name, planes, stride, depth in zip(STAGE_NAMES, STAGE_PLANES, STAGE_STRIDES, layers):
            out_channels = planes * block.expansion
            drop_block = None
            if drop_block_rate > 0.0 and name in DROP_BLOCK_SETTINGS:
                block_size, gamma_scale = DROP_BLOCK_SETTINGS[name]
                drop_block = (drop_block_rate, block_size, gamma_scale)
            blocks = []
            for i in range(depth):
                block_stride = stride if i == 0 else 1
                downsample = None
                if i == 0 and (block_stride != 1 or channels != out_channels):
                    downsample = make_downsample(channels, out_channels, block_stride, avg_down)
                drop_path = drop_path_rate * block_index / max(total_blocks - 1, 1)
                blocks.append(block(channels, planes, block_stride, downsample,
                                    drop_block=DropBlock(*drop_block) if drop_block else None,
                                    drop_path=drop_path, **block_args))
                channels = out_channels
                block_index += 1
            setattr(self, name, nn.SequentialCell(blocks))
            reduction = self.feature_info[-1]['reduction'] * (2 if name == 'layer1' else stride)
            self.feature_info.append(dict(num_chs=channels, reduction=reduction, module=name))

        self.num_features = channels
        self.global_pool = GlobalAvgPool()
        self.drop = nn.Dropout(p=drop_rate) if drop_rate > 0.0 else nn.Identity()
        self.fc = nn.Dense(channels, num_classes) if num_classes > 0 else nn.Identity()
        self.init_weights(zero_init_last)

    def init_weights(self, zero_init_last=True):
        """Kaiming-normal convolutions (fan-out, ReLU), unit BN, PyTorch-style classifier."""
        for _, cell in self.cells_and_names():
            if isinstance(cell, nn.Conv2d):
                cell.weight.set_data(initializer(HeNormal(mode='fan_out', nonlinearity='relu'),
                                                 cell.weight.shape, cell.weight.dtype))
                if cell.bias is not None:
                    cell.bias.set_data(initializer(Zero(), cell.bias.shape, cell.bias.dtype))
            elif isinstance(cell, nn.BatchNorm2d):
                cell.gamma.set_data(initializer(One(), cell.gamma.shape, cell.gamma.dtype))
                cell.beta.set_data(initializer(Zero(), cell.beta.shape, cell.beta.dtype))
            elif isinstance(cell, nn.Dense):
                bound = 1.0 / math.sqrt(cell.in_channels)
                cell.weight.set_data(ms.Tensor(np.random.uniform(
                    -bound, bound, cell.weight.shape).astype(np.float32)))
                if cell.bias is not None:
                    cell.bias.set_data(ms.Tensor(np.random.uniform(
                        -bound, bound, cell.bias.shape).astype(np.float32)))
        if zero_init_last:
            for _, cell in self.cells_and_names():
                if hasattr(cell, 'zero_init_last'):
                    cell.zero_init_last()

    def reset_classifier(self, num_classes):
        """Replace the classifier by a freshly initialised one with `num_classes` outputs."""
        self.num_classes = num_classes
        if num_classes > 0:
            self.fc = nn.Dense(self.num_features, num_classes,
                               weight_init=Normal(sigma=0.01), bias_init='zeros')
        else:
            self.fc = nn.Identity()

    def forward_stem(self, x):
        """Stem up to the activation before max pooling (stride 2)."""
        return self.act1(self.bn1(self.conv1(x)))

    def forward_feature_maps(self, x):
        """Feature maps of the stem and the four stages, strides 2, 4, 8, 16, 32 (see `feature_info`)."""
        stem = self.forward_stem(x)
        c1 = self.layer1(self.maxpool(stem))
        c2 = self.layer2(c1)
        c3 = self.layer3(c2)
        c4 = self.layer4(c3)
        return stem, c1, c2, c3, c4

    def forward_features(self, x):
        """Last feature map before pooling, `num_features` channels at stride 32."""
        x = self.maxpool(self.forward_stem(x))
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        return self.layer4(x)

    def forward_head(self, x, pre_logits=False):
        """Global pooling, dropout and classifier; `pre_logits=True` stops before the classifier."""
        x = self.drop(self.global_pool(x))
        if pre_logits:
            return x
        return self.fc(x)

    def construct(self, x):
        return self.forward_head(self.forward_features(x))
