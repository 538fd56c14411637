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

from zoo_core.models.layers import AvgPoolCeil, DropBlock, DropPath, Dropout, GlobalAvgPool, MaxPool3x3, batch_norm, conv2d
from zoo_core.runtime.config import REQUIRED, Setting, declare

STAGE_PLANES = (64, 128, 256, 512)
STAGE_STRIDES = (1, 2, 2, 2)
STAGE_NAMES = ('layer1', 'layer2', 'layer3', 'layer4')
# `set_recompute` levels: keep every activation, recompute each stage, recompute each block.
RECOMPUTE_NONE, RECOMPUTE_STAGE, RECOMPUTE_BLOCK = 'none', 'stage', 'block'
RECOMPUTE_LEVELS = (RECOMPUTE_NONE, RECOMPUTE_STAGE, RECOMPUTE_BLOCK)
# DropBlock as timm applies it to a ResNet: (block size, seed-rate scale) for stages 3 and 4 only.
DROP_BLOCK_SETTINGS = {'layer3': (5, 0.25), 'layer4': (3, 1.0)}
# The classifier, the only part whose shape depends on the number of classes.
CLASSIFIER_PREFIX = 'fc.'
CLASSIFIER_WEIGHT = 'fc.weight'
CLASSIFIER_BIAS = 'fc.bias'
# Stems: one 7x7 convolution (the original ResNet), or three 3x3 convolutions ("deep", ResNet-C).
STEM_7X7 = '7x7'
STEM_DEEP_3X3 = 'deep_3x3'
STEM_TYPES = (STEM_7X7, STEM_DEEP_3X3)


def make_stem(stem_type, stem_width, in_chans):
    """The stem convolution(s) before `bn1`; returns (cell, output channels)."""
    if stem_type == STEM_DEEP_3X3:
        stem = nn.SequentialCell([
            conv2d(in_chans, stem_width, 3, stride=2), batch_norm(stem_width), nn.ReLU(),
            conv2d(stem_width, stem_width, 3), batch_norm(stem_width), nn.ReLU(),
            conv2d(stem_width, stem_width * 2, 3),
        ])
        return stem, stem_width * 2
    if stem_type == STEM_7X7:
        return conv2d(in_chans, stem_width, 7, stride=2), stem_width
    raise ValueError(f"unknown stem_type {stem_type!r}: expected one of {', '.join(STEM_TYPES)}")


def make_downsample(in_channels, out_channels, stride, avg_down):
    """The projection shortcut: `[pool, conv1x1, bn]` (avg-down) or `[conv1x1 strided, bn]`.

    The avg-down pool is an identity at stride 1, as in timm, and keeps index 0 so that the conv and
    BN names (`downsample.1`, `downsample.2`) match the references.
    """
    if avg_down:
        pool = AvgPoolCeil(stride) if stride > 1 else nn.Identity()
        return nn.SequentialCell([pool, conv2d(in_channels, out_channels, 1), batch_norm(out_channels)])
    return nn.SequentialCell([conv2d(in_channels, out_channels, 1, stride=stride), batch_norm(out_channels)])


def drop_block_for(stage_name, drop_block_rate):
    """A new DropBlock for one block of `stage_name`, or None (stages 1-2, or a zero rate)."""
    if drop_block_rate <= 0.0 or stage_name not in DROP_BLOCK_SETTINGS:
        return None
    block_size, gamma_scale = DROP_BLOCK_SETTINGS[stage_name]
    return DropBlock(drop_block_rate, block_size, gamma_scale)


def make_stage(block, in_channels, planes, depth, stride, avg_down, drop_paths, stage_name,
               drop_block_rate=0.0, block_args=None):
    """One stage of `depth` residual blocks (torchvision's `_make_layer`, timm's `make_blocks`).

    The first block strides and, when the shape changes, gets the projection shortcut; `drop_paths`
    holds each block's stochastic-depth rate. Returns (the stage, its output channels).
    """
    out_channels = planes * block.expansion
    blocks = []
    for index in range(depth):
        block_stride = stride if index == 0 else 1
        downsample = None
        if index == 0 and (block_stride != 1 or in_channels != out_channels):
            downsample = make_downsample(in_channels, out_channels, block_stride, avg_down)
        blocks.append(block(in_channels, planes, block_stride, downsample,
                            drop_block=drop_block_for(stage_name, drop_block_rate),
                            drop_path=drop_paths[index], **(block_args or {})))
        in_channels = out_channels
    return nn.SequentialCell(blocks), out_channels


def drop_path_rates(layers, drop_path_rate):
    """Per stage, the stochastic-depth rate of each block: rising linearly from 0 to `drop_path_rate`."""
    total = sum(layers)
    rates = [drop_path_rate * index / max(total - 1, 1) for index in range(total)]
    starts = np.cumsum((0,) + tuple(layers))
    return [rates[start:start + depth] for start, depth in zip(starts, layers)]


class Bottleneck(nn.Cell):
    """What the zoo's bottlenecks share: `1x1 reduce -> (the block's own 3x3) -> 1x1 expand`, plus the
    shortcut, and `zero_init_last`. A subclass calls `add_reduce` first and `add_expand` last in its
    `__init__`, so that parameters keep the references' order, and defines `construct`."""

    expansion = 4

    def add_reduce(self, in_channels, width):
        """conv1 / bn1 / act1: the 1x1 convolution to the block's width."""
        self.conv1 = conv2d(in_channels, width, 1)
        self.bn1 = batch_norm(width)
        self.act1 = nn.ReLU()

    def add_expand(self, width, planes, downsample, drop_path):
        """conv3 / bn3, stochastic depth, the shortcut and act3."""
        self.conv3 = conv2d(width, planes * self.expansion, 1)
        self.bn3 = batch_norm(planes * self.expansion)
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.downsample = downsample if downsample is not None else nn.Identity()
        self.act3 = nn.ReLU()

    def zero_init_last(self):
        """Zero the last BN's gamma so that the block starts as its shortcut."""
        self.bn3.gamma.set_data(initializer(Zero(), self.bn3.gamma.shape, self.bn3.gamma.dtype))

    def residual(self, out, shortcut):
        """The block's output: `act3(drop_path(bn3(conv3(out))) + shortcut)`."""
        return self.act3(self.drop_path(self.bn3(self.conv3(out))) + shortcut)


class ResNet(nn.Cell):
    """ResNet backbone + classifier head.

    Args:
        block: residual block class; called as `block(in_channels, planes, stride, downsample,
            drop_block=..., drop_path=..., **block_args)`; has an `expansion` and `zero_init_last()`.
        layers: number of blocks in each of the four stages.
        stem_type / stem_width: '7x7' (`stem_width` out) or 'deep_3x3' (3x3 x3, `2 * stem_width` out).
        avg_down: average-pool the projection shortcut instead of striding its 1x1 conv.
        drop_rate: dropout before the classifier.
        drop_path_rate: stochastic-depth rate, rising linearly over the blocks to this value.
        drop_block_rate: DropBlock rate in stages 3 and 4.
        zero_init_last: start each residual branch at zero (gamma of its last BN = 0).
    """

    def __init__(self, block, layers, num_classes=1000, in_chans=3, stem_type=STEM_7X7, stem_width=64,
                 avg_down=False, drop_rate=0.0, drop_path_rate=0.0, drop_block_rate=0.0,
                 zero_init_last=True, block_args=None):
        super().__init__()
        if len(layers) != len(STAGE_NAMES):
            raise ValueError(f"layers must give {len(STAGE_NAMES)} stage depths, got {layers}")
        if not 0.0 <= drop_rate < 1.0:
            raise ValueError(f"drop_rate must be in [0, 1), got {drop_rate}")
        self.num_classes = num_classes
        self.conv1, channels = make_stem(stem_type, stem_width, in_chans)
        self.bn1 = batch_norm(channels)
        self.act1 = nn.ReLU()
        self.maxpool = MaxPool3x3(stride=2)
        self.feature_info = [dict(num_chs=channels, reduction=2, module='act1')]

        stage_drop_paths = drop_path_rates(layers, drop_path_rate)
        for name, planes, stride, depth, drop_paths in zip(STAGE_NAMES, STAGE_PLANES, STAGE_STRIDES, layers,
                                                           stage_drop_paths):
            stage, channels = make_stage(block, in_channels=channels, planes=planes, depth=depth, stride=stride,
                                         avg_down=avg_down, drop_paths=drop_paths, stage_name=name,
                                         drop_block_rate=drop_block_rate, block_args=block_args)
            setattr(self, name, stage)
            reduction = self.feature_info[-1]['reduction'] * (2 if name == 'layer1' else stride)
            self.feature_info.append(dict(num_chs=channels, reduction=reduction, module=name))

        self.num_features = channels
        self.global_pool = GlobalAvgPool()
        self.drop = Dropout(p=drop_rate) if drop_rate > 0.0 else nn.Identity()
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

    def set_recompute(self, level: str = RECOMPUTE_NONE) -> None:
        """Recompute activations in the backward pass instead of keeping them (MindSpore's `Cell.recompute`,
        timm's `set_grad_checkpointing`): 'stage' recomputes each of layer1..4 from its input, 'block' each
        residual block; 'none' keeps every activation. Graph mode only."""
        if level not in RECOMPUTE_LEVELS:
            raise ValueError(f"recompute must be one of {', '.join(RECOMPUTE_LEVELS)}, got {level!r}")
        if level == RECOMPUTE_NONE:
            return
        for name in STAGE_NAMES:
            stage = getattr(self, name)
            cells = [stage] if level == RECOMPUTE_STAGE else list(stage.cells())
            for cell in cells:
                cell.recompute()

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


# The settings of the network a run builds (declared here, assembled by zoo_core.engine.settings).
NETWORK_SETTINGS = declare(
    __name__,
    Setting('net', REQUIRED, 'network variant (python -m zoo_core.models lists them)', 'paper', kind=str,
            eval=True),
    Setting('num_classes', 1000, 'classifier outputs', 'ImageNet', eval=True),
    Setting('drop_rate', 0.0, 'dropout before the classifier', 'ModelZoo'),
    Setting('drop_path_rate', 0.0, 'stochastic depth of the blocks', 'timm'),
    Setting('drop_block_rate', 0.0, 'DropBlock in stages 3 and 4', 'timm'),
    Setting('zero_init_last', True, "zero gamma of each block's last BatchNorm", 'timm'),
    Setting('recompute', 'none', "recompute activations in the backward pass instead of keeping them "
            "(MindSpore's Cell.recompute, timm's --grad-checkpointing): none, stage (each of layer1..4) or block "
            "(each residual block); graph mode only", 'timm (grad checkpointing), MindSpore `Cell.recompute`'),
)
