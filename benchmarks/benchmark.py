"""Throughput and peak memory of our ResNeSt/ResNeXt against mindcv's (and timm's, for information).

Every (network, implementation) pair runs in its own subprocess, so that each peak memory (the
process's RSS high-water mark) is that network's alone and no compilation cache is shared. A worker
measures, at the given image size, in fp32:

- forward throughput: the network in eval mode, `--batch-forward` images per call;
- train-step throughput: one SGD-with-momentum step on the cross-entropy loss (`nn.TrainOneStepCell`;
  for timm, `loss.backward()` + `optimizer.step()`), `--batch-train` images per step;

each as the first call (reported separately: graph compilation in GRAPH mode), `--warmup` untimed
calls, then `--iters` timed calls of which the median is taken. `--repeat N` runs the whole sequence N
times, alternating the order of the implementations, and pools the timed calls: on a shared machine
the speed drifts over minutes, and consecutive subprocesses would see different machines.

oneDNN's AVX-512 path runs fp32 NCHW 3x3 convolutions with a reference kernel on this generation of
CPUs (see `zoo_core/__init__.py`); this benchmark caps the ISA (`ONEDNN_MAX_CPU_ISA=AVX2` unless the
caller set it) for every network it runs, so that all are measured under the same environment.
`--mindcv-default-isa` adds mindcv's rows under oneDNN's default ISA, for information, and
`--timm-default-isa` timm's (PyTorch's own oneDNN has a fast AVX-512 path here: that is how timm's users
run it). MindSpore 2.7 and 2.8 ship oneDNN 2, which reads `DNNL_MAX_CPU_ISA` instead: the benchmark sets both.

`--pythons A,B` runs every row under each of these interpreters (for example two virtual environments with
different MindSpore releases), side by side in one run, and labels the rows with each one's MindSpore;
`--uncapped` adds our rows with both variables at `ALL` (no cap: what the zoo leaves on oneDNN 2).

Usage: python benchmarks/benchmark.py [--networks resnest50,resnext50_32x4d] [--iters 10] [--json out.json]
"""
import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from typing import NamedTuple, Optional

ISA_VARIABLE = 'ONEDNN_MAX_CPU_ISA'
# oneDNN 2's name of the same cap (MindSpore 2.7 and 2.8 ship libdnnl.so.2).
ONEDNN2_ISA_VARIABLE = 'DNNL_MAX_CPU_ISA'
ISA_VARIABLES = (ISA_VARIABLE, ONEDNN2_ISA_VARIABLE)
CAPPED_ISA = 'AVX2'
# oneDNN's value for "no cap" (the zoo's import keeps a value the caller set).
UNCAPPED_ISA = 'ALL'
UNCAPPED_LABEL = 'ours (no ISA cap)'

NETWORKS = ('resnest50', 'resnext50_32x4d')
IMPLEMENTATIONS = ('ours', 'mindcv', 'timm')
# timm's name for the same architecture: the authors' resnest50 is timm's resnest50d.
TIMM_NAMES = {'resnest50': 'resnest50d', 'resnext50_32x4d': 'resnext50_32x4d'}
NUM_CLASSES = 1000
LEARNING_RATE = 0.01
MOMENTUM = 0.9
SEED = 0
RESULT_PREFIX = 'BENCHMARK_RESULT '
DEFAULT_ISA_LABEL = 'mindcv (default ISA)'
# --import-orders: what ran in our worker before the zoo was imported, with no ISA set by the caller (the
# zoo caps oneDNN's ISA at its import, which only helps before oneDNN's first primitive).
IMPORT_ORDERS = {
    'zoo-first': ('zoo', 'ours (zoo imported first)'),
    'user-conv-first': ('user-conv', "ours (after the user's own convolution)"),
    'mindcv-first': ('mindcv', "ours (after mindcv's network ran)"),
}
# Input side of what runs before the zoo in those rows (small: it only has to start oneDNN).
BEFORE_ZOO_IMAGE_SIZE = 32
TIMM_DEFAULT_ISA_LABEL = 'timm (default ISA)'
WORKER_TIMEOUT_S = 3600
BYTES_PER_MB = 1024 * 1024


def parse_args(argv=None):
    """Command line; `--worker` is internal (one measurement in this process)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--networks', default=','.join(NETWORKS),
                        help=f"comma-separated, from {', '.join(NETWORKS)}")
    parser.add_argument('--impls', default=','.join(IMPLEMENTATIONS),
                        help="comma-separated, from ours, mindcv, timm (timm is skipped without torch)")
    parser.add_argument('--iters', type=int, default=10, help='timed calls per measurement (median taken)')
    parser.add_argument('--warmup', type=int, default=2, help='untimed calls after the first one')
    parser.add_argument('--repeat', type=int, default=1,
                        help='run every worker this many times, alternating the order; calls are pooled')
    parser.add_argument('--batch-forward', type=int, default=16)
    parser.add_argument('--batch-train', type=int, default=8)
    parser.add_argument('--image-size', type=int, default=224)
    parser.add_argument('--threads', type=int, default=os.cpu_count(),
                        help="CPU kernel threads of every framework (MindSpore's default is 25)")
    parser.add_argument('--mindcv-default-isa', action='store_true',
                        help=f'also run mindcv with {ISA_VARIABLE} unset (oneDNN default; very slow here)')
    parser.add_argument('--timm-default-isa', action='store_true',
                        help=f'also run timm with {ISA_VARIABLE} unset (PyTorch as its users run it: its oneDNN '
                             'has no slow AVX-512 path here)')
    parser.add_argument('--default-isa-iters', type=int, default=2,
                        help='timed calls of the --mindcv-default-isa runs (no warmup)')
    parser.add_argument('--import-orders', default='',
                        help=f"also run our forward pass with {ISA_VARIABLE} unset after each of these, "
                             f"comma-separated: {', '.join(IMPORT_ORDERS)} (the zoo's own cap at import, and "
                             "what a convolution run before it does; --default-isa-iters timed calls, no "
                             "train step)")
    parser.add_argument('--recompute', default='none', choices=('none', 'stage', 'block'),
                        help="ours: --recompute of train.py (Cell.recompute per stage or block); timm: "
                             "set_grad_checkpointing() for stage or block; mindcv: not offered")
    parser.add_argument('--pythons', default=sys.executable,
                        help='comma-separated Python interpreters: every row runs under each (e.g. two venvs '
                             'with different MindSpore releases), labelled with its MindSpore version')
    parser.add_argument('--uncapped', action='store_true',
                        help=f'also run our rows with {ISA_VARIABLE} and {ONEDNN2_ISA_VARIABLE} at {UNCAPPED_ISA}')
    parser.add_argument('--json', dest='json_path', default='', help='also write the results to this file')
    parser.add_argument('--worker', default='', help=argparse.SUPPRESS)
    parser.add_argument('--network', default='', help=argparse.SUPPRESS)
    parser.add_argument('--before-zoo', default='', help=argparse.SUPPRESS)
    parser.add_argument('--forward-only', action='store_true', help=argparse.SUPPRESS)
    return check_arguments(parser, parser.parse_args(argv), ('iters', 'repeat', 'batch_forward', 'batch_train',
                                                             'image_size', 'threads', 'default_isa_iters'))


def check_arguments(parser, args, positive):
    """`args` with the `positive` counts >= 1, `--warmup` >= 0, and the lists of `--networks` and `--impls`
    checked (`args.network_list`, `args.impl_list`); a bad one stops with the parser's error."""
    for name in positive:
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.warmup < 0:
        parser.error(f'--warmup must be >= 0, got {args.warmup}')
    args.network_list = split_choices(parser, '--networks', args.networks, NETWORKS)
    args.impl_list = split_choices(parser, '--impls', args.impls, IMPLEMENTATIONS)
    args.import_order_list = (split_choices(parser, '--import-orders', args.import_orders, tuple(IMPORT_ORDERS))
                              if args.import_orders else [])
    args.python_list = [item.strip() for item in args.pythons.split(',') if item.strip()]
    missing = [python for python in args.python_list if not os.access(python, os.X_OK)]
    if missing or not args.python_list:
        parser.error(f"--pythons: not an executable interpreter: {', '.join(missing) or repr(args.pythons)}")
    # Several interpreters: each row's label names its MindSpore (one interpreter: no lookup, no label).
    args.versions = {}
    if len(args.python_list) > 1:
        for python in args.python_list:
            args.versions[python] = mindspore_version(python)
            if not args.versions[python]:
                parser.error(f'--pythons: {python} has no MindSpore installed')
    return args


def split_choices(parser, flag, value, choices):
    """The comma-separated items of `value`, each checked against `choices`."""
    items = [item.strip() for item in value.split(',') if item.strip()]
    unknown = [item for item in items if item not in choices]
    if unknown or not items:
        parser.error(f"{flag}: unknown or empty {unknown or value!r}; choose from {', '.join(choices)}")
    return items


def peak_rss_mb():
    """This process's resident-set high-water mark, in MB (ru_maxrss: kB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / BYTES_PER_MB if platform.system() == 'Darwin' else peak / 1024


def time_calls(step, warmup, iters):
    """Seconds of the first call, then of each of `iters` calls after `warmup` untimed ones.

    `step()` must block until its result is computed (it fetches the result to the host).
    """
    start = time.perf_counter()
    step()
    first = time.perf_counter() - start
    for _ in range(warmup):
        step()
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return first, times


def summarise(batch, first, times):
    """img/s of the median call, with the raw times."""
    median = statistics.median(times)
    return dict(batch=batch, first_call_s=first, median_s=median, img_per_s=batch / median,
                times_s=times)


def build_mindspore_network(impl, network):
    """Our network (`zoo_resnest`/`zoo_resnext`) or mindcv's, 1000 classes, random weights.

    mindcv is imported without zoo_core, which would set the ISA cap (the default-ISA rows need it unset).
    """
    if impl == 'ours':
        if network.startswith('resnest'):
            from zoo_resnest.models import get_network
        else:
            from zoo_resnext.models import get_network
        return get_network(network, num_classes=NUM_CLASSES)
    from mindcv.models import create_model
    return create_model(network, num_classes=NUM_CLASSES, pretrained=False)


def start_mindspore(threads):
    """MindSpore on the CPU in GRAPH mode with `threads` kernel threads, seeded; returns the numpy generator
    of the random inputs."""
    import numpy as np
    import mindspore as ms

    ms.set_device('CPU')
    ms.set_context(mode=ms.GRAPH_MODE)
    ms.device_context.cpu.op_tuning.threads_num(threads)
    ms.set_seed(SEED)
    return np.random.default_rng(SEED)


def mindspore_train_step(net, batch, size, rng):
    """One SGD-with-momentum step of `net` on the cross-entropy of a random batch, as a function of no
    argument that blocks on the loss (`nn.TrainOneStepCell`)."""
    import numpy as np
    import mindspore as ms
    from mindspore import nn

    net.set_train(True)
    loss_fn = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction='mean')
    optimizer = nn.Momentum(net.trainable_params(), learning_rate=LEARNING_RATE, momentum=MOMENTUM)
    train_step = nn.TrainOneStepCell(nn.WithLossCell(net, loss_fn), optimizer)
    train_step.set_train(True)
    images = ms.Tensor(rng.standard_normal((batch, 3, size, size)).astype(np.float32))
    labels = ms.Tensor(rng.integers(0, NUM_CLASSES, batch).astype(np.int32))
    return lambda: train_step(images, labels).asnumpy()


def timm_train_step(model, batch, size):
    """The same step for a PyTorch `model` (`loss.backward()` + `optimizer.step()`), blocking on the loss."""
    import torch

    model.train()
    loss_fn = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM)
    images = torch.randn(batch, 3, size, size)
    labels = torch.randint(0, NUM_CLASSES, (batch,))

    def train_step():
        optimizer.zero_grad()
        loss = loss_fn(model(images), labels)
        loss.backward()
        optimizer.step()
        return loss.item()

    return train_step


def run_before_zoo(before):
    """What the process runs before it imports the zoo: a user's own convolution ('user-conv'), or mindcv's
    network ('mindcv'; a forward pass of a small image); nothing for '' or 'zoo' (imported first)."""
    import numpy as np
    import mindspore as ms
    from mindspore import nn

    image = ms.Tensor(np.zeros((1, 3, BEFORE_ZOO_IMAGE_SIZE, BEFORE_ZOO_IMAGE_SIZE), np.float32))
    if before == 'user-conv':
        nn.Conv2d(3, 8, 3)(image).asnumpy()
    elif before == 'mindcv':
        build_mindspore_network('mindcv', 'resnest50')(image).asnumpy()
    elif before not in ('', 'zoo'):
        raise ValueError(f'unknown --before-zoo {before!r}')


def measure_mindspore(impl, args):
    """Forward and train-step figures of a MindSpore network, GRAPH mode, fp32 (forward only with
    `--forward-only`; `--before-zoo`: see `run_before_zoo`)."""
    if args.before_zoo == 'zoo':
        import zoo_core  # noqa: F401  (imported first: its ISA cap precedes MindSpore's oneDNN)
    import numpy as np
    import mindspore as ms

    rng = start_mindspore(args.threads)
    run_before_zoo(args.before_zoo)
    size = args.image_size
    rss_before = peak_rss_mb()
    net = build_mindspore_network(impl, args.network)
    if impl == 'ours':
        net.set_recompute(args.recompute)

    net.set_train(False)
    images = ms.Tensor(rng.standard_normal((args.batch_forward, 3, size, size)).astype(np.float32))
    forward = summarise(args.batch_forward, *time_calls(lambda: net(images).asnumpy(), args.warmup, args.iters))
    peak_after_forward = peak_rss_mb()

    train = None
    if not args.forward_only:
        train_step = mindspore_train_step(net, args.batch_train, size, rng)
        train = summarise(args.batch_train, *time_calls(train_step, args.warmup, args.iters))
    return dict(forward=forward, train=train, framework=f'mindspore {ms.__version__}',
                source=sys.modules[type(net).__module__].__file__,
                rss_after_imports_mb=rss_before, peak_after_forward_mb=peak_after_forward)


def measure_timm(args):
    """Forward and train-step figures of timm's network, PyTorch eager on the CPU, fp32."""
    import torch
    import timm

    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)
    size = args.image_size
    rss_before = peak_rss_mb()
    model = timm.create_model(TIMM_NAMES[args.network], pretrained=False, num_classes=NUM_CLASSES)
    model.set_grad_checkpointing(args.recompute != 'none')

    model.eval()
    images = torch.randn(args.batch_forward, 3, size, size)

    def forward_step():
        with torch.no_grad():
            return model(images)

    forward = summarise(args.batch_forward, *time_calls(forward_step, args.warmup, args.iters))
    peak_after_forward = peak_rss_mb()

    train = summarise(args.batch_train, *time_calls(timm_train_step(model, args.batch_train, size), args.warmup,
                                                    args.iters))
    return dict(forward=forward, train=train, framework=f'torch {torch.__version__}, timm {timm.__version__}',
                rss_after_imports_mb=rss_before, peak_after_forward_mb=peak_after_forward)


def run_worker(args):
    """Measure one (network, implementation) in this process and print the result as one JSON line."""
    impl = args.worker
    isa = os.environ.get(ISA_VARIABLE, '(oneDNN default)')  # as the parent set it: the zoo's import may set it
    result = measure_timm(args) if impl == 'timm' else measure_mindspore(impl, args)
    result.update(network=args.network, impl=impl, recompute=args.recompute, isa=isa,
                  threads=args.threads, peak_mb=peak_rss_mb())
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def worker_command(args, network, impl, iters, warmup, order=None, python=sys.executable):
    """The command line of one worker subprocess under `python` (`order`: a key of `IMPORT_ORDERS`, forward
    only)."""
    command = [python, os.path.abspath(__file__), '--worker', impl, '--network', network,
               '--iters', str(iters), '--warmup', str(warmup), '--batch-forward', str(args.batch_forward),
               '--batch-train', str(args.batch_train), '--image-size', str(args.image_size),
               '--threads', str(args.threads), '--recompute', args.recompute]
    if order is not None:
        command += ['--forward-only', '--before-zoo', IMPORT_ORDERS[order][0]]
    return command


def run_in_subprocess(command, env, label):
    """Run one worker; its result dict, with the load averages before and after, or None on failure."""
    load_before = os.getloadavg()
    try:
        proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=WORKER_TIMEOUT_S,
                              check=False)
    except subprocess.TimeoutExpired:
        print(f'[{label}] FAILED: no result after {WORKER_TIMEOUT_S} s', file=sys.stderr, flush=True)
        return None
    load_after = os.getloadavg()
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if proc.returncode != 0 or not lines:
        tail = '\n'.join((proc.stderr or proc.stdout).splitlines()[-20:])
        print(f'[{label}] FAILED (exit {proc.returncode}):\n{tail}', file=sys.stderr, flush=True)
        return None
    result = json.loads(lines[-1][len(RESULT_PREFIX):])
    result.update(label=label, load_before=load_before, load_after=load_after)
    return result


def torch_available():
    """Whether timm's rows can run (torch and timm importable), without importing torch here."""
    import importlib.util
    return all(importlib.util.find_spec(name) is not None for name in ('torch', 'timm'))


def prepare_parent(args):
    """In the process that starts the workers: cap the ISA for them (unless the caller set it) and drop timm
    from `args.impl_list` when torch or timm is missing, saying so."""
    # Workers inherit it; set here, not at import, so that the default-ISA workers can run without it.
    os.environ.setdefault(ISA_VARIABLE, CAPPED_ISA)
    os.environ.setdefault(ONEDNN2_ISA_VARIABLE, os.environ[ISA_VARIABLE])
    if 'timm' in args.impl_list and not torch_available():
        print('torch/timm not importable: timm rows skipped', flush=True)
        args.impl_list = [impl for impl in args.impl_list if impl != 'timm']


class PlannedRun(NamedTuple):
    """One worker subprocess: what it measures, its row's label, its environment and interpreter."""
    network: str
    impl: str
    label: str
    env: dict
    iters: int
    warmup: int
    order: Optional[str] = None
    python: str = sys.executable


def mindspore_version(python):
    """The MindSpore release installed for `python` (from its package metadata: MindSpore is not imported);
    empty when it has none."""
    code = "import importlib.metadata as m; print(m.version('mindspore'))"
    return subprocess.run([python, '-c', code], capture_output=True, text=True, check=False).stdout.strip()


def planned_runs(args, repeat_index):
    """Every worker of one repeat, in order (rows of several interpreters are labelled with `args.versions`).

    Odd repeats run the implementations in reverse order; mindcv's default-ISA rows and the import-order rows
    run in the first only, timm's default-ISA and our uncapped rows in every repeat.
    """
    capped_env = dict(os.environ)
    default_env = {key: value for key, value in os.environ.items() if key not in ISA_VARIABLES}
    uncapped_env = dict(default_env, **{variable: UNCAPPED_ISA for variable in ISA_VARIABLES})
    impls = args.impl_list if repeat_index % 2 == 0 else args.impl_list[::-1]
    runs = []
    for python in args.python_list:
        suffix = f' [mindspore {args.versions[python]}]' if python in args.versions else ''
        for network in args.network_list:
            for impl in impls:
                runs.append(PlannedRun(network, impl, impl + suffix, capped_env, iters=args.iters,
                                       warmup=args.warmup, python=python))
            if args.uncapped and 'ours' in impls:
                runs.append(PlannedRun(network, 'ours', UNCAPPED_LABEL + suffix, uncapped_env, iters=args.iters,
                                       warmup=args.warmup, python=python))
            if args.mindcv_default_isa and repeat_index == 0:
                runs.append(PlannedRun(network, 'mindcv', DEFAULT_ISA_LABEL + suffix, default_env,
                                       iters=args.default_isa_iters, warmup=0, python=python))
            if args.timm_default_isa and 'timm' in args.impl_list:
                runs.append(PlannedRun(network, 'timm', TIMM_DEFAULT_ISA_LABEL + suffix, default_env,
                                       iters=args.iters, warmup=args.warmup, python=python))
            for order in args.import_order_list if repeat_index == 0 else []:
                runs.append(PlannedRun(network, 'ours', IMPORT_ORDERS[order][1] + suffix, default_env,
                                       iters=args.default_isa_iters, warmup=0, order=order, python=python))
    return runs


def pooled(results):
    """One row per (network, label), in first-run order: the timed calls of all its repeats pooled
    (median), first calls as their median, the highest peak, the loads seen."""
    groups = {}
    for r in results:
        groups.setdefault((r['network'], r['label']), []).append(r)
    rows = []
    for (network, label), runs in groups.items():
        row = dict(network=network, label=label, repeats=len(runs), peak_mb=max(r['peak_mb'] for r in runs),
                   loads=[r['load_before'][0] for r in runs] + [r['load_after'][0] for r in runs])
        for phase in ('forward', 'train'):
            if runs[0][phase] is None:  # a forward-only row
                row[phase] = None
                continue
            times = [t for r in runs for t in r[phase]['times_s']]
            first = statistics.median(r[phase]['first_call_s'] for r in runs)
            row[phase] = summarise(runs[0][phase]['batch'], first, times)
        rows.append(row)
    return rows


def speedups(ours, mindcv):
    """(forward, train-step) throughput of `ours` over `mindcv`, two result dicts."""
    return tuple(ours[phase]['img_per_s'] / mindcv[phase]['img_per_s'] for phase in ('forward', 'train'))


def ratios_per_repeat(results):
    """Lines giving ours / mindcv (fwd, train) of each repeat, per network."""
    lines = []
    for network in dict.fromkeys(r['network'] for r in results):
        found = {(r['label'], r['repeat']): r for r in results if r['network'] == network}
        pairs = []
        for repeat in sorted({r['repeat'] for r in results}):
            ours, mindcv = found.get(('ours', repeat)), found.get(('mindcv', repeat))
            if ours and mindcv:
                pairs.append('{:.2f}/{:.2f}'.format(*speedups(ours, mindcv)))
        if pairs:
            lines.append(f"{network}: ours/mindcv (fwd/train) per repeat: {', '.join(pairs)}")
    return lines


def format_table(results):
    """The results as a fixed-width text table; ratios are ours / mindcv under the same environment."""
    header = ('network', 'impl', 'fwd img/s', 'train img/s', 'compile fwd s', 'compile train s',
              'peak MB', 'ours/mindcv fwd', 'ours/mindcv train')
    by_key = {(r['network'], r['label']): r for r in results}
    rows = []
    for r in results:
        ratio_fwd = ratio_train = ''
        mindcv = by_key.get((r['network'], 'mindcv'))
        if r['label'] == 'ours' and mindcv:
            ratio_fwd, ratio_train = (f'{ratio:.2f}x' for ratio in speedups(r, mindcv))
        train = r['train']
        rows.append((r['network'], r['label'], f"{r['forward']['img_per_s']:.1f}",
                     f"{train['img_per_s']:.1f}" if train else '-', f"{r['forward']['first_call_s']:.1f}",
                     f"{train['first_call_s']:.1f}" if train else '-', f"{r['peak_mb']:.0f}", ratio_fwd, ratio_train))
    widths = [max(len(str(row[i])) for row in [header] + rows) for i in range(len(header))]
    lines = [' | '.join(str(cell).ljust(width) for cell, width in zip(row, widths)) for row in [header] + rows]
    lines.insert(1, '-+-'.join('-' * width for width in widths))
    return '\n'.join(lines)


def main(argv=None):
    """Run every planned worker, print the table, write the JSON if asked; exit 1 if any worker failed."""
    args = parse_args(argv)
    if args.worker:
        run_worker(args)  # under the environment its parent chose
        return 0
    prepare_parent(args)
    print(f"{ISA_VARIABLE}={os.environ[ISA_VARIABLE]} ({ONEDNN2_ISA_VARIABLE} likewise) for every network below (set by this benchmark unless "
          f"already set; not for the default-ISA, uncapped and import-order rows); GRAPH mode, fp32, {args.threads} threads, {args.image_size}x{args.image_size}, "
          f"forward batch {args.batch_forward}, train batch {args.batch_train}, median of "
          f"{args.iters} x {args.repeat} repeat(s) after {args.warmup} warmup; one subprocess per row and "
          f"repeat; compile = first call", flush=True)
    results, failures = [], 0
    for repeat in range(args.repeat):
        for network, impl, label, env, iters, warmup, order, python in planned_runs(args, repeat):
            print(f'[{network} / {label} / repeat {repeat + 1}] running...', flush=True)
            command = worker_command(args, network, impl, iters=iters, warmup=warmup, order=order, python=python)
            result = run_in_subprocess(command, env, label)
            if result is None:
                failures += 1
                continue
            result['repeat'] = repeat
            results.append(result)
            train = f"{result['train']['img_per_s']:.1f} img/s" if result['train'] else '-'
            print(f"[{network} / {label} / repeat {repeat + 1}] fwd {result['forward']['img_per_s']:.1f} img/s, "
                  f"train {train}, peak {result['peak_mb']:.0f} MB, "
                  f"load {result['load_before'][0]:.2f} -> {result['load_after'][0]:.2f}", flush=True)
    rows = pooled(results)
    if rows:
        print()
        print(format_table(rows))
        loads = [load for row in rows for load in row['loads']]
        print(f'\n1-min load average during the run: {min(loads):.2f} .. {max(loads):.2f} '
              f'({os.cpu_count()} CPUs; this benchmark itself adds up to {args.threads})')
        if args.repeat > 1:
            print('\n'.join(ratios_per_repeat(results)))
    if args.json_path:
        settings = {key: value for key, value in vars(args).items()
                    if key not in ('worker', 'network', 'json_path')}
        with open(args.json_path, 'w', encoding='utf-8') as f:
            json.dump(dict(settings=settings, cpu_count=os.cpu_count(), platform=platform.platform(),
                           pooled=rows, runs=results), f, indent=2)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
