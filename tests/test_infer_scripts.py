"""The inference scripts check their arguments before doing anything: wrong ones print the message and
the usage and exit with status 2; -h prints the usage. What they run is seen through a stand-in `python`
first on the PATH; the Ascend 310 program itself needs Ascend hardware, so its run is seen through a
stand-in program in a copy of a model folder."""
import os
import shutil
import stat

import pytest

from helpers import REPO_ROOT, run_script

MODEL_DIRS = ('ResNeSt50', 'ResNeXt50')
USAGE_ERROR_STATUS = 2
INFER_SCRIPTS = ('run_infer_310.sh', 'run_infer_cpu.sh')

# Stand-in for python: records its arguments; `export.py --preprocessing` answers as the registry would.
STUB_PYTHON = r'''#!/bin/bash
echo "$*" >> "$STUB_CALLS"
case "$*" in
    *export.py\ --preprocessing\ *\ --net\ resnest200) echo "256 0.909 bicubic" ;;
    *export.py\ --preprocessing\ *.mindir) echo "224 0.875 bilinear" ;;
esac
'''

# Stand-in for the built Ascend 310 program: records its arguments and writes the timing file.
STUB_MAIN = r'''#!/bin/bash
echo "$*" > "$STUB_MAIN_ARGS"
echo "stub timing" > time_Result/test_perform_static.txt
'''


def write_executable(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding='utf-8')
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def stub_env(tmp_path):
    """An environment with the stand-in python first on the PATH; its calls go to tmp_path/calls.txt."""
    write_executable(tmp_path / 'bin' / 'python', STUB_PYTHON)
    return {**os.environ, 'PATH': f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}",
            'STUB_CALLS': str(tmp_path / 'calls.txt'), 'ASCEND_HOME': str(tmp_path / 'no_ascend')}


def calls(tmp_path):
    return (tmp_path / 'calls.txt').read_text().splitlines()


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
@pytest.mark.parametrize('script', INFER_SCRIPTS)
def test_help_prints_the_usage_of_the_model_folder_script(tmp_path, model_dir, script):
    result = run_script(REPO_ROOT / model_dir / 'scripts' / script, '-h', cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith(f'usage: bash {model_dir}/scripts/{script} MINDIR_PATH DATA_PATH')


@pytest.mark.parametrize('model_dir', MODEL_DIRS)
def test_run_infer_310_without_arguments_prints_the_usage(tmp_path, model_dir):
    result = run_script(REPO_ROOT / model_dir / 'scripts' / 'run_infer_310.sh', cwd=tmp_path)
    assert_refused(result, 'expected 3 or 4 arguments, got 0')


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
def test_run_infer_cpu_refuses_an_onnx_model_in_one_line_naming_predict(tmp_path, inputs, model_dir):
    _, data = inputs
    onnx = tmp_path / 'net.onnx'
    onnx.write_bytes(b'onnx')
    result = run_script(REPO_ROOT / model_dir / 'scripts' / 'run_infer_cpu.sh', onnx, data, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {onnx} is an ONNX file and this script runs MINDIR files (export.py --file_format MINDIR); for an "
        f"ONNX model: python {model_dir}/predict.py --model {onnx} IMAGES"]


@pytest.mark.parametrize('model_dir', MODEL_DIRS)
def test_scripts_write_nothing_when_refusing(tmp_path, inputs, model_dir):
    mindir, data = inputs
    run_script(REPO_ROOT / model_dir / 'scripts' / 'run_infer_310.sh', mindir, data, 'x', cwd=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['net.mindir', 'val']


@pytest.mark.parametrize('model_dir', MODEL_DIRS)
@pytest.mark.parametrize('script', INFER_SCRIPTS)
def test_the_wrappers_leave_the_default_network_to_the_model(model_dir, script):
    wrapper = (REPO_ROOT / model_dir / 'scripts' / script).read_text()
    assert 'DEFAULT_NET' not in wrapper
    assert not any(name in wrapper.lower() for name in ('resnest50', 'resnext50_32x4d'))


@pytest.mark.parametrize('net, expected_net_args', [((), []), (('resnext101_32x8d',), ['--net', 'resnext101_32x8d'])])
def test_run_infer_cpu_passes_net_only_when_given(tmp_path, inputs, stub_env, net, expected_net_args):
    mindir, data = inputs
    result = run_script(REPO_ROOT / 'ResNeXt50' / 'scripts' / 'run_infer_cpu.sh', mindir, data, *net,
                        cwd=tmp_path, env=stub_env)
    assert result.returncode == 0, result.stderr
    export_call = calls(tmp_path)[0].split()
    assert export_call == [str(REPO_ROOT / 'ResNeXt50' / 'export.py'), '--run_mindir', str(mindir),
                           *expected_net_args, '--data_path', str(data), '--result_path', 'result_Files',
                           '--device_target', 'CPU']


@pytest.fixture
def model_copy(tmp_path):
    """A model folder beside a link to utils/, with the real run_infer_310.sh and a stand-in 310 program."""
    repo = tmp_path / 'repo'
    (repo / 'Model' / 'scripts').mkdir(parents=True)
    (repo / 'utils').symlink_to(REPO_ROOT / 'utils')
    shutil.copy(REPO_ROOT / 'ResNeSt50' / 'scripts' / 'run_infer_310.sh', repo / 'Model' / 'scripts')
    write_executable(repo / 'Model' / 'ascend310_infer' / 'build.sh', 'echo built\n')
    write_executable(repo / 'Model' / 'ascend310_infer' / 'out' / 'main', STUB_MAIN)
    return repo / 'Model'


@pytest.mark.parametrize('net, overrides, expected', [
    ((), {}, ['--crop_pct=0.875', '--interpolation=bilinear']),
    (('resnest200',), {}, ['--crop_pct=0.909', '--interpolation=bicubic']),
    (('resnest200',), {'CROP_PCT': '0.8', 'INTERPOLATION': 'bilinear'}, ['--crop_pct=0.8', '--interpolation=bilinear']),
])
def test_run_infer_310_takes_the_preprocessing_from_the_registry(tmp_path, inputs, stub_env, model_copy, net,
                                                                 overrides, expected):
    mindir, data = inputs
    main_args = tmp_path / 'main_args.txt'
    result = run_script(model_copy / 'scripts' / 'run_infer_310.sh', mindir, data, 3, *net, cwd=tmp_path,
                        env={**stub_env, 'STUB_MAIN_ARGS': str(main_args), **overrides})
    assert result.returncode == 0, result.stdout + result.stderr
    assert calls(tmp_path)[0] == ' '.join([str(model_copy / 'export.py'), '--preprocessing', str(mindir), *(
        ['--net', *net] if net else [])])
    passed = main_args.read_text().split()
    assert passed[:3] == [f'--mindir_path={mindir}', f'--dataset_path={data}', '--device_id=3']
    assert passed[3:5] == expected


def test_run_infer_310_stops_when_the_registry_does_not_answer(tmp_path, inputs, stub_env, model_copy):
    mindir, data = inputs
    result = run_script(model_copy / 'scripts' / 'run_infer_310.sh', mindir, data, 0, 'resnest999', cwd=tmp_path,
                        env={**stub_env, 'STUB_MAIN_ARGS': str(tmp_path / 'main_args.txt')})
    assert result.returncode == 1
    assert 'export.py --preprocessing printed' in result.stderr
    assert not (tmp_path / 'main_args.txt').exists()
