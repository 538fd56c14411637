"""Layers shared by the ResNet-family networks, written to match PyTorch's numerics exactly.

MindSpore's `pad_mode='same'` pooling pads only after the input on even sizes and its ONNX exporter
rejects `pad_mode='pad'` pooling, so PyTorch's padded and ceil-mode pools are built here from an
explicit pad followed by a `'valid'` pool: exact in every framework and exportable.
"""
import mindspore as ms
from mindspore import nn, ops

from zoo_core.models.noise import StochasticLayer

BN_EPS = 1e-5
# PyTorch's BatchNorm momentum 0.1 updates running stats with 0.1 * batch; MindSpore's momentum is the
# weight of the old value.
BN_MOMENTUM = 0.9


def conv2d(in_channels, out_channels, kernel_size, stride=1, groups=1, has_bias=False):
    """A PyTorch-style convolution with symmetric padding `kernel_size // 2` (the ResNet convention)."""
    padding = kernel_size // 2
    return nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                     pad_mode='pad' if padding else 'valid', padding=padding,
                     group=groups, has_bias=has_bias)


def batch_norm(num_features):
    """BatchNorm2d with PyTorch's epsilon and momentum."""
    return nn.BatchNorm2d(num_features, eps=BN_EPS, momentum=BN_MOMENTUM)


def pool_padding(size, kernel_size, stride, padding):
    """(before, after) zeros that a `'valid'` pool needs to equal PyTorch's pool with `padding` on one axis.

    PyTorch pads `padding` on both sides, but the last window may not reach the far padding (a
    stride-2 3x3 pool on an even size never does), so `after` is only what the last window reads.
    """
    out_size = (size + 2 * padding - kernel_size) // stride + 1
    after = max((out_size - 1) * stride + kernel_size - size - padding, 0)
    return padding, after


def concat_zeros(x, before, after, axis):
    """`x` with `before` and `after` zero slices concatenated along `axis` (2 or 3).

    MindSpore's CPU `Pad` kernel is about 10x slower than a concatenation (measured 96 vs 10 ms on a
    8x128x56x56 map); `zeros_like` of a slice of `x` keeps the batch open for a dynamic-batch export.
    """
    parts = (x,)
    if before:
        parts = (ops.zeros_like(x[:, :, :before, :] if axis == 2 else x[:, :, :, :before]),) + parts
    if after:
        parts = parts + (ops.zeros_like(x[:, :, :after, :] if axis == 2 else x[:, :, :, :after]),)
    if len(parts) == 1:
        return x
    return ops.concat(parts, axis=axis)


def zero_pad_for_pool(x, kernel_size, stride, padding):
    """`x` zero-padded so that a `'valid'` pool over it equals PyTorch's pool with `padding` (NCHW)."""
    top, bottom = pool_padding(x.shape[2], kernel_size, stride, padding)
    left, right = pool_padding(x.shape[3], kernel_size, stride, padding)
    return concat_zeros(concat_zeros(x, top, bottom, axis=2), left, right, axis=3)


class MaxPool3x3(nn.Cell):
    """`nn.MaxPool2d(3, stride, padding=1)` of PyTorch, for non-negative inputs (it follows a ReLU).

    Zero padding equals PyTorch's -inf padding when every input is >= 0.
    """

    def __init__(self, stride=2):
        super().__init__()
        self.stride = stride
        self.pool = nn.MaxPool2d(kernel_size=3, stride=stride, pad_mode='valid')

    def construct(self, x):
        return self.pool(zero_pad_for_pool(x, 3, self.stride, 1))


class AvgPool3x3(nn.Cell):
    """`nn.AvgPool2d(3, stride, padding=1)` of PyTorch (count_include_pad=True: zeros count)."""

    def __init__(self, stride=2):
        super().__init__()
        self.stride = stride
        self.pool = nn.AvgPool2d(kernel_size=3, stride=stride, pad_mode='valid')

    def construct(self, x):
        return self.pool(zero_pad_for_pool(x, 3, self.stride, 1))


class AvgPoolCeil(nn.Cell):
    """`nn.AvgPool2d(k, k, ceil_mode=True, count_include_pad=False)` of PyTorch (the ResNet-D shortcut).

    A window that runs over the bottom or right edge averages only the real values. Replicating the
    last row/column up to a multiple of `k` gives exactly that average, with a plain 'valid' pool.
    """

    def __init__(self, kernel_size=2):
        super().__init__()
        self.kernel_size = kernel_size
        self.pool = nn.AvgPool2d(kernel_size=kernel_size, stride=kernel_size, pad_mode='valid')

    def construct(self, x):
        k = self.kernel_size
        height, width = x.shape[2], x.shape[3]
        pad_h = (k - height % k) % k
        pad_w = (k - width % k) % k
        if pad_h:
            x = ops.concat((x, ops.tile(x[:, :, height - 1:, :], (1, 1, pad_h, 1))), axis=2)
        if pad_w:
            x = ops.concat((x, ops.tile(x[:, :, :, width - 1:], (1, 1, 1, pad_w))), axis=3)
        return self.pool(x)


def spatial_mean(x):
    """Mean over H and W of an NCHW tensor, as a (N, C, 1, 1) tensor.

    An average pool over the whole map: MindSpore's CPU `ReduceMean` over (H, W) and its gradient are
    2-3x slower than the pooling kernels. Exports to ONNX (`AveragePool`), unlike AdaptiveAvgPool2d.
    """
    height, width = x.shape[2], x.shape[3]
    return ops.AvgPool(kernel_size=(height, width), strides=(height, width))(x)


class GlobalAvgPool(nn.Cell):
    """Mean over H and W; `keep_dims` keeps a 1x1 map. Exports to ONNX, unlike AdaptiveAvgPool2d."""

    def __init__(self, keep_dims=False):
        super().__init__()
        self.keep_dims = keep_dims

    def construct(self, x):
        pooled = spatial_mean(x)
        return pooled if self.keep_dims else pooled.reshape((-1, x.shape[1]))


class Dropout(StochasticLayer):
    """Dropout before the classifier: zeroes each feature with probability `p` in training, scales the rest
    by 1 / (1 - p), with its mask from `zoo_core.models.noise`.

    MindSpore 2.10's CPU kernel of `nn.Dropout` gives a different mask for the same seed from one process to
    the next (the same seeded call hashed three ways in three runs, docs/REPRODUCIBILITY.md), which made a
    seeded training run unrepeatable.
    """

    def __init__(self, p=0.0):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout rate must be in [0, 1), got {p}")
        self.p = p

    def construct(self, x):
        if not self.training or self.p == 0.0:
            return x
        keep = (self.uniform(x.shape) >= self.p).astype(x.dtype)
        return x * keep / (1.0 - self.p)


class DropPath(StochasticLayer):
    """Stochastic depth: drops a sample's whole residual branch with probability `drop_prob` in training."""

    def __init__(self, drop_prob=0.0):
        super().__init__()
        if not 0.0 <= drop_prob < 1.0:
            raise ValueError(f"drop_path rate must be in [0, 1), got {drop_prob}")
        self.keep_prob = 1.0 - drop_prob

    def construct(self, x):
        if not self.training or self.keep_prob == 1.0:
            return x
        mask_shape = (x.shape[0],) + (1,) * (x.ndim - 1)
        keep = (self.uniform(mask_shape) < self.keep_prob).astype(x.dtype)
        return x * keep / self.keep_prob


class DropBlock(StochasticLayer):
    """DropBlock (Ghiasi et al., 2018): zeroes contiguous `block_size` squares in training.

    `gamma_scale` scales the seed rate, as timm does for the third stage (0.25) of a ResNet.
    """

    def __init__(self, drop_prob=0.0, block_size=7, gamma_scale=1.0):
        super().__init__()
        if not 0.0 <= drop_prob < 1.0:
            raise ValueError(f"drop_block rate must be in [0, 1), got {drop_prob}")
        if block_size % 2 != 1:
            raise ValueError(f"DropBlock block_size must be odd, got {block_size}")
        self.drop_prob = drop_prob
        self.block_size = block_size
        self.gamma_scale = gamma_scale
        self.grow = nn.MaxPool2d(kernel_size=block_size, stride=1, pad_mode='same')

    def construct(self, x):
        if not self.training or self.drop_prob == 0.0:
            return x
        height, width = x.shape[2], x.shape[3]
        block = min(self.block_size, height, width)
        valid = max((height - block + 1) * (width - block + 1), 1)
        gamma = self.gamma_scale * self.drop_prob * height * width / (block * block) / valid
        seeds = (self.uniform(x.shape) < gamma).astype(ms.float32)
        keep = 1.0 - self.grow(seeds)
        scale = keep.size / ops.maximum(keep.sum(), 1.0)
        return x * (keep * scale).astype(x.dtype)
