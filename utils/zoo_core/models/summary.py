"""A network's size: parameters, and multiply-accumulates (MACs) of one image at a given input size.

MACs are counted from the network itself: one forward pass of a zero image in PyNative mode, with a
forward hook on every `nn.Conv2d` (output elements x input channels per group x kernel area) and `nn.Dense`
(output elements x input features). What these layers do is the bulk of the work; element-wise ops,
normalisation and pooling are not counted, as in the papers' and torchvision's figures (ResNeSt-50
5.39 G, torchvision's resnext50_32x4d 4.23 G; this counter: 5.37 G and 4.23 G at 224, in
`tests/test_summary.py`). Parameters are the tensors that training learns, BatchNorm's running statistics
left out, as PyTorch's `parameters()` counts them.
"""
from dataclasses import dataclass

import numpy as np
import mindspore as ms
from mindspore import nn

BN_STATISTICS = ('moving_mean', 'moving_variance')
IMAGE_CHANNELS = 3
GIGA = 1e9
MEGA = 1e6


def count_parameters(net):
    """Number of learnable values of `net` (BatchNorm's running statistics are not learnt)."""
    return sum(int(np.prod(p.shape)) for p in net.get_parameters() if not p.name.endswith(BN_STATISTICS))


def layer_macs(cell, output):
    """MACs of one call of `cell` (an `nn.Conv2d` or `nn.Dense`) that produced `output`."""
    if isinstance(cell, nn.Conv2d):
        _, in_per_group, kernel_h, kernel_w = cell.weight.shape
        return int(np.prod(output.shape)) * in_per_group * kernel_h * kernel_w
    return int(np.prod(output.shape)) * cell.in_channels


def count_macs(net, input_size, in_chans=IMAGE_CHANNELS):
    """MACs of `net` on one `in_chans` x `input_size` x `input_size` image.

    Runs one eval-mode forward pass in PyNative mode (forward hooks need it), then puts the execution mode
    and `net`'s training flag back as they were."""
    mode, training = ms.get_context('mode'), net.training
    total = []
    ms.set_context(mode=ms.PYNATIVE_MODE)
    handles = [cell.register_forward_hook(lambda cell, inputs, output: total.append(layer_macs(cell, output)))
               for _, cell in net.cells_and_names() if isinstance(cell, (nn.Conv2d, nn.Dense))]
    try:
        net.set_train(False)
        net(ms.Tensor(np.zeros((1, in_chans, input_size, input_size), dtype=np.float32)))
    finally:
        for handle in handles:
            handle.remove()
        net.set_train(training)
        ms.set_context(mode=mode)
    return sum(total)


@dataclass(frozen=True)
class ModelSummary:
    """What `summarize` measured of network `net`."""
    net: str
    parameters: int
    macs: int
    input_size: int

    def describe(self):
        """One line: 'resnest50: 27.48 M parameters, 5.37 GMACs at 224x224'."""
        return (f"{self.net}: {self.parameters / MEGA:.2f} M parameters, {self.macs / GIGA:.2f} GMACs at "
                f"{self.input_size}x{self.input_size}")


def summarize(net, name, input_size):
    """The `ModelSummary` of network `net` (variant `name`) at `input_size`."""
    return ModelSummary(name, count_parameters(net), count_macs(net, input_size), input_size)
