"""eval.py and export.py take a checkpoint's network, classes and preprocessing from the run that wrote it
(zoo_core.engine.run_settings): only --ckpt_path is needed; flags win; a contradicting --net is one line."""
import json

import mindspore as ms
import pytest

from helpers import REPO_ROOT
from helpers.synthetic_photos import write_photo_dataset
from zoo_core.engine.run_settings import flag_value, run_settings_layer
from zoo_core.runtime.config import FLAGS_LAYER, ConfigError, save_config
from zoo_resnest.family import FAMILY

# A run of a non-default network, class count and size.
NET, CLASSES, SIZE = 'resnest14d', 3, 32
TINTS = ((0.9, 0.1, 0.1), (0.1, 0.9, 0.1), (0.1, 0.1, 0.9))
EVAL_PY, EXPORT_PY = REPO_ROOT / 'ResNeSt50' / 'eval.py', REPO_ROOT / 'ResNeSt50' / 'export.py'


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    """(run folder, its best.ckpt, a dataset of its classes): a run folder as train.py leaves it."""
    root = tmp_path_factory.mktemp('run_settings')
    folder = root / 'run'
    save_config(FAMILY.get_config(['--net', NET, '--num_classes', str(CLASSES), '--image_size', str(SIZE),
                                   '--data_dir', str(root / 'data')]), str(folder))
    net = FAMILY.registry.build(NET, num_classes=CLASSES)
    ms.save_checkpoint(net, str(folder / 'best.ckpt'))
    data = write_photo_dataset(root / 'data', TINTS, 1, 2)
    return folder, folder / 'best.ckpt', data


def test_flags_are_read_as_argparse_reads_them():
    assert flag_value(['--net', 'a', '--net=b'], 'net') == 'b' and flag_value(['--x', '1'], 'net') is None


def test_the_runs_settings_are_a_layer_under_the_flags(run):
    folder, checkpoint, _ = run
    argv = ['--ckpt_path', str(checkpoint), '--image_size', '48']
    layer = run_settings_layer(argv)
    assert layer.name == f"run {folder / 'config.yaml'}"
    resolved = FAMILY.resolve_config(argv, run_layer=layer)
    assert (resolved.values.net, resolved.values.num_classes, resolved.values.image_size) == (NET, CLASSES, 48)
    assert resolved.set_by['net'] == resolved.set_by['num_classes'] == layer.name
    assert resolved.set_by['image_size'] == FLAGS_LAYER
    with pytest.raises(ConfigError, match=f'--net resnest50 contradicts the checkpoint: its run trained net {NET}'):
        run_settings_layer(['--ckpt_path', str(checkpoint), '--net', 'resnest50'])


def test_eval_print_config_names_the_run_that_set_the_network(run, run_script):
    folder, checkpoint, _ = run
    result = run_script(EVAL_PY, '--ckpt_path', checkpoint, '--print_config')
    assert result.returncode == 0, result.stderr[-2000:]
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    assert rows['net'].endswith(f"run {folder / 'config.yaml'}") and repr(NET) in rows['net']


def test_eval_needs_only_the_checkpoint(run, run_script, tmp_path):
    _, checkpoint, data = run
    result = run_script(EVAL_PY, '--ckpt_path', checkpoint, '--data_dir', data, '--output_dir', tmp_path / 'eval')
    assert result.returncode == 0, result.stderr[-2000:]
    [row] = json.loads((tmp_path / 'eval' / 'eval_result.json').read_text())
    assert row['net'] == NET and row['total'] == CLASSES * 2


def test_eval_with_a_net_that_contradicts_the_checkpoint_is_one_error_line(run, run_script, tmp_path):
    _, checkpoint, data = run
    result = run_script(EVAL_PY, '--ckpt_path', checkpoint, '--data_dir', data, '--net', 'resnest50')
    assert result.returncode == 2 and 'Traceback' not in result.stderr
    [line] = [l for l in result.stderr.splitlines() if l.startswith('error:')]
    assert 'resnest50' in line and NET in line


def test_export_needs_only_the_checkpoint(run, run_script, tmp_path):
    _, checkpoint, _ = run
    result = run_script(EXPORT_PY, '--ckpt_path', checkpoint, '--file_name', tmp_path / 'net')
    assert result.returncode == 0, result.stderr[-2000:]
    assert f'exported {NET} ({CLASSES} classes, input float32 {SIZE}x{SIZE})' in result.stdout
    refused = run_script(EXPORT_PY, '--ckpt_path', checkpoint, '--net', 'resnest26d')
    assert refused.returncode == 2 and 'resnest26d contradicts the checkpoint' in refused.stderr
