"""Activation memory and step time of ResNeSt's train step for formulations of the split weighting.

    python benchmarks/split_weighting_memory.py [--network resnest50] [--batch 8] [--image-size 224]
                                                [--recompute none,block] [--iters 3]

The split attention weights each split, a (B, C, H, W) map, by its (B, C, 1, 1) attention weights. The
formulations give the same numbers; they differ in what MindSpore keeps for the backward pass:

- `broadcasting`: `split * weight` with the hand-written backward (the zoo before commit 0c06fd0);
- `broadcast-first-autodiff`: `split * broadcast_to(weight, split.shape)`, MindSpore's autodiff;
- `broadcast-first` (shipped, `ScaleChannels`): the same forward with the hand-written backward.

Each formulation and recompute level runs in its own process: one train step (SGD with momentum on
cross-entropy, GRAPH mode, fp32, random data) compiles, then `--iters` timed steps. Activations are the
process's peak RSS minus its RSS before the first step (weights, optimizer state and compiled graph
excluded); step time is the median. On the CPU with the zoo's ISA cap.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchmark import peak_rss_mb, split_choices, time_calls  # noqa: E402  (a sibling script, not a package)

FORMULATIONS = ('broadcasting', 'broadcast-first-autodiff', 'broadcast-first')
LEVELS = ('none', 'stage', 'block')
CLASSES = 1000
SEED = 0
WORKER_TIMEOUT_S = 1800


def broadcasting_scale():
    """The weighting as the zoo had it before commit 0c06fd0: a broadcasting multiply, hand-written backward."""
    from mindspore import nn
    from zoo_core.models.layers import spatial_mean

    class BroadcastingScale(nn.Cell):
        def construct(self, x, weight):
            return x * weight

        def bprop(self, x, weight, out, dout):
            area = x.shape[2] * x.shape[3]
            return dout * weight, spatial_mean(dout * x) * area

    return BroadcastingScale


def autodiff_scale():
    """The shipped forward (the same function), differentiated by MindSpore."""
    from mindspore import nn
    from zoo_resnest.models import splat

    class AutodiffScale(nn.Cell):
        construct = splat.ScaleChannels.construct

    return AutodiffScale


def use_formulation(name: str) -> None:
    """Make every split attention built from now on weight its splits with formulation `name`."""
    from zoo_resnest.models import splat
    if name == 'broadcasting':
        splat.ScaleChannels = broadcasting_scale()
    elif name == 'broadcast-first-autodiff':
        splat.ScaleChannels = autodiff_scale()


def measure(network: str, formulation: str, level: str, batch: int, image_size: int, iters: int) -> dict:
    """This process's activation MB and median step seconds for one formulation and recompute level, the
    class that weighted the splits, and the loss of one more step (equal for all formulations: the same numbers)."""
    import zoo_core  # noqa: F401  (the ISA cap, before MindSpore's first primitive)
    import mindspore as ms
    from mindspore import nn
    from zoo_resnest.models import get_network, splat

    ms.set_device('CPU')
    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_seed(SEED)
    use_formulation(formulation)
    net = get_network(network, num_classes=CLASSES)
    net.set_recompute(level)
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction='mean')
    optimizer = nn.Momentum(net.trainable_params(), learning_rate=0.01, momentum=0.9)
    step = nn.TrainOneStepCell(nn.WithLossCell(net, loss), optimizer)
    step.set_train(True)
    rng = np.random.default_rng(SEED)
    images = ms.Tensor(rng.standard_normal((batch, 3, image_size, image_size)).astype(np.float32))
    labels = ms.Tensor(rng.integers(0, CLASSES, batch).astype(np.int32))
    before = peak_rss_mb()
    _, times = time_calls(lambda: step(images, labels).asnumpy(), 1, iters)
    activations = peak_rss_mb() - before
    weighting = next(cell for _, cell in net.cells_and_names() if isinstance(cell, splat.ScaleChannels))
    return dict(formulation=formulation, recompute=level, activations_mb=round(activations),
                step_s=statistics.median(times), weighting=type(weighting).__name__,
                loss_after=float(step(images, labels).asnumpy()))


def run_worker(args: argparse.Namespace, formulation: str, level: str) -> dict:
    """`measure` in a process of its own, so that each peak RSS is its own."""
    command = [sys.executable, os.path.abspath(__file__), '--network', args.network, '--batch', str(args.batch),
               '--image-size', str(args.image_size), '--iters', str(args.iters),
               '--worker', formulation, level]
    result = subprocess.run(command, capture_output=True, text=True, timeout=WORKER_TIMEOUT_S, check=False)
    if result.returncode:
        raise RuntimeError(f"{formulation} / {level} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def table(rows: list) -> list:
    """Lines of the result table, one row per formulation, a column pair per recompute level."""
    levels = list(dict.fromkeys(row['recompute'] for row in rows))
    cells = {(row['formulation'], row['recompute']): row for row in rows}
    lines = ['| formulation | ' + ' | '.join(f"{level}: activations MB, step s" for level in levels) + ' |',
             '| --- |' + ' --- |' * len(levels)]
    for formulation in dict.fromkeys(row['formulation'] for row in rows):
        values = [f"{cells[formulation, level]['activations_mb']}, {cells[formulation, level]['step_s']:.2f}"
                  for level in levels]
        lines.append(f"| {formulation} | " + ' | '.join(values) + ' |')
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--network', default='resnest50', help='a ResNeSt network of the zoo')
    parser.add_argument('--batch', type=int, default=8)
    parser.add_argument('--image-size', type=int, default=224)
    parser.add_argument('--formulations', default=','.join(FORMULATIONS), help='comma-separated')
    parser.add_argument('--recompute', default='none,block', help=f"comma-separated, from {', '.join(LEVELS)}")
    parser.add_argument('--iters', type=int, default=3, help='timed steps after the compiling one')
    parser.add_argument('--worker', nargs=2, metavar=('FORMULATION', 'LEVEL'), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.batch, args.image_size, args.iters) < 1:
        parser.error('--batch, --image-size and --iters must be >= 1')
    args.formulations = split_choices(parser, '--formulations', args.formulations, FORMULATIONS)
    args.recompute = split_choices(parser, '--recompute', args.recompute, LEVELS)
    if args.worker:
        print(json.dumps(measure(args.network, *args.worker, batch=args.batch, image_size=args.image_size,
                                 iters=args.iters)))
        return 0
    rows = [run_worker(args, formulation, level) for formulation in args.formulations for level in args.recompute]
    print(f"{args.network} train step, batch {args.batch}, {args.image_size}x{args.image_size}, GRAPH fp32, CPU, "
          f"median of {args.iters} steps")
    print('\n'.join(table(rows)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
