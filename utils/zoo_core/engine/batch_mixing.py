"""Batch mixup and CutMix inside the train step, from the host's draws (`zoo_core.data.mixing`).

The host pipeline sends uint8 images, integer labels and three small draw columns; the graph casts the
images to float32 (0-255, the network normalises them) and mixes them, so the host neither mixes nor
sends float32 images (4x the bytes). The arithmetic is the host version's, op for op in float32:
`a * x + b * x[perm]` with the host's float32 weights, which is `lam * x + (1 - lam) * x[perm]` for mixup
and a pasted box for CutMix (`1 * x + 0 * x[perm]` outside it), bit-equal for equal draws
(`tests/test_mixing.py`). Labels become `l * onehot(y) + (1 - l) * onehot(y[perm])`.
"""
import mindspore as ms
from mindspore import nn, ops


class BatchMixing(nn.Cell):
    """(uint8 images NCHW, int labels N, perm N, box 4, mix 6) -> (float32 mixed images, soft labels N x K)."""

    def __init__(self, num_classes: int):
        super().__init__()
        self.num_classes = num_classes

    def construct(self, images, labels, perm, box, mix):
        x = images.astype(ms.float32)
        partner = ops.gather(x, perm, 0)
        height, width = x.shape[2], x.shape[3]
        rows = ops.arange(height, dtype=ms.int32).reshape((height, 1))
        cols = ops.arange(width, dtype=ms.int32).reshape((1, width))
        inside = ops.logical_and(ops.logical_and(rows >= box[0], rows < box[1]),
                                 ops.logical_and(cols >= box[2], cols < box[3]))
        own = ops.where(inside, mix[2], mix[0])
        other = ops.where(inside, mix[3], mix[1])
        mixed = own * x + other * partner
        one_hot = ops.one_hot(labels.astype(ms.int32), self.num_classes, ms.Tensor(1.0, ms.float32),
                              ms.Tensor(0.0, ms.float32))
        soft = mix[4] * one_hot + mix[5] * ops.gather(one_hot, perm, 0)
        return mixed, soft


class MixingLossCell(nn.Cell):
    """(images, labels, perm, box, mix) -> the loss of `network` on the mixed batch: what
    `nn.WithLossCell` is for unmixed (images, labels)."""

    def __init__(self, network: nn.Cell, loss_fn: nn.Cell, num_classes: int):
        super().__init__(auto_prefix=False)
        self.network = network
        self.loss_fn = loss_fn
        self.mixing = BatchMixing(num_classes)

    def construct(self, images, labels, perm, box, mix):
        mixed, soft = self.mixing(images, labels, perm=perm, box=box, mix=mix)
        return self.loss_fn(self.network(mixed), soft)
