"""The eval preprocessing benchmark and the difference script: a tiny real run of each."""
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
