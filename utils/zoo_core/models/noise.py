"""The random numbers of the network's stochastic layers (dropout, drop path, DropBlock), drawn so that a
seeded run repeats them and a resumed run redraws them exactly.

A training step binds a step counter to the layers (`bind_noise_counter`; `zoo_core.engine.train_step`
owns it, so checkpoints hold it and a resume restores it). A bound layer's noise is then a pure function
of (run seed, rank, layer, step, element): a 31-bit integer hash, elementwise, so neither the thread
count nor the machine's load nor a resume can change it. MindSpore's own random kernels keep a hidden
state that checkpoints do not hold (and `mindspore.set_rng_state` does not govern `ops.rand`; `mint.rand`
has no CPU kernel in 2.10), so a resumed run would draw other masks than the uninterrupted one. An unbound
layer (a network used outside the zoo's train step) draws with `ops.rand`.
"""
import mindspore as ms
from mindspore import Parameter, nn, ops

NOISE_COUNTER_NAME = 'noise_step'
# Integer hash (31-bit state in int64, so no product overflows): an odd multiplier mod 2**31 and an
# xor-shift are bijections of the 31-bit state; three rounds mix every input bit into every output bit.
# The element's position is hashed, offset by the hashed seed, and hashed again, so that two seeds'
# streams are not shifted copies of each other (as `hash(position + seed)` would make them).
HASH_MODULUS = 2 ** 31
HASH_MASK = HASH_MODULUS - 1
HASH_ROUNDS = ((15, 1_664_525), (13, 22_695_477), (16, 1_103_515_245))
# Seeds of (run seed, rank, layer, step) laid out so that no two of them meet within a run.
LAYERS_PER_NETWORK = 4096
RANKS_PER_RUN = 4096


def mix_bits(x):
    """The hash rounds over int64 values in [0, 2**31): a bijection of that range."""
    for shift, multiplier in HASH_ROUNDS:
        x = ops.bitwise_xor(x, ops.floor_divide(x, 2 ** shift))
        x = ops.bitwise_and(x * multiplier, HASH_MASK)
    return x


def hashed_uniform(shape: tuple, seed) -> ms.Tensor:
    """float32 noise of `shape`, uniform in [0, 1), a pure function of the int64 tensor `seed` and the
    element's position."""
    size = 1
    for dim in shape:
        size *= dim
    offset = mix_bits(ops.bitwise_and(seed, HASH_MASK))
    x = mix_bits(ops.bitwise_and(mix_bits(ops.arange(0, size, dtype=ms.int64)) + offset, HASH_MASK))
    return (x.astype(ms.float32) / float(HASH_MODULUS)).reshape(shape)


class StochasticLayer(nn.Cell):
    """A layer that draws noise in training: `self.uniform(shape)`, hashed when a counter is bound."""

    def __init__(self):
        super().__init__()
        self.noise_step = None
        self.noise_seed = 0

    def uniform(self, shape):
        """float32 uniform noise in [0, 1) of `shape` for this layer and the current training step."""
        if self.noise_step is None:
            return ops.rand(shape, dtype=ms.float32)
        return hashed_uniform(shape, self.noise_step * LAYERS_PER_NETWORK + self.noise_seed)


def noise_counter() -> Parameter:
    """A new step counter for `bind_noise_counter`: training state, saved in checkpoints."""
    return Parameter(ms.Tensor(0, ms.int64), name=NOISE_COUNTER_NAME, requires_grad=False)


def bind_noise_counter(network: nn.Cell, counter: Parameter, seed: int, rank: int) -> int:
    """Make every `StochasticLayer` of `network` draw from `counter` (advanced once per training step by its
    owner), with its own stream for run seed `seed` and rank `rank`; returns the number of layers bound."""
    layers = [cell for _, cell in network.cells_and_names() if isinstance(cell, StochasticLayer)]
    base = (seed * RANKS_PER_RUN + rank) * LAYERS_PER_NETWORK
    for index, layer in enumerate(layers):
        layer.noise_step = counter
        layer.noise_seed = (base + index) % HASH_MODULUS
    return len(layers)
