"""MindSpore's CPU convolution kernels under oneDNN ISA caps: forward, backward by weights, backward by data.

The train step is mostly convolutions (`profile_train_step.py`), and which oneDNN kernel runs them depends
on `ONEDNN_MAX_CPU_ISA`. Each cap runs in its own subprocess (oneDNN reads the variable once), over the
convolution shapes of the two networks' first stage at batch 8: ResNeXt-50's grouped 3x3 (32 groups),
ResNeSt-50's split 3x3 (radix 2 groups), a 1x1 and a plain 3x3. Each figure is the fastest of `--iters`
calls after one that compiles, GRAPH mode, fp32.

Usage: python benchmarks/conv_isa.py [--isas AVX2,AVX512_CORE] [--iters 3]
"""
import argparse
import json
import os
import sys

from benchmark import ISA_VARIABLE, RESULT_PREFIX, run_in_subprocess, time_calls

BATCH = 8
MS_PER_S = 1000.0
# (label, in channels, out channels, height = width, kernel, groups)
SHAPES = (
    ('ResNeXt-50 stage 1 grouped 3x3', 128, 128, 56, 3, 32),
    ('ResNeSt-50 stage 1 split 3x3', 64, 128, 56, 3, 2),
    ('1x1', 256, 64, 56, 1, 1),
    ('plain 3x3', 64, 64, 56, 3, 1),
)
PASSES = ('forward', 'backward by weights', 'backward by data')


def parse_args(argv=None):
    """Command line; `--worker` is internal (the measurements of one cap, in this process)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--isas', default='AVX2,AVX512_CORE', help=f'comma-separated {ISA_VARIABLE} values')
    parser.add_argument('--iters', type=int, default=3, help='timed calls per figure (the fastest is kept)')
    parser.add_argument('--threads', type=int, default=os.cpu_count(), help='CPU kernel threads')
    parser.add_argument('--worker', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.iters < 1 or args.threads < 1:
        parser.error('--iters and --threads must be >= 1')
    args.isa_list = [isa.strip() for isa in args.isas.split(',') if isa.strip()]
    if not args.isa_list:
        parser.error('--isas: give at least one value')
    return args


def fastest_ms(call, iters):
    """Milliseconds of the fastest of `iters` calls of `call` (which blocks), after one untimed call."""
    return min(time_calls(call, 0, iters)[1]) * MS_PER_S


def measure_shapes(iters, threads):
    """{shape label: [forward, backward by weights, backward by data] ms} in this process."""
    import numpy as np
    import mindspore as ms
    from mindspore import nn

    ms.set_device('CPU')
    ms.set_context(mode=ms.GRAPH_MODE)
    ms.device_context.cpu.op_tuning.threads_num(threads)
    rng = np.random.default_rng(0)
    results = {}
    class SummedConvolution(nn.Cell):
        """The sum of one convolution's output: its gradients are the convolution's two backward passes."""

        def __init__(self, conv):
            super().__init__()
            self.conv = conv

        def construct(self, x):
            return self.conv(x).sum()

    for label, cin, cout, size, kernel, groups in SHAPES:
        conv = nn.Conv2d(cin, cout, kernel, pad_mode='pad', padding=kernel // 2, group=groups, has_bias=False)
        images = ms.Tensor(rng.standard_normal((BATCH, cin, size, size)).astype(np.float32))
        total = SummedConvolution(conv)
        forward = ms.jit(conv)
        by_weights = ms.jit(ms.grad(total, grad_position=None, weights=conv.trainable_params()))
        by_data = ms.jit(ms.grad(total, grad_position=0))
        results[label] = [fastest_ms(lambda: forward(images).asnumpy(), iters),
                          fastest_ms(lambda: by_weights(images)[0].asnumpy(), iters),
                          fastest_ms(lambda: by_data(images).asnumpy(), iters)]
    return results


def run_cap(isa, args):
    """{shape label: figures} under one cap, from a subprocess; None (and the reason on stderr) on failure."""
    command = [sys.executable, os.path.abspath(__file__), '--worker', '--iters', str(args.iters),
               '--threads', str(args.threads)]
    result = run_in_subprocess(command, dict(os.environ, **{ISA_VARIABLE: isa}), isa)
    return None if result is None else result['shapes']


def main(argv=None):
    """Measure every cap and print one line per (shape, cap); exit 1 if a cap failed."""
    args = parse_args(argv)
    if args.worker:
        print(RESULT_PREFIX + json.dumps(dict(shapes=measure_shapes(args.iters, args.threads))), flush=True)
        return 0
    print(f'batch {BATCH}, fp32, GRAPH mode, {args.threads} threads; ms, fastest of {args.iters} calls: '
          + ' / '.join(PASSES))
    measured = {isa: run_cap(isa, args) for isa in args.isa_list}
    for label, cin, cout, size, kernel, groups in SHAPES:
        for isa, results in measured.items():
            if results is not None:
                figures = ' / '.join(f'{value:.1f}' for value in results[label])
                print(f'{label} ({cin}->{cout}, {size}x{size}, k{kernel}, groups {groups}), {isa}: {figures}')
    return 1 if any(results is None for results in measured.values()) else 0


if __name__ == '__main__':
    sys.exit(main())
