"""Input normalisation in the graph: the pipelines send uint8 CHW images to the device (a quarter of the
bytes of float32), and `(x / 255 - mean) / std` runs there, in front of the network.

`InputNormalization` is the arithmetic; `NormalizedNetwork` puts it in front of a network without
renaming the network's parameters (MindSpore's `auto_prefix` would prefix them with the attribute name,
`network.conv1.weight`), so checkpoints saved from either load into the other, and `export` can give
an exported model uint8 input. Float input of 0-255 values (the batches that mixup blends on the host)
goes through the same arithmetic: the cell casts whatever it gets.
"""
import numpy as np
import mindspore as ms
from mindspore import nn, ops

PIXEL_MAX = 255.0


class InputNormalization(nn.Cell):
    """uint8 (or float, 0-255) NCHW images -> `(x / 255 - mean) / std` per channel, in `dtype`.

    Computed as one multiply-add, `x * (1 / (255 std)) + (-mean / std)`, with the constants folded in
    float64 and stored in `dtype`: the result equals the host's float32 `Normalize` to float32 rounding.

    Args:
        mean / std: per-channel statistics on the 0-1 scale (ImageNet's: (0.485, 0.456, 0.406) ...).
        dtype: the compute dtype of the network behind it (float32; float16 under AMP O2/O3).
    """

    def __init__(self, mean, std, dtype=ms.float32):
        super().__init__()
        mean = np.asarray(mean, dtype=np.float64).reshape(1, -1, 1, 1)
        std = np.asarray(std, dtype=np.float64).reshape(1, -1, 1, 1)
        self.dtype = dtype
        self.scale = ms.Tensor(1.0 / (PIXEL_MAX * std), dtype=dtype)
        self.shift = ms.Tensor(-mean / std, dtype=dtype)

    def construct(self, images):
        return ops.cast(images, self.dtype) * self.scale + self.shift


class NormalizedNetwork(nn.Cell):
    """`network(InputNormalization(mean, std, dtype)(images))`, with `network`'s parameter names unchanged.

    `network` stays reachable as `.network` (its `set_train`, `fc` and the rest).
    """

    def __init__(self, network, mean, std, dtype=ms.float32):
        super().__init__(auto_prefix=False)  # keep `conv1.weight`, not `network.conv1.weight`
        self.normalize = InputNormalization(mean, std, dtype)
        self.network = network

    def construct(self, images):
        return self.network(self.normalize(images))

