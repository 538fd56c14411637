"""benchmarks/split_weighting_memory.py: each formulation really weights the splits, all give the same
training, a tiny real run through its worker processes prints the table, and its argument checks."""
import importlib.util

import pytest

from helpers import REPO_ROOT
from zoo_resnest.models import splat

SCRIPT = REPO_ROOT / 'benchmarks' / 'split_weighting_memory.py'
spec = importlib.util.spec_from_file_location('split_weighting_memory', SCRIPT)
benchmark = importlib.util.module_from_spec(spec)
spec.loader.exec_module(benchmark)

TINY = dict(network='resnest14d', batch=2, image_size=32, iters=1)
WEIGHTING_CLASSES = {'broadcasting': 'BroadcastingScale', 'broadcast-first-autodiff': 'AutodiffScale',
                     'broadcast-first': 'ScaleChannels'}


@pytest.mark.slow
def test_every_formulation_weights_the_splits_and_trains_to_the_same_loss(monkeypatch):
    monkeypatch.setattr(splat, 'ScaleChannels', splat.ScaleChannels)  # restored after the formulations swap it
    shipped = splat.ScaleChannels
    results = {}
    for formulation in benchmark.FORMULATIONS:
        monkeypatch.setattr(splat, 'ScaleChannels', shipped)
        results[formulation] = benchmark.measure(formulation=formulation, level='none', **TINY)
    assert {name: row['weighting'] for name, row in results.items()} == WEIGHTING_CLASSES
    losses = [row['loss_after'] for row in results.values()]
    # After three SGD steps the loss depends on every backward; the formulations round differently (2e-5 seen).
    assert losses == pytest.approx([losses[0]] * len(losses), rel=1e-4)
    assert all(row['activations_mb'] >= 0 and row['step_s'] > 0 for row in results.values())


def test_the_table_has_a_row_per_formulation_and_a_column_per_level():
    rows = [dict(formulation=name, recompute=level, activations_mb=100 + index, step_s=1.5)
            for index, (name, level) in enumerate([('broadcasting', 'none'), ('broadcasting', 'block'),
                                                   ('broadcast-first', 'none'), ('broadcast-first', 'block')])]
    lines = benchmark.table(rows)
    assert lines[0] == '| formulation | none: activations MB, step s | block: activations MB, step s |'
    assert lines[2:] == ['| broadcasting | 100, 1.50 | 101, 1.50 |', '| broadcast-first | 102, 1.50 | 103, 1.50 |']


@pytest.mark.slow
def test_a_tiny_run_measures_each_formulation_in_its_own_process(run_script):
    result = run_script(SCRIPT, '--network', 'resnest14d', '--batch', 2, '--image-size', 32, '--iters', 1,
                        '--formulations', 'broadcasting,broadcast-first', '--recompute', 'none,block', timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    assert lines[-4].startswith('| formulation | none: activations MB')
    assert [line.split('|')[1].strip() for line in lines[-2:]] == ['broadcasting', 'broadcast-first']


@pytest.mark.parametrize('flag, value', [('--formulations', 'fused'), ('--recompute', 'layer'), ('--batch', '0')])
def test_a_bad_argument_is_one_line_and_exit_2(run_script, flag, value):
    result = run_script(SCRIPT, flag, value)
    assert result.returncode == 2
    last_line = result.stderr.strip().splitlines()[-1]
    assert 'error: ' in last_line and flag in last_line
