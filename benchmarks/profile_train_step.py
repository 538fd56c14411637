"""Where the train step's time goes: ours, mindcv's and timm's, by operator type, side by side.

Each (network, implementation) runs in its own subprocess, with the train step of `benchmark.py` (SGD
with momentum on the cross-entropy, batch `--batch`, 224x224, fp32, GRAPH mode for MindSpore), `--warmup`
untimed steps, `--steps` timed steps without a profiler (the wall time per step), then `--steps` steps
under the framework's own profiler:

- MindSpore: `mindspore.profiler.profile` with the CPU activity, whose `cpu_op_type_info_0.csv` gives the
  kernel time of every operator type (host kernels: on the CPU backend every operator runs there);
- PyTorch: `torch.profiler.profile`, the self CPU time of every aten operator.

Operator types are put in categories shared by both frameworks (convolution forward, convolution
backward, batch norm, ...), so that one table compares the three. The rest of the wall time
(`framework` in the table) is what runs between the kernels: graph launch, Python, memory management.

Usage: python benchmarks/profile_train_step.py [--networks resnest50,resnext50_32x4d] [--json out.json]
"""
import argparse
import csv
import glob
import json
import os
import statistics
import sys
import tempfile

from benchmark import (IMPLEMENTATIONS, ISA_VARIABLE, NETWORKS, NUM_CLASSES, RESULT_PREFIX, SEED, TIMM_NAMES,
                       build_mindspore_network, check_arguments, mindspore_train_step, prepare_parent,
                       run_in_subprocess, start_mindspore, time_calls, timm_train_step)

IMAGE_SIZE = 224
MS_PER_S = 1000.0
US_PER_MS = 1000.0
FRAMEWORK = 'framework (between kernels)'
OTHER = 'other'
# Operator type -> category. MindSpore's names are its primitives; PyTorch's are aten operators.
CATEGORIES = {
    'convolution forward': ('Conv2D', 'aten::mkldnn_convolution', 'aten::_convolution'),
    'convolution backward (data and weights)': (
        'Conv2DBackpropInput', 'Conv2DBackpropFilter', 'aten::convolution_backward'),
    'batch norm forward': ('BatchNorm', 'aten::native_batch_norm', 'aten::_batch_norm_impl_index'),
    'batch norm backward': ('BatchNormGrad', 'aten::native_batch_norm_backward'),
    'ReLU forward and backward': ('ReLU', 'ReluGrad', 'aten::clamp_min_', 'aten::clamp_min', 'aten::relu_',
                                  'aten::threshold_backward'),
    'max pool forward and backward': ('MaxPool', 'MaxPoolGrad', 'aten::max_pool2d_with_indices',
                                      'aten::max_pool2d_with_indices_backward'),
    'average pools and their backward': ('AvgPool', 'AvgPoolGrad', 'aten::avg_pool2d', 'aten::avg_pool2d_backward',
                                         'aten::adaptive_avg_pool2d', 'aten::mean'),
    'elementwise (add, mul, sums, softmax)': (
        'Add', 'AddN', 'Mul', 'Sub', 'RealDiv', 'ReduceSum', 'ReduceMean', 'Softmax', 'SoftmaxGrad', 'Tile',
        'aten::add', 'aten::add_', 'aten::mul', 'aten::sum', 'aten::div', 'aten::softmax', 'aten::_softmax',
        'aten::_softmax_backward_data', 'aten::fill_', 'aten::zero_'),
    'split, concat, slice, copy': ('Split', 'Concat', 'Slice', 'StridedSlice', 'StridedSliceGrad', 'Transpose',
                                   'Reshape', 'Assign', 'aten::cat', 'aten::copy_', 'aten::split',
                                   'aten::slice', 'aten::as_strided', 'aten::empty', 'aten::view'),
    'optimizer (SGD momentum)': ('ApplyMomentum', 'aten::mul_', 'aten::_foreach_add_',
                                 'aten::_foreach_mul_', 'aten::_foreach_add', 'Optimizer.step#SGD.step',
                                 'Optimizer.zero_grad#SGD.zero_grad'),
}
# PyTorch's in-place add_ serves both the gradient accumulation and SGD: it is counted as elementwise.
CATEGORY_OF = {name: category for category, names in CATEGORIES.items() for name in names}


def parse_args(argv=None):
    """Command line; `--worker` is internal (one profile in this process)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--networks', default=','.join(NETWORKS), help=f"comma-separated, from {', '.join(NETWORKS)}")
    parser.add_argument('--impls', default=','.join(IMPLEMENTATIONS),
                        help='comma-separated, from ours, mindcv, timm (timm is skipped without torch)')
    parser.add_argument('--batch', type=int, default=8, help='images per train step')
    parser.add_argument('--steps', type=int, default=5, help='timed steps, and profiled steps')
    parser.add_argument('--warmup', type=int, default=2, help='untimed steps after the first (compiling) one')
    parser.add_argument('--threads', type=int, default=os.cpu_count(), help='CPU kernel threads of every framework')
    parser.add_argument('--top', type=int, default=12, help='operator types listed per implementation')
    parser.add_argument('--json', dest='json_path', default='', help='also write the results to this file')
    parser.add_argument('--worker', default='', help=argparse.SUPPRESS)
    parser.add_argument('--network', default='', help=argparse.SUPPRESS)
    return check_arguments(parser, parser.parse_args(argv), ('batch', 'steps', 'threads', 'top'))


def wall_seconds_per_step(step, warmup, steps):
    """Median seconds of `steps` calls of `step` (which blocks on its result) after 1 + `warmup` untimed."""
    return statistics.median(time_calls(step, warmup, steps)[1])


def mindspore_op_types(folder):
    """{operator type: (ms in all profiled steps, calls)} from MindSpore's CPU profile in `folder`."""
    files = glob.glob(os.path.join(folder, '**', 'cpu_op_type_info_*.csv'), recursive=True)
    if not files:
        raise RuntimeError(f'the MindSpore profiler wrote no cpu_op_type_info_*.csv under {folder}')
    with open(files[0], encoding='utf-8') as handle:
        return {row['op_type']: (float(row['total_compute_time']), int(row['type_occurrences']))
                for row in csv.DictReader(handle)}


def profile_mindspore(impl, args):
    """Wall time per step and kernel time per operator type of a MindSpore network's train step."""
    import mindspore as ms

    rng = start_mindspore(args.threads)
    step = mindspore_train_step(build_mindspore_network(impl, args.network), args.batch, IMAGE_SIZE, rng)
    wall = wall_seconds_per_step(step, args.warmup, args.steps)
    return dict(wall_s=wall, op_types=mindspore_kernel_times(step, args.steps),
                framework=f'mindspore {ms.__version__}')


def mindspore_kernel_times(step, steps):
    """{operator type: (ms, calls)} of `steps` calls of `step` under MindSpore's profiler (CPU activity)."""
    from mindspore.profiler import ProfilerActivity, profile, tensorboard_trace_handler

    with tempfile.TemporaryDirectory(prefix='ms-profile-') as folder:
        profiler = profile(activities=[ProfilerActivity.CPU], on_trace_ready=tensorboard_trace_handler(folder))
        for _ in range(steps):
            step()
        profiler.stop()
        return mindspore_op_types(folder)


def profile_timm(args):
    """Wall time per step and self CPU time per aten operator of timm's train step (PyTorch eager)."""
    import torch
    import timm
    from torch.profiler import ProfilerActivity, profile

    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)
    model = timm.create_model(TIMM_NAMES[args.network], pretrained=False, num_classes=NUM_CLASSES)
    step = timm_train_step(model, args.batch, IMAGE_SIZE)
    wall = wall_seconds_per_step(step, args.warmup, args.steps)
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        for _ in range(args.steps):
            step()
    op_types = {event.key: (event.self_cpu_time_total / US_PER_MS, event.count)
                for event in profiler.key_averages() if event.self_cpu_time_total > 0}
    return dict(wall_s=wall, op_types=op_types, framework=f'torch {torch.__version__}, timm {timm.__version__}')


def per_step(result, steps):
    """`result` with its operator times and calls divided by the profiled `steps`, and its categories."""
    result = dict(result)
    ops = {name: dict(ms=total / steps, calls=count / steps) for name, (total, count) in result.pop('op_types').items()}
    categories = {}
    for name, op in ops.items():
        category = CATEGORY_OF.get(name, OTHER)
        categories[category] = categories.get(category, 0.0) + op['ms']
    kernel_ms = sum(categories.values())
    categories[FRAMEWORK] = max(result['wall_s'] * MS_PER_S - kernel_ms, 0.0)
    return dict(result, ops=ops, categories=categories, kernel_ms=kernel_ms)


def run_worker(args):
    """Profile one (network, implementation) in this process and print the result as one JSON line."""
    impl = args.worker
    result = profile_timm(args) if impl == 'timm' else profile_mindspore(impl, args)
    result = per_step(result, args.steps)
    result.update(network=args.network, impl=impl, batch=args.batch,
                  isa=os.environ.get(ISA_VARIABLE, '(oneDNN default)'))
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def run_profile(args, network, impl):
    """One worker subprocess; its result, or None (with the reason on stderr)."""
    command = [sys.executable, os.path.abspath(__file__), '--worker', impl, '--network', network,
               '--batch', str(args.batch), '--steps', str(args.steps), '--warmup', str(args.warmup),
               '--threads', str(args.threads)]
    return run_in_subprocess(command, dict(os.environ), f'{network} / {impl}')


def cell(result, category):
    """'ms (share of the wall time)' of one category of one result."""
    spent = result['categories'].get(category, 0.0)
    return f"{spent:.1f} ({100 * spent / (result['wall_s'] * MS_PER_S):.0f}%)"


def category_table(results):
    """Lines of a table: ms per step and share of the wall time of every category, one column per impl."""
    order = list(CATEGORIES) + [OTHER, FRAMEWORK]
    header = ['category'] + [r['impl'] for r in results]
    rows = [[category] + [cell(result, category) for result in results] for category in order]
    rows.append(['wall time per step, ms'] + [f"{r['wall_s'] * MS_PER_S:.0f}" for r in results])
    rows.append(['img/s'] + [f"{r['batch'] / r['wall_s']:.2f}" for r in results])
    widths = [max(len(row[i]) for row in [header] + rows) for i in range(len(header))]
    lines = [' | '.join(text.ljust(width) for text, width in zip(row, widths)) for row in [header] + rows]
    lines.insert(1, '-+-'.join('-' * width for width in widths))
    return lines


def top_ops(result, top):
    """Lines listing the `top` slowest operator types of one result."""
    ranked = sorted(result['ops'].items(), key=lambda item: -item[1]['ms'])[:top]
    return [f"  {name:45s} {op['ms']:8.1f} ms  {op['calls']:6.0f} calls  [{CATEGORY_OF.get(name, OTHER)}]"
            for name, op in ranked]


def main(argv=None):
    """Profile every (network, implementation), print the tables, write the JSON if asked."""
    args = parse_args(argv)
    if args.worker:
        run_worker(args)
        return 0
    prepare_parent(args)
    print(f'{ISA_VARIABLE}={os.environ[ISA_VARIABLE]}; train step at batch {args.batch}, 224x224, fp32, '
          f'{args.threads} threads; wall time: median of {args.steps} steps; kernels: {args.steps} profiled steps',
          flush=True)
    all_results, failures = [], 0
    for network in args.network_list:
        results = []
        for impl in args.impl_list:
            print(f'[{network} / {impl}] profiling...', flush=True)
            result = run_profile(args, network, impl)
            if result is None:
                failures += 1
                continue
            results.append(result)
        if not results:
            continue
        print(f'\n{network}: ms per step (share of the wall time)')
        print('\n'.join(category_table(results)))
        for result in results:
            print(f"\n{network} / {result['impl']} ({result['framework']}), slowest operator types per step:")
            print('\n'.join(top_ops(result, args.top)))
        all_results.extend(results)
    if args.json_path:
        with open(args.json_path, 'w', encoding='utf-8') as handle:
            json.dump(dict(settings={key: value for key, value in vars(args).items() if key != 'json_path'},
                           results=all_results), handle, indent=2)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
