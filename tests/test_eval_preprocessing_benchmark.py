"""The eval preprocessing benchmark, the difference script and the convolution ISA script: a tiny real run of each."""
import re

from helpers import REPO_ROOT, require, run_script

BENCHMARKS = REPO_ROOT / 'benchmarks'


def test_benchmark_prints_img_per_s_of_both_paths():
    require('sklearn')
    result = run_script(BENCHMARKS / 'eval_preprocessing.py', '--images', 4, '--repeat', 1, '--batch-size', 2,
                        '--interpolations', 'bicubic', timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert re.search(r'^bicubic: pil [\d.]+ img/s, fast [\d.]+ img/s \(pil/fast [\d.]+x\)$', result.stdout, re.M)


def test_difference_script_finds_the_bicubic_resize_exact_and_the_bilinear_one_not():
    require('sklearn')
    result = run_script(BENCHMARKS / 'preprocessing_difference.py', timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [line.split(' | ') for line in result.stdout.splitlines() if line.startswith(('2', '3', '4'))]
    assert len(rows) == 6 * 8
    assert all(row[6] == '0.000' for row in rows if 'bicubic' in row[0])
    assert all(float(row[6]) > 0 for row in rows if 'bilinear' in row[0])


def test_with_a_network_every_pass_gives_the_whole_loop_and_the_network_alone():
    require('sklearn')
    result = run_script(BENCHMARKS / 'eval_preprocessing.py', '--images', 4, '--repeat', 1, '--batch-size', 2,
                        '--interpolations', 'bilinear', '--net', 'resnest14d', timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    passes = re.findall(r'whole loop ([\d.]+) img/s, network alone ([\d.]+) img/s \(loop/network ([\d.]+)\)',
                        result.stdout)
    assert len(passes) == 2  # one pass of each resize path
    for loop, network, ratio in passes:
        assert 0 < float(loop) <= float(network)  # the loop includes the network's calls
        # The two img/s are printed to 2 decimals, the ratio (of the unrounded figures) to 3.
        rounding = 0.005 * (1 + float(ratio)) / float(network) + 0.0005
        assert abs(float(ratio) - float(loop) / float(network)) <= rounding
    summaries = re.findall(r'^bilinear (pil|fast): the whole loop at ([\d.]+) of the network alone', result.stdout, re.M)
    assert sorted(mode for mode, _ in summaries) == ['fast', 'pil']
    assert all(0 < float(ratio) <= 1 for _, ratio in summaries)


def test_conv_isa_times_every_shape_and_pass_under_a_cap():
    result = run_script(BENCHMARKS / 'conv_isa.py', '--isas', 'AVX2', '--iters', 1, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    figures = re.findall(r'^(.+) \(.*\), AVX2: ([\d.]+) / ([\d.]+) / ([\d.]+)$', result.stdout, re.M)
    assert len(figures) == 4
    assert all(float(value) > 0 for row in figures for value in row[1:])
