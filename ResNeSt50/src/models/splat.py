"""Split attention (Zhang et al., "ResNeSt: Split-Attention Networks", 2020).

One grouped convolution makes `radix` splits of every cardinal group at once (groups = cardinality x
radix); the attention over the splits is tensor arithmetic on the `radix` channel blocks, valid for any
radix and cardinality. Names (`conv`, `bn0`, `fc1`, `bn1`, `fc2`) are the authors' and timm's.

Speed on MindSpore's CPU backend decides the formulation: the splits are taken apart with one `split`
and combined with elementwise adds, and the global pooling is an average pool over the whole map;
reductions over a radix axis or over (H, W) (`ReduceSum`, `ReduceMean`) are 2-4x slower there
(forward + backward of the attention alone, summed over six resnest50 layer shapes: 368 -> 142 ms).
"""
from mindspore import nn, ops

from zoo_core.models.layers import batch_norm, conv2d, spatial_mean

ATTENTION_REDUCTION = 4
MIN_ATTENTION_CHANNELS = 32


def attention_channels(in_channels, radix):
    """Width of the attention's hidden layer: `max(in_channels * radix // 4, 32)`."""
    return max(in_channels * radix // ATTENTION_REDUCTION, MIN_ATTENTION_CHANNELS)


class RadixSoftmax(nn.Cell):
    """Softmax across the radix splits of each cardinal group; a sigmoid gate when radix is 1.

    Input (B, cardinality * radix * C', 1, 1) laid out as the authors' `fc2` produces it;
    output (B, radix, cardinality * C', 1, 1), split-major, to weight the splits.
    """

    def __init__(self, radix, cardinality, channels):
        super().__init__()
        self.radix = radix
        self.cardinality = cardinality
        self.channels = channels

    def construct(self, x):
        if self.radix == 1:
            return ops.sigmoid(x).reshape((-1, 1, self.channels, 1, 1))
        x = x.reshape((-1, self.cardinality, self.radix, self.channels // self.cardinality))
        x = ops.softmax(x.transpose(0, 2, 1, 3), axis=1)
        return x.reshape((-1, self.radix, self.channels, 1, 1))


class ScaleChannels(nn.Cell):
    """`x * weight` for a (B, C, H, W) map and (B, C, 1, 1) weights, keeping little for the backward.

    The weights are broadcast to the map before the multiply: the same numbers as the broadcasting multiply,
    of which MindSpore's CPU backend keeps more for the backward. resnest50's train step at batch 8, 224 px:
    2,190 against 2,988 MB of activations, and 1,610 against 2,883 MB under `--recompute block`
    (`benchmarks/split_weighting_memory.py`). The hand-written backward needs only the inputs, `x` and the
    small weights, on any backend (autodiff would keep the broadcast weights, as large as `x`), and sums
    `dout * x` over (H, W) with an average pool (the attention alone, forward and backward over six resnest50
    layer shapes: 78 ms against autodiff's `ReduceSum` 115 ms, when it was written; the whole step times the same).
    """

    def construct(self, x, weight):
        return x * ops.broadcast_to(weight, x.shape)

    def bprop(self, x, weight, out, dout):
        area = x.shape[2] * x.shape[3]
        return dout * ops.broadcast_to(weight, x.shape), spatial_mean(dout * x) * area


class SplitAttnConv2d(nn.Cell):
    """Split-attention convolution: `radix` parallel grouped convolutions fused by attention."""

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, cardinality=1, radix=2,
                 drop_block=None):
        super().__init__()
        if radix < 1 or cardinality < 1:
            raise ValueError(f"radix and cardinality must be >= 1, got radix={radix}, cardinality={cardinality}")
        if out_channels % cardinality:
            raise ValueError(f"out_channels {out_channels} is not divisible by cardinality {cardinality}")
        self.radix = radix
        self.out_channels = out_channels
        hidden = attention_channels(in_channels, radix)
        self.conv = conv2d(in_channels, out_channels * radix, kernel_size, stride=stride,
                           groups=cardinality * radix)
        self.bn0 = batch_norm(out_channels * radix)
        self.drop_block = drop_block if drop_block is not None else nn.Identity()
        self.act0 = nn.ReLU()
        self.fc1 = nn.Conv2d(out_channels, hidden, 1, group=cardinality, has_bias=True)
        self.bn1 = batch_norm(hidden)
        self.act1 = nn.ReLU()
        self.fc2 = nn.Conv2d(hidden, out_channels * radix, 1, group=cardinality, has_bias=True)
        self.rsoftmax = RadixSoftmax(radix, cardinality, out_channels)
        self.scale = ScaleChannels()

    def construct(self, x):
        x = self.act0(self.drop_block(self.bn0(self.conv(x))))
        splits = ops.split(x, self.out_channels, axis=1) if self.radix > 1 else (x,)
        attn = self.fc2(self.act1(self.bn1(self.fc1(spatial_mean(sum_of(splits))))))
        attn = self.rsoftmax(attn).reshape((-1, self.radix * self.out_channels, 1, 1))
        weights = ops.split(attn, self.out_channels, axis=1) if self.radix > 1 else (attn,)
        out = self.scale(splits[0], weights[0])
        for split, weight in zip(splits[1:], weights[1:]):
            out = out + self.scale(split, weight)
        return out


def sum_of(tensors):
    """Elementwise sum of a tuple of tensors of one shape."""
    total = tensors[0]
    for tensor in tensors[1:]:
        total = total + tensor
    return total
