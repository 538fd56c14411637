"""The train step with batch mixing in the graph against the same step without, side by side in one run.

    python benchmarks/mixing_step.py [--network resnest50] [--batch 8] [--image-size 224] [--iters 6] [--repeat 2]

Both steps are the engine's `TrainStep` (`zoo_core.engine.train_step.build_train_step`) on the same network,
loss and optimizer, fed a uint8 batch: one with the ResNeSt recipe's mixup (the `MixingLossCell` mixes it from
the host's draws), one with mixup off (the network casts the uint8 batch itself). Repeats alternate the
order; img/s are medians. GRAPH mode, fp32, on the CPU with the zoo's ISA cap.
"""
import argparse
import os
import statistics
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchmark import time_calls  # noqa: E402  (a sibling script, not a package)

CLASSES = 1000
SEED = 0


def build_step(network, batch, image_size, mixup):
    """A function of no argument that runs one train step on a fixed random batch and blocks on its loss."""
    import mindspore as ms
    from easydict import EasyDict
    from zoo_core.data.mixing import MixingDraws
    from zoo_core.engine.crossentropy import CrossEntropySmooth
    from zoo_core.engine.train_step import build_train_step
    from zoo_core.models.input_norm import NormalizedNetwork
    from zoo_core.models.registry import IMAGENET_MEAN, IMAGENET_STD
    from zoo_core.optim.optimizer import build_optimizer
    from zoo_resnest.config import RECIPE
    from zoo_resnest.models import get_network

    cfg = EasyDict(RECIPE, mixup=mixup, cutmix=0.0, num_classes=CLASSES, drop_rate=0.0)
    net = get_network(network, num_classes=CLASSES)
    optimizer = build_optimizer(net, 0.01, cfg)
    wrapped = NormalizedNetwork(net, IMAGENET_MEAN, IMAGENET_STD)
    step = build_train_step(wrapped, CrossEntropySmooth(CLASSES, 0.1, sparse=mixup == 0), optimizer, cfg,
                            amp_level='O0')
    step.set_train(True)
    rng = np.random.default_rng(SEED)
    images = rng.integers(0, 256, (batch, 3, image_size, image_size), dtype=np.uint8)
    labels = rng.integers(0, CLASSES, batch).astype(np.int32)
    inputs = [images, labels]
    if mixup:
        inputs += list(MixingDraws(mixup, image_size=image_size, seed=SEED)(labels)[1:])
    tensors = [ms.Tensor(a) for a in inputs]
    return lambda: step(*tensors).asnumpy()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--network', default='resnest50')
    parser.add_argument('--batch', type=int, default=8)
    parser.add_argument('--image-size', type=int, default=224)
    parser.add_argument('--iters', type=int, default=6)
    parser.add_argument('--repeat', type=int, default=2)
    args = parser.parse_args(argv)
    import zoo_core  # noqa: F401  (the ISA cap, before MindSpore's first primitive)
    import mindspore as ms
    ms.set_device('CPU')
    ms.set_context(mode=ms.GRAPH_MODE)
    from zoo_resnest.config import RECIPE
    steps = {'mixup in the step': build_step(args.network, args.batch, args.image_size, RECIPE.mixup),
             'no mixup': build_step(args.network, args.batch, args.image_size, 0.0)}
    times = {name: [] for name in steps}
    for repeat in range(args.repeat):
        order = list(steps) if repeat % 2 == 0 else list(reversed(steps))
        for name in order:
            times[name] += time_calls(steps[name], 1, args.iters)[1]
    print(f"{args.network}, batch {args.batch}, {args.image_size}x{args.image_size}, GRAPH fp32, CPU")
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, median in medians.items():
        print(f"  {name:<18} {args.batch / median:6.2f} img/s  ({median * 1000:.0f} ms/step)")
    print(f"  ratio mixup / none: {medians['no mixup'] / medians['mixup in the step']:.3f}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
