"""The inference scripts check their arguments before doing anything: wrong ones print the message and
the usage and exit with status 2; -h prints the usage. (The Ascend 310 run itself needs Ascend hardware
and cannot run here.)"""
import subprocess

import pytest

from helpers import REPO_ROOT

MODEL_DIRS = ('ResNeSt50', 'ResNeXt50')
USAGE_ERROR_STATUS = 2


def run_script(script, *args, cwd):
    return subprocess.run(['bash', str(script), *map(str, args)], capture_output=True, text=True, cwd=cwd,
                           check=False)


@pytest.fixture
def inputs(tmp_path):
    """An existing MINDIR-named file and data folder, so that each test breaks exactly one argument."""
    (tmp_path / 'net.mindir').write_bytes(b'')
    (tmp_path / 'val').mkdir()
    return tmp_path / 'net.mindir', tmp_path / 'val'


def assert_refused(result, message):
    assert result.returncode == USAGE_ERROR_STATUS
    assert message in result.stderr
    assert 'usage: bash ' in result.stderr


@pytest.mark.parametrize('model_dir', MODEL_DIRS)
@pytest.mark.parametrize('script', ['run_infer_310.sh', 'run_infer_cpu.sh'])
def test_help_prints_the_usage_of_the_model_folder_script(tmp_path, model_dir, script):
    result = run_script(REPO_ROOT / model_dir / 'scripts' / script, '-h', cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith(f'usage: bash {model_dir}/scripts/{script} MINDIR_PATH DATA_PATH')


@pytest.mark.parametrize('model_dir', MODEL_DIRS)
def test_run_infer_310_without_arguments_prints_the_usage(tmp_path, model_dir):
    result = run_script(REPO_ROOT / model_dir / 'scripts' / 'run_infer_310.sh', cwd=tmp_path)
    assert_refused(result, 'expected 3 arguments, got 0')


@pytest.mark.parametrize('model_dir', MODEL_DIRS)
def test_run_infer_310_refuses_a_missing_mindir(tmp_path, inputs, model_dir):
    _, data = inputs
    result = run_script(REPO_ROOT / model_dir / 'scripts' / 'run_infer_310.sh', tmp_path / 'missing.mindir',
                        data, 0, cwd=tmp_path)
    assert_refused(result, 'MINDIR_PATH is not a file')


@pytest.mark.parametrize('model_dir', MODEL_DIRS)
def test_run_infer_310_refuses_a_missing_data_folder(tmp_path, inputs, model_dir):
    mindir, _ = inputs
    result = run_script(REPO_ROOT / model_dir / 'scripts' / 'run_infer_310.sh', mindir, tmp_path / 'missing',
                        0, cwd=tmp_path)
    assert_refused(result, 'DATA_PATH is not a folder')


@pytest.mark.parametrize('model_dir', MODEL_DIRS)
@pytest.mark.parametrize('device_id', ['one', '-1', '1.5', ''])
def test_run_infer_310_refuses_a_device_id_that_is_not_an_integer(tmp_path, inputs, model_dir, device_id):
    mindir, data = inputs
    result = run_script(REPO_ROOT / model_dir / 'scripts' / 'run_infer_310.sh', mindir, data, device_id,
                        cwd=tmp_path)
    assert_refused(result, f"DEVICE_ID must be a non-negative integer, got '{device_id}'")


@pytest.mark.parametrize('model_dir', MODEL_DIRS)
def test_run_infer_cpu_refuses_wrong_arguments(tmp_path, inputs, model_dir):
    mindir, data = inputs
    script = REPO_ROOT / model_dir / 'scripts' / 'run_infer_cpu.sh'
    assert_refused(run_script(script, cwd=tmp_path), 'expected 2 or 3 arguments, got 0')
    assert_refused(run_script(script, tmp_path / 'missing.mindir', data, cwd=tmp_path), 'MINDIR_PATH is not a file')
    assert_refused(run_script(script, mindir, tmp_path / 'missing', cwd=tmp_path), 'DATA_PATH is not a folder')


@pytest.mark.parametrize('model_dir', MODEL_DIRS)
def test_scripts_write_nothing_when_refusing(tmp_path, inputs, model_dir):
    mindir, data = inputs
    run_script(REPO_ROOT / model_dir / 'scripts' / 'run_infer_310.sh', mindir, data, 'x', cwd=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['net.mindir', 'val']
