"""Model EMA: an exponential moving average of the network's weights, updated after every optimizer update.

The averages are Parameters of the training network, named `ema.<parameter name>` (`EMA_PREFIX`), with
their update count as `ema_num_updates` (`EMA_UPDATES_NAME`), so every checkpoint of the training
network holds them and a resume restores them by name. As timm's `ModelEmaV2` and mindcv's EMA do, every
network parameter is averaged: the trained weights and the BatchNorm running statistics.

Decay warmup (`warmup=True`) is TensorFlow's `ExponentialMovingAverage(num_updates=...)`: update n uses
`min(decay, (1 + n) / (10 + n))`, so the early averages are not dominated by the random initialisation.
"""
import contextlib

import mindspore as ms
from mindspore import Parameter, ParameterTuple, Tensor, nn, ops
from zoo_core.runtime.config import Setting, declare

EMA_PREFIX = 'ema.'
EMA_UPDATES_NAME = 'ema_num_updates'
# TensorFlow's warmup: decay_n = min(decay, (WARMUP_OFFSET + n) / (WARMUP_DENOMINATOR_OFFSET + n)).
WARMUP_OFFSET = 1.0
WARMUP_DENOMINATOR_OFFSET = 10.0


def ema_decay_at(update, decay, warmup):
    """The decay that the `update`-th update (1-based) uses."""
    if not warmup:
        return decay
    return min(decay, (WARMUP_OFFSET + update) / (WARMUP_DENOMINATOR_OFFSET + update))


class ModelEma(nn.Cell):
    """The moving averages of `net`'s parameters; calling the cell performs one update.

    Args:
        decay: the weight of the old average (timm's and mindcv's 0.9998 for ImageNet recipes).
        warmup: TensorFlow's decay warmup (see the module docstring).
    """

    def __init__(self, net, decay, warmup=False):
        super().__init__(auto_prefix=False)
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.weights = ParameterTuple(net.get_parameters())
        self.ema = self.weights.clone(prefix=EMA_PREFIX.rstrip('.'), init='same')
        self.num_updates = Parameter(Tensor(0, ms.int32), name=EMA_UPDATES_NAME, requires_grad=False)
        self.decay = decay
        self.warmup = warmup
        self.hyper_map = ops.HyperMap()

    def construct(self):
        updates = self.num_updates + 1
        ops.assign(self.num_updates, updates)
        decay = ops.scalar_to_tensor(self.decay, ms.float32)
        if self.warmup:
            count = ops.cast(updates, ms.float32)
            decay = ops.minimum(decay, (WARMUP_OFFSET + count) / (WARMUP_DENOMINATOR_OFFSET + count))
        return self.hyper_map(ops.partial(_ema_update, decay), self.ema, self.weights)

    def averages(self):
        """Parameter name (the network's) -> numpy array of its average."""
        return {weight.name: average.asnumpy().copy() for weight, average in zip(self.weights, self.ema)}

    @contextlib.contextmanager
    def applied(self):
        """Within the block the network holds the averages (to evaluate or save them); its own weights
        are put back afterwards."""
        saved = [weight.asnumpy().copy() for weight in self.weights]
        for weight, average in zip(self.weights, self.ema):
            weight.set_data(Tensor(average.asnumpy().copy()))
        try:
            yield
        finally:
            for weight, value in zip(self.weights, saved):
                weight.set_data(Tensor(value))


_ema_update = ops.MultitypeFuncGraph('ema_update')


@_ema_update.register('Tensor', 'Tensor', 'Tensor')
def _update_one(decay, average, weight):
    """average <- decay * average + (1 - decay) * weight, in the average's dtype."""
    new = average * ops.cast(decay, average.dtype) + weight * ops.cast(1.0 - decay, average.dtype)
    return ops.assign(average, new)


# The settings of the weight average (declared here, assembled by zoo_core.engine.settings).
EMA_SETTINGS = declare(
    __name__,
    Setting('ema', False, 'keep an exponential moving average of the weights (ema.<name> in checkpoints); '
            'evaluated beside the raw weights, best of each kept (best.ckpt raw, best_ema.ckpt EMA)', 'timm'),
    Setting('ema_decay', 0.9998, 'weight of the old average per update', 'timm'),
    Setting('ema_warmup', False, 'lower the EMA decay in early updates: min(ema_decay, (1 + n) / (10 + n))', 'zoo'),
)
