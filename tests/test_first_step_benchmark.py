"""benchmarks/first_step.py: it finds every shipped recipe, changes only what the CPU needs, computes the
compile overhead against the peer, checks its arguments, and a real run of one recipe prints the table and
leaves nothing behind."""
import importlib.util
import json
import os
import tempfile

import pytest

from helpers import REPO_ROOT, run_script
from zoo_core.runtime.recipe_files import shipped_recipes

SCRIPT = REPO_ROOT / 'benchmarks' / 'first_step.py'
spec = importlib.util.spec_from_file_location('first_step', SCRIPT)
first_step = importlib.util.module_from_spec(spec)
spec.loader.exec_module(first_step)


def test_every_shipped_recipe_of_both_folders_is_found_by_its_qualified_name():
    expected = {f'{folder}/{name}' for folder in ('ResNeSt50', 'ResNeXt50')
                for name in shipped_recipes(REPO_ROOT / folder / 'configs')}
    found = first_step.shipped()
    assert set(found) == expected and {'ResNeSt50/demo_cpu', 'ResNeXt50/demo_cpu'} <= expected
    assert found['ResNeXt50/demo_cpu'] == str(REPO_ROOT / 'ResNeXt50' / 'train.py')


def test_the_command_runs_the_recipe_by_name_and_changes_only_what_the_cpu_needs():
    class Args:
        batch = 8
    command = first_step.recipe_command('/m/train.py', 'ResNeSt50/resnest50_finetune_1dev', Args, data='/d',
                                         output_dir='/o')
    flags = dict(zip(command[2::2], command[3::2]))
    assert command[1] == '/m/train.py' and flags.pop('--config') == 'resnest50_finetune_1dev'
    assert flags == {'--device_target': 'CPU', '--data_dir': '/d', '--output_dir': '/o', '--num_classes': '10',
                     '--batch_size': '8', '--epochs': '1', '--warmup_epochs': '0', '--eval_interval': '0',
                     '--log_every': '1', '--pretrained': ''}


def test_the_compile_overhead_is_the_recipes_compile_time_over_the_peers():
    peer = dict(first_call_s=11.0, call_s=1.0, peak_mb=1000)
    row = dict(recipe='R/x', network='resnest50', image_size=224, build_s=3.0, first_step_s=21.5, step_s=1.5,
               peak_mb=2000, peer=peer)
    table = first_step.format_table([row]).splitlines()
    assert table[2] == '| R/x | resnest50 | 224 | 3.0 | 21.5 | 1.50 | 11.0 | 1.00 | 2.00x | 2000 | 1000 |'


@pytest.mark.parametrize('argv, message', [
    (['--recipes', 'demo_cpu'], '--recipes: unknown or empty'),
    (['--batch', '0'], '--batch must be >= 1'),
    (['--peer-calls', '0'], '--peer-calls must be >= 1'),
    (['--images-per-class', '1'], 'fewer than two steps'),
])
def test_a_bad_argument_is_one_line_and_exit_2(argv, message):
    result = run_script(SCRIPT, *argv)
    assert result.returncode == 2 and 'Traceback' not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith('first_step.py: error: ') and message in result.stderr


@pytest.mark.slow
def test_a_real_run_of_the_demo_recipe_times_it_beside_its_peer_and_removes_its_files(tmp_path):
    before = set(os.listdir(tempfile.gettempdir()))
    out = tmp_path / 'rows.json'
    result = run_script(SCRIPT, '--recipes', 'ResNeSt50/demo_cpu', '--batch', 4, '--images-per-class', 1,
                        '--peer-calls', 1, '--json', out, timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    [row] = json.loads(out.read_text())
    assert (row['recipe'], row['network'], row['image_size']) == ('ResNeSt50/demo_cpu', 'resnest50', 64)
    assert row['first_step_s'] > row['step_s'] > 0 and row['build_s'] > 0 and row['peak_mb'] > 100
    assert row['peer']['first_call_s'] > row['peer']['call_s'] > 0
    assert result.stdout.strip().splitlines()[-1].startswith('| ResNeSt50/demo_cpu | resnest50 | 64 |')
    left = {name for name in os.listdir(tempfile.gettempdir()) if name.startswith('first_step_')}
    assert not left - before
