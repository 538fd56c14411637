"""The side-by-side benchmark script: its argument checks, its table, and one tiny real run of every implementation."""
import importlib.util
import json
import os
import sys

import pytest

from helpers import REPO_ROOT, require, run_script

SCRIPT = REPO_ROOT / 'benchmarks' / 'benchmark.py'
spec = importlib.util.spec_from_file_location('benchmark', SCRIPT)
benchmark = importlib.util.module_from_spec(spec)
spec.loader.exec_module(benchmark)


def fake_result(network, label, repeat, fwd_s, train_s, peak_mb=1000.0):
    """A worker result as run_in_subprocess returns it: batch 16 forward, batch 8 train."""
    return dict(network=network, label=label, impl=label, repeat=repeat, peak_mb=peak_mb,
                load_before=(1.0, 1.0, 1.0), load_after=(2.0, 1.0, 1.0),
                forward=benchmark.summarise(16, 30.0, [fwd_s, fwd_s]),
                train=benchmark.summarise(8, 60.0, [train_s, train_s]))


def test_ratios_are_ours_over_mindcv_with_pooled_repeats():
    results = [fake_result('resnest50', 'ours', 0, fwd_s=1.0, train_s=2.0),
               fake_result('resnest50', 'mindcv', 0, fwd_s=2.0, train_s=3.0),
               fake_result('resnest50', 'ours', 1, fwd_s=1.0, train_s=2.0, peak_mb=1500.0),
               fake_result('resnest50', 'mindcv', 1, fwd_s=2.0, train_s=3.0)]
    rows = benchmark.pooled(results)
    assert [(row['label'], row['repeats']) for row in rows] == [('ours', 2), ('mindcv', 2)]
    assert rows[0]['forward']['img_per_s'] == pytest.approx(16.0)
    assert rows[0]['peak_mb'] == 1500.0
    ours_line = benchmark.format_table(rows).splitlines()[2]
    assert '2.00x' in ours_line and '1.50x' in ours_line
    assert benchmark.ratios_per_repeat(results) == ['resnest50: ours/mindcv (fwd/train) per repeat: 2.00/1.50, 2.00/1.50']


@pytest.mark.parametrize('argv, message', [
    (['--networks', 'resnet50'], 'unknown or empty'),
    (['--impls', 'ours,keras'], 'unknown or empty'),
    (['--iters', '0'], '--iters must be >= 1'),
])
def test_bad_arguments_are_refused_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        benchmark.parse_args(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.slow
def test_a_tiny_run_measures_every_implementation(tmp_path):
    for module_name in ('mindcv', 'timm'):
        require(module_name)
    out = tmp_path / 'bench.json'
    proc = run_script(SCRIPT, '--networks', 'resnext50_32x4d', '--image-size', '32', '--batch-forward', '2',
                      '--batch-train', '2', '--iters', '1', '--warmup', '0', '--json', out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(out.read_text())
    rows = {row['label']: row for row in report['pooled']}
    assert set(rows) == {'ours', 'mindcv', 'timm'}
    for row in rows.values():
        assert row['forward']['img_per_s'] > 0 and row['train']['img_per_s'] > 0 and row['peak_mb'] > 0
    sources = {run['label']: run.get('source', '') for run in report['runs']}
    assert sources['ours'].startswith(str(REPO_ROOT)) and 'site-packages' not in sources['ours']
    assert f'site-packages{os.sep}mindcv{os.sep}' in sources['mindcv']
    assert 'ours/mindcv' in proc.stdout


def test_timm_default_isa_rows_run_in_every_repeat_without_the_cap(monkeypatch):
    monkeypatch.setenv(benchmark.ISA_VARIABLE, benchmark.CAPPED_ISA)
    args = benchmark.parse_args(['--networks', 'resnest50', '--impls', 'ours,timm', '--timm-default-isa'])
    for repeat in (0, 1):
        runs = benchmark.planned_runs(args, repeat)
        labels = [run.label for run in runs]
        assert labels.count(benchmark.TIMM_DEFAULT_ISA_LABEL) == 1 and 'timm' in labels
        for run in runs:
            capped = run.env.get(benchmark.ISA_VARIABLE) == benchmark.CAPPED_ISA
            assert capped == (run.label != benchmark.TIMM_DEFAULT_ISA_LABEL), (run.impl, run.label)


def test_import_order_rows_run_ours_once_without_the_cap_and_forward_only(monkeypatch):
    monkeypatch.setenv(benchmark.ISA_VARIABLE, benchmark.CAPPED_ISA)
    args = benchmark.parse_args(['--networks', 'resnest50', '--impls', 'ours', '--import-orders',
                                 'zoo-first,user-conv-first,mindcv-first'])
    first, second = benchmark.planned_runs(args, 0), benchmark.planned_runs(args, 1)
    ordered = [run for run in first if run.order is not None]
    assert [run.label for run in ordered] == [label for _, label in benchmark.IMPORT_ORDERS.values()]
    assert all(benchmark.ISA_VARIABLE not in run.env for run in ordered)
    assert all(run.order is None for run in second)
    command = benchmark.worker_command(args, 'resnest50', 'ours', 1, 0, 'user-conv-first')
    assert command[-3:] == ['--forward-only', '--before-zoo', 'user-conv']


def test_every_row_runs_under_each_interpreter_capped_for_both_onednn_versions_and_uncapped(monkeypatch):
    """`--pythons A,B --uncapped`: the rows of two MindSpore releases side by side, each capped under oneDNN 3's
    and oneDNN 2's variable (MindSpore 2.7/2.8), and again with no cap."""
    for variable in benchmark.ISA_VARIABLES:
        monkeypatch.setenv(variable, benchmark.CAPPED_ISA)  # restored, or removed again, after the test
        monkeypatch.delenv(variable)
    older, newer = '/usr/bin/env', sys.executable
    monkeypatch.setattr(benchmark, 'mindspore_version', {older: '2.7.0', newer: '2.10.0'}.get)
    args = benchmark.parse_args(['--networks', 'resnest50', '--impls', 'ours', '--pythons', f'{older},{newer}',
                                 '--uncapped'])
    benchmark.prepare_parent(args)
    runs = benchmark.planned_runs(args, 0)
    assert [(run.python, run.label) for run in runs] == [
        (older, 'ours [mindspore 2.7.0]'), (older, f'{benchmark.UNCAPPED_LABEL} [mindspore 2.7.0]'),
        (newer, 'ours [mindspore 2.10.0]'), (newer, f'{benchmark.UNCAPPED_LABEL} [mindspore 2.10.0]')]
    for run in runs:
        expected = benchmark.UNCAPPED_ISA if run.label.startswith(benchmark.UNCAPPED_LABEL) else benchmark.CAPPED_ISA
        assert [run.env.get(variable) for variable in benchmark.ISA_VARIABLES] == [expected, expected]
    assert benchmark.worker_command(args, 'resnest50', 'ours', 1, 0, python=older)[0] == older


def test_an_interpreter_without_mindspore_is_refused(capsys):
    with pytest.raises(SystemExit):
        benchmark.parse_args(['--pythons', f'/usr/bin/env,{sys.executable}'])
    assert '/usr/bin/env has no MindSpore installed' in capsys.readouterr().err


def test_a_missing_interpreter_is_refused(capsys, tmp_path):
    with pytest.raises(SystemExit):
        benchmark.parse_args(['--pythons', str(tmp_path / 'python')])
    assert 'not an executable interpreter' in capsys.readouterr().err


def test_an_unknown_import_order_is_refused(capsys):
    with pytest.raises(SystemExit):
        benchmark.parse_args(['--import-orders', 'zoo-last'])
    assert 'unknown or empty' in capsys.readouterr().err


@pytest.mark.slow
def test_a_forward_only_row_after_a_users_convolution_runs_and_reports_no_train_step(tmp_path):
    """What a newcomer's notebook does: a convolution of their own, then the zoo (at a tiny size: uncapped
    3x3 convolutions on AVX-512 are slow); the zoo warns when the cap came too late (tests/test_isa.py)."""
    env = {key: value for key, value in os.environ.items() if key != benchmark.ISA_VARIABLE}
    proc = run_script(SCRIPT, '--worker', 'ours', '--network', 'resnext50_32x4d', '--image-size', '32',
                      '--batch-forward', '1', '--iters', '1', '--warmup', '0', '--forward-only', '--before-zoo',
                      'user-conv', cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [line] = [line for line in proc.stdout.splitlines() if line.startswith(benchmark.RESULT_PREFIX)]
    result = json.loads(line[len(benchmark.RESULT_PREFIX):])
    assert result['forward']['img_per_s'] > 0 and result['train'] is None
    assert result['isa'] == '(oneDNN default)'
