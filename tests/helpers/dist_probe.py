"""Probe of data-parallel training, run by tests/test_distributed.py under msrun/mpirun or as one process.

Each mode sets up the device with the engine's `zoo_core.runtime.distributed.setup_device`, so that what is
probed is the zoo's own distributed set-up, and writes `OUT_DIR/<mode>_rank<r>_of<N>.npz` (the final
parameters, by name) when it ends; `sgd` also writes its initial parameters, `OUT_DIR/sgd_initial.npz`.

  python dist_probe.py sgd OUT_DIR [--per_rank_batch B] [--steps S] [--lr LR]
      A tiny conv + dense network without batch statistics, initialised from a fixed numpy seed, trained
      by SGD on a fixed synthetic set: at step s the global batch is samples [s*B*N, (s+1)*B*N) and rank r
      takes its r-th block of B. With averaged gradients, N ranks of batch B end where one process of
      batch B*N does.
  python dist_probe.py accum OUT_DIR [--per_rank_batch b] [--accumulate_steps K] [--steps S] [--lr LR]
      The same network and data through the zoo's `TrainStep` with gradient accumulation: update s takes
      the global batch of `sgd` with B = K*b, as K micro-batches of b per rank. It ends where `sgd` does.
  python dist_probe.py engine OUT_DIR [train.py --key value ...]
      The engine's training (zoo_core.engine.train.train) of a ResNeSt with the given flags.
"""
import argparse
import os
import sys

import numpy as np
import mindspore as ms
from mindspore import nn
from mindspore._c_expression import RuntimeConf  # no public getter tells whether threads_num was set


from zoo_core.runtime.distributed import setup_device

INPUT_SHAPE = (3, 8, 8)
NUM_CLASSES = 4
INIT_SEED = 0
DATA_SEED = 1
INIT_STD = 0.3


class TinyNet(nn.Cell):
    """conv 3x3 -> ReLU -> global mean -> dense: every output depends on its own sample only."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(INPUT_SHAPE[0], 6, 3, pad_mode='same', has_bias=True)
        self.relu = nn.ReLU()
        self.fc = nn.Dense(6, NUM_CLASSES)

    def construct(self, x):
        return self.fc(self.relu(self.conv(x)).mean(axis=(2, 3)))


def initialise(net):
    """The same start on every process, whatever MindSpore's own random state."""
    rng = np.random.default_rng(INIT_SEED)
    for param in net.trainable_params():
        param.set_data(ms.Tensor(rng.normal(0.0, INIT_STD, param.shape).astype(np.float32)))


def synthetic_samples(count):
    """`count` fixed images and labels (identical in every process)."""
    rng = np.random.default_rng(DATA_SEED)
    images = rng.normal(0.0, 1.0, (count,) + INPUT_SHAPE).astype(np.float32)
    labels = rng.integers(0, NUM_CLASSES, count).astype(np.int32)
    return images, labels


def save_parameters(net, path):
    """Every parameter of `net` (trainable or not) by name, the trainable names as `__trainable__`, and
    whether this process's CPU kernel threads were set (by setup_device) as `__threads_configured__`."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    arrays = {param.name: param.asnumpy() for param in net.get_parameters()}
    arrays['__trainable__'] = np.array([param.name for param in net.trainable_params()])
    arrays['__threads_configured__'] = np.array(RuntimeConf.get_instance().is_op_threads_num_configured())
    np.savez(path, **arrays)


def result_path(out_dir, mode, rank, group_size):
    """OUT_DIR/<mode>_rank<r>_of<N>.npz."""
    return os.path.join(out_dir, f'{mode}_rank{rank}_of{group_size}.npz')


def run_sgd(out_dir, argv):
    """Train TinyNet on this rank's share of each global batch; save the parameters."""
    parser = argparse.ArgumentParser(prog='dist_probe.py sgd')
    parser.add_argument('--per_rank_batch', type=int, default=4)
    parser.add_argument('--steps', type=int, default=3)
    parser.add_argument('--lr', type=float, default=0.5)
    args = parser.parse_args(argv)
    rank, group_size = setup_device('CPU', 'graph')
    global_batch = args.per_rank_batch * group_size
    images, labels = synthetic_samples(global_batch * args.steps)
    net = TinyNet()
    initialise(net)
    if rank == 0:
        save_parameters(net, os.path.join(out_dir, 'sgd_initial.npz'))
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction='mean')
    # In DATA_PARALLEL mode TrainOneStepCell all-reduces the gradients (mean, as setup_device configures).
    step = nn.TrainOneStepCell(nn.WithLossCell(net, loss), nn.SGD(net.trainable_params(), learning_rate=args.lr))
    step.set_train()
    for index in range(args.steps):
        start = index * global_batch + rank * args.per_rank_batch
        batch = slice(start, start + args.per_rank_batch)
        step(ms.Tensor(images[batch]), ms.Tensor(labels[batch]))
    save_parameters(net, result_path(out_dir, 'sgd', rank, group_size))


def run_accum(out_dir, argv):
    """Train TinyNet with `TrainStep(accumulate_steps=K)` on this rank's micro-batches; save the parameters."""
    from zoo_core.engine.train_step import TrainStep

    parser = argparse.ArgumentParser(prog='dist_probe.py accum')
    parser.add_argument('--per_rank_batch', type=int, default=2)
    parser.add_argument('--accumulate_steps', type=int, default=2)
    parser.add_argument('--steps', type=int, default=3)
    parser.add_argument('--lr', type=float, default=0.5)
    args = parser.parse_args(argv)
    rank, group_size = setup_device('CPU', 'graph')
    micro, accumulate = args.per_rank_batch, args.accumulate_steps
    update_batch = micro * group_size * accumulate
    images, labels = synthetic_samples(update_batch * args.steps)
    net = TinyNet()
    initialise(net)
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction='mean')
    step = TrainStep(nn.WithLossCell(net, loss), nn.SGD(net.trainable_params(), learning_rate=args.lr),
                     accumulate_steps=accumulate)
    step.set_train()
    for update in range(args.steps):
        for index in range(accumulate):
            start = update * update_batch + (index * group_size + rank) * micro
            step(ms.Tensor(images[start:start + micro]), ms.Tensor(labels[start:start + micro]))
    save_parameters(net, result_path(out_dir, 'accum', rank, group_size))


def run_engine(out_dir, argv):
    """The engine's training of a ResNeSt with train.py's flags `argv`; save the trained network."""
    from mindspore.communication import get_group_size, get_rank
    from zoo_core.runtime.distributed import launched_distributed
    import zoo_core.engine.train as engine
    from zoo_resnest.family import FAMILY

    built = []
    create_network = engine.create_network

    def create_network_kept(*args, **kwargs):
        built.append(create_network(*args, **kwargs))
        return built[-1]

    engine.create_network = create_network_kept
    engine.train(FAMILY.get_config(argv), FAMILY)
    rank, group_size = (get_rank(), get_group_size()) if launched_distributed() else (0, 1)
    save_parameters(built[-1], result_path(out_dir, 'engine', rank, group_size))


MODES = {'sgd': run_sgd, 'accum': run_accum, 'engine': run_engine}


def main(argv):
    """`dist_probe.py MODE OUT_DIR [options]`."""
    if len(argv) < 2 or argv[0] not in MODES:
        print(__doc__, file=sys.stderr)
        return 2
    MODES[argv[0]](os.path.abspath(argv[1]), argv[2:])
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
