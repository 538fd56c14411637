"""The launch scripts of both model folders: argument checking, and what they start, with what environment.

Nothing here runs train.py or eval.py: a stand-in `python` first on the PATH records each call of a model
entry point (arguments, environment, CPU affinity) and forwards any other call (the rank-table validator,
msrun's own interpreter) to the real interpreter. A stand-in `mpirun` runs its command once per rank with
OpenMPI's variables; `msrun` is MindSpore's own.
"""
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time

import pytest

from helpers import REPO_ROOT, run_script

MODEL_FOLDERS = ('ResNeSt50', 'ResNeXt50')
SCRIPTS = ('run_train_cpu.sh', 'run_train_gpu.sh', 'run_train.sh', 'run_eval.sh', 'run_eval_gpu.sh',
           'run_eval_cpu.sh', 'run_distribute_train.sh', 'run_distribute_train_gpu.sh',
           'run_distribute_train_cpu.sh', 'run_distribute_eval.sh')
USAGE_EXIT_STATUS = 2
SCRIPT_TIMEOUT_SECONDS = 120
# How long stopped workers get to exit after their launcher did: well under a second alone, but 0.5 s once left
# one alive beside a loaded second xdist worker (CI, MindSpore 2.7.0). A worker nobody stops sleeps 300 s.
WORKER_EXIT_SECONDS = 10

STUB_PYTHON = r'''#!/bin/bash
# Stand-in for python: records a call of a model entry point, forwards anything else to the real python.
# STUB_BACKENDS="GPU ...": the backend check of these targets passes, as on a MindSpore build that has them.
if [[ "${1:-} ${2:-} ${3:-}" == "-m zoo_core.runtime.devices check" && " ${STUB_BACKENDS:-} " == *" ${4:-} "* ]]; then
    exit 0
fi
case "${1:-}" in
    *train.py | *eval.py)
        echo "ARGV $*"
        echo "CWD $PWD"
        for name in RANK_ID DEVICE_ID RANK_SIZE RANK_TABLE_FILE MS_ROLE MS_NODE_ID MS_WORKER_NUM MS_SCHED_HOST \
                    MS_SCHED_PORT OMPI_COMM_WORLD_RANK ZOO_LOCAL_WORKER_NUM; do
            echo "ENV $name=${!name-}"
        done
        echo "CPUS $(grep Cpus_allowed_list /proc/self/status | cut -f2)"
        echo "${MS_ROLE:-single} $*" >> "$STUB_CALLS"
        # STUB_FAIL_RANK=r: the worker of rank r fails (r=none: a process without RANK_ID).
        if [[ "${MS_ROLE:-}" != MS_SCHED && "${RANK_ID:-none}" == "${STUB_FAIL_RANK:-}" ]]; then
            echo "Traceback (most recent call last):"
            echo "RuntimeError: stub failure of rank ${RANK_ID:-none}"
            exit 3
        fi
        # STUB_SLEEP=s: each worker runs s seconds, after writing its pid to STUB_PIDS.
        if [[ "${MS_ROLE:-}" != MS_SCHED && -n "${STUB_SLEEP:-}" ]]; then
            echo $$ >> "$STUB_PIDS"
            exec sleep "$STUB_SLEEP"
        fi
        exit 0 ;;
esac
exec "@REAL_PYTHON@" "$@"
'''

STUB_MPIRUN = r'''#!/bin/bash
# Stand-in for OpenMPI's mpirun: runs the command once per rank with the OMPI_COMM_WORLD_* variables.
echo "mpirun $*" >> "$STUB_CALLS"
count=1
while (($#)); do
    case "$1" in
        -n | -np) count="$2"; shift 2 ;;
        -x | --bind-to | --hostfile | -H) shift 2 ;;
        --allow-run-as-root | --oversubscribe) shift ;;
        *) break ;;
    esac
done
pids=()
for ((rank = 0; rank < count; rank++)); do
    OMPI_COMM_WORLD_RANK=$rank OMPI_COMM_WORLD_SIZE=$count OMPI_COMM_WORLD_LOCAL_RANK=$rank "$@" &
    pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
exit $status
'''

STUB_MSRUN = r'''#!/bin/bash
# Records the call, then runs MindSpore's msrun (which starts workers with the python of the PATH).
echo "msrun $*" >> "$STUB_CALLS"
exec "@REAL_MSRUN@" "$@"
'''


def write_executable(path, text):
    path.write_text(text, encoding='utf-8')
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


@pytest.fixture(scope='module')
def stub_bin(tmp_path_factory):
    """A folder with the stand-in python, mpirun and msrun."""
    folder = tmp_path_factory.mktemp('stub_bin')
    write_executable(folder / 'python', STUB_PYTHON.replace('@REAL_PYTHON@', sys.executable))
    write_executable(folder / 'mpirun', STUB_MPIRUN)
    real_msrun = shutil.which('msrun', path=os.path.dirname(sys.executable)) or shutil.which('msrun')
    if real_msrun:
        write_executable(folder / 'msrun', STUB_MSRUN.replace('@REAL_MSRUN@', real_msrun))
    return folder


class Launch:
    """Runs a model folder's script with the stand-ins; `calls` are the recorded entry-point calls."""

    def __init__(self, stub_bin, tmp_path):
        self.tmp_path = tmp_path
        self.calls_file = tmp_path / 'calls.txt'
        self.output_dir = tmp_path / 'out'
        self.env = {key: value for key, value in os.environ.items()
                    if key not in ('MS_ROLE', 'RANK_TABLE_FILE', 'RANK_SIZE', 'RANK_ID', 'DEVICE_ID', 'SERVER_ID',
                                   'LAUNCHER', 'MASTER_PORT', 'NUM_NODES', 'NODE_RANK', 'MASTER_ADDR',
                                   'MPIRUN_ARGS', 'ZOO_LOCAL_WORKER_NUM')}
        self.env.update(PATH=f"{stub_bin}{os.pathsep}{os.environ['PATH']}", STUB_CALLS=str(self.calls_file),
                        OUTPUT_DIR=str(self.output_dir), CLUSTER_TIME_OUT='60', STUB_BACKENDS='GPU')

    def __call__(self, script, *args, model='ResNeSt50', **env):
        return run_script(REPO_ROOT / model / 'scripts' / script, *args, cwd=self.tmp_path, env={**self.env, **env},
                          timeout=SCRIPT_TIMEOUT_SECONDS)

    def interrupted(self, script, *args, workers, **env):
        """Start a script whose workers sleep, SIGTERM it once `workers` run; (exit status, worker pids alive)."""
        pids_file = self.tmp_path / 'pids.txt'
        process = subprocess.Popen(['bash', str(REPO_ROOT / 'ResNeSt50' / 'scripts' / script), *map(str, args)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.tmp_path,
                                   env={**self.env, 'STUB_SLEEP': '300', 'STUB_PIDS': str(pids_file), **env})
        deadline = time.monotonic() + SCRIPT_TIMEOUT_SECONDS
        while time.monotonic() < deadline and process.poll() is None:
            if pids_file.exists() and len(pids_file.read_text().split()) == workers:
                break
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        status = process.wait(timeout=SCRIPT_TIMEOUT_SECONDS)
        pids = [int(pid) for pid in pids_file.read_text().split()] if pids_file.exists() else []
        assert len(pids) == workers, 'the workers did not start'
        deadline = time.monotonic() + WORKER_EXIT_SECONDS
        while any(map(process_alive, pids)) and time.monotonic() < deadline:
            time.sleep(0.1)
        return status, [pid for pid in pids if process_alive(pid)]

    @property
    def calls(self):
        return self.calls_file.read_text().splitlines() if self.calls_file.exists() else []


@pytest.fixture
def launch(stub_bin, tmp_path):
    return Launch(stub_bin, tmp_path)


def process_alive(pid):
    """Whether `pid` still runs: a zombie, dead but not yet reaped by its new parent, does not."""
    try:
        with open(f'/proc/{pid}/stat') as stat:
            return stat.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except (FileNotFoundError, ProcessLookupError):
        return False


def record(log_path):
    """What the stand-in python recorded in a log: argv, working folder, environment, allowed CPUs."""
    lines = log_path.read_text().splitlines()
    env = dict(line[4:].split('=', 1) for line in lines if line.startswith('ENV '))
    first = {key: next(line[len(key) + 1:] for line in lines if line.startswith(key + ' '))
             for key in ('ARGV', 'CWD', 'CPUS')}
    return {'argv': first['ARGV'].split(), 'cwd': first['CWD'], 'cpus': first['CPUS'], 'env': env}


def option(argv, key):
    return argv[argv.index(key) + 1]


def cpu_list(cpus):
    """A list of consecutive CPUs as /proc/<pid>/status shows it: "4" or "4-7"."""
    return str(cpus[0]) if len(cpus) == 1 else f'{cpus[0]}-{cpus[-1]}'


def rank_table_file(path, devices, server_id='10.0.0.1'):
    """A one-server rank table with rank r on devices[r]."""
    document = {'version': '1.0', 'server_count': '1', 'status': 'completed',
                'server_list': [{'server_id': server_id, 'host_nic_ip': 'reserve',
                                 'device': [{'device_id': str(d), 'device_ip': f'192.168.{d}.10', 'rank_id': str(r)}
                                            for r, d in enumerate(devices)]}]}
    path.write_text(json.dumps(document), encoding='utf-8')
    return path


# --- every script: wrong arguments give the usage and start nothing ---

def wrong_argument_cases():
    """(script, arguments, expected message) per script; {tmp} is the test's folder, {ckpt} an existing file."""
    missing = '{tmp}/no_such_dir'
    cases = {
        'run_train_cpu.sh': [([missing], 'DATA_DIR is not a folder'), (['{tmp}', 'extra'], 'too many'),
                             (['{tmp}', '-x'], "unexpected argument '-x'")],
        'run_train_gpu.sh': [([missing], 'DATA_DIR is not a folder'), (['{tmp}', 'gpu0'], 'DEVICE_ID must be'),
                             (['{tmp}', '0', 'extra'], 'too many')],
        'run_train.sh': [([], 'missing argument'), ([missing], 'DATA_DIR is not a folder'),
                         (['{tmp}', '1.5'], 'DEVICE_ID must be'), (['{tmp}', '-1'], "unexpected argument '-1'")],
        'run_distribute_train.sh': [([], 'missing argument'), (['{tmp}/rt.json', '{tmp}', 'extra'], 'too many'),
                                    (['{tmp}/rt.json', missing], 'DATA_DIR is not a folder')],
        'run_distribute_train_gpu.sh': [([], 'missing argument'), (['two'], 'N (number of processes) must be'),
                                        (['0'], 'must be a positive integer'), (['1.5'], 'positive integer'),
                                        (['2', missing], 'DATA_DIR is not a folder')],
        'run_distribute_train_cpu.sh': [([], 'missing argument'), (['x2'], 'N (number of processes) must be'),
                                        (['-2'], "unexpected argument '-2'"), (['2', missing], 'not a folder')],
        'run_distribute_eval.sh': [([], 'missing argument'), (['CPU', '2'], 'missing argument'),
                                   (['TPU', '2', '{ckpt}'], 'DEVICE_TARGET must be one of'),
                                   (['CPU', 'two', '{ckpt}'], 'N (number of processes) must be'),
                                   (['CPU', '2', '{tmp}/missing.ckpt'], 'CKPT not found'),
                                   (['CPU', '2', '{ckpt}', missing], 'DATA_DIR is not a folder')],
    }
    for script in ('run_eval.sh', 'run_eval_gpu.sh', 'run_eval_cpu.sh'):
        cases[script] = [([], 'missing argument'), (['{tmp}/eval_out'], 'missing argument'),
                         (['{tmp}/eval_out', '{tmp}/missing.ckpt'], 'CKPT not found'),
                         (['{tmp}/eval_out', '{ckpt}', missing], 'DATA_DIR is not a folder'),
                         (['{ckpt}', '{ckpt}'], 'OUT_DIR exists and is not a folder'),
                         (['{tmp}/eval_out', '{ckpt}', '{tmp}', 'extra'], 'too many')]
    assert set(cases) == set(SCRIPTS)
    for model in MODEL_FOLDERS:
        for script, script_cases in cases.items():
            for args, message in script_cases:
                yield pytest.param(model, script, args, message, id=f"{model}-{script}-{' '.join(args) or 'none'}")


@pytest.mark.parametrize('model, script, args, message', list(wrong_argument_cases()))
def test_wrong_arguments_print_the_usage_and_start_nothing(launch, tmp_path, model, script, args, message):
    ckpt = tmp_path / 'net.ckpt'
    ckpt.write_bytes(b'')
    result = launch(script, *[arg.format(tmp=tmp_path, ckpt=ckpt) for arg in args], model=model)
    assert result.returncode == USAGE_EXIT_STATUS, result.stdout + result.stderr
    assert message in result.stderr
    assert f'usage: bash {model}/scripts/{script}' in result.stderr
    assert launch.calls == []
    assert not launch.output_dir.exists()
    assert not (tmp_path / 'eval_out').exists()


@pytest.mark.parametrize('script', SCRIPTS)
def test_help_prints_the_usage_and_exits_0(launch, script):
    result = launch(script, '--help')
    assert result.returncode == 0
    assert result.stdout.startswith(f'usage: bash ResNeSt50/scripts/{script}')
    assert launch.calls == []


@pytest.mark.parametrize('script', SCRIPTS)
def test_the_model_folders_share_one_implementation_of_each_script(script):
    wrappers = [(REPO_ROOT / model / 'scripts' / script).read_text() for model in MODEL_FOLDERS]
    assert wrappers[0] == wrappers[1]
    assert re.search(r'^exec bash "\$MODEL_DIR/\.\./utils/scripts/\w+\.sh" "\$MODEL_DIR"', wrappers[0], re.M)
    assert 'set -euo pipefail' in wrappers[0]


def test_a_shared_script_runs_directly_with_its_own_arguments(launch, tmp_path):
    def run_shared(script, *args):
        return subprocess.run(['bash', str(REPO_ROOT / 'utils' / 'scripts' / script), *map(str, args)],
                              capture_output=True, text=True, cwd=tmp_path, env=launch.env,
                              timeout=SCRIPT_TIMEOUT_SECONDS, check=False)

    result = run_shared('run_distribute_train.sh', REPO_ROOT / 'ResNeSt50', 'Ascend', '-h')
    assert result.returncode == 0
    assert result.stdout.startswith('usage: bash utils/scripts/run_distribute_train.sh MODEL_DIR CPU|GPU|Ascend N ')
    result = run_shared('run_train.sh', REPO_ROOT / 'ResNeSt50', 'CPU', '--epochs', '1')
    assert result.returncode == 0, result.stderr
    assert launch.calls == [f"single {REPO_ROOT / 'ResNeSt50' / 'train.py'} --device_target CPU --output_dir "
                            f"{launch.output_dir} --resume auto --epochs 1"]


# --- Ascend rank table: validated before anything starts ---

@pytest.mark.parametrize('content, message', [
    ('{"server_list": [', 'is not valid JSON'),
    ('{"version": "1.0"}', "no 'server_list'"),
    (json.dumps({'server_list': [{'server_id': '10.0.0.1', 'device': [
        {'device_id': '0', 'device_ip': '192.168.0.10', 'rank_id': '0'},
        {'device_id': '1', 'device_ip': '192.168.1.10', 'rank_id': '0'}]}]}), 'rank_id 0 is given twice'),
    (json.dumps({'server_list': [{'server_id': '10.0.0.1', 'device': [
        {'device_id': '0', 'device_ip': '192.168.0.10', 'rank_id': '0'},
        {'device_id': '1', 'device_ip': '192.168.1.10', 'rank_id': '2'}]}]}), 'missing 1'),
])
def test_a_bad_rank_table_stops_the_ascend_launch_before_any_process(launch, tmp_path, content, message):
    table = tmp_path / 'rank_table.json'
    table.write_text(content, encoding='utf-8')
    result = launch('run_distribute_train.sh', table)
    assert result.returncode == USAGE_EXIT_STATUS
    assert 'invalid rank table' in result.stderr and message in result.stderr
    assert 'nothing was started' in result.stderr
    assert launch.calls == []
    assert not launch.output_dir.exists()


def test_a_missing_rank_table_stops_the_ascend_launch(launch, tmp_path):
    result = launch('run_distribute_train.sh', tmp_path / 'absent.json')
    assert result.returncode == USAGE_EXIT_STATUS
    assert 'rank table file not found' in result.stderr
    assert launch.calls == [] and not launch.output_dir.exists()


def test_ascend_launch_starts_one_process_per_rank_of_the_table(launch, tmp_path):
    table = rank_table_file(tmp_path / 'rank_table.json', devices=[4, 5])
    result = launch('run_distribute_train.sh', table, tmp_path, '--epochs', '1', model='ResNeXt50')
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(launch.calls) == 2
    cpu_sets = []
    for rank, device_id in enumerate([4, 5]):
        rank_dir = launch.output_dir / f'train_parallel{rank}'
        seen = record(rank_dir / 'log')
        assert seen['argv'][0] == str(REPO_ROOT / 'ResNeXt50' / 'train.py')
        assert option(seen['argv'], '--device_target') == 'Ascend'
        assert option(seen['argv'], '--data_dir') == str(tmp_path)
        assert option(seen['argv'], '--output_dir') == str(launch.output_dir)
        assert option(seen['argv'], '--epochs') == '1'
        assert seen['cwd'] == str(rank_dir)
        assert seen['env']['RANK_ID'] == str(rank)
        assert seen['env']['DEVICE_ID'] == str(device_id)
        assert seen['env']['RANK_SIZE'] == '2'
        assert seen['env']['RANK_TABLE_FILE'] == str(table)
        assert seen['env']['MS_ROLE'] == ''
        cpu_sets.append(seen['cpus'])
    cpus = sorted(os.sched_getaffinity(0))
    if shutil.which('taskset') and len(cpus) >= 2:
        share = len(cpus) // 2
        assert cpu_sets == [cpu_list(cpus[:share]), cpu_list(cpus[share:2 * share])]


def test_ascend_launch_fails_with_the_log_of_the_failing_rank(launch, tmp_path):
    table = rank_table_file(tmp_path / 'rank_table.json', devices=[0, 1])
    result = launch('run_distribute_train.sh', table, STUB_FAIL_RANK='1')
    assert result.returncode != 0
    assert 'rank 1 (device 1) failed with exit status 3' in result.stderr
    assert 'RuntimeError: stub failure of rank 1' in result.stderr
    assert str(launch.output_dir / 'train_parallel1' / 'log') in result.stderr


def test_stopping_the_ascend_launch_stops_every_rank(launch, tmp_path):
    table = rank_table_file(tmp_path / 'rank_table.json', devices=[0, 1])
    status, alive = launch.interrupted('run_distribute_train.sh', table, workers=2)
    assert status == 130
    assert alive == []


def test_a_table_of_several_servers_needs_server_id(launch, tmp_path):
    table = tmp_path / 'rank_table.json'
    table.write_text(json.dumps({'server_count': '2', 'server_list': [
        {'server_id': '10.0.0.1', 'device': [{'device_id': '0', 'device_ip': '192.168.0.10', 'rank_id': '0'}]},
        {'server_id': '10.0.0.2', 'device': [{'device_id': '0', 'device_ip': '192.168.0.11', 'rank_id': '1'}]},
    ]}), encoding='utf-8')
    result = launch('run_distribute_train.sh', table)
    assert result.returncode == USAGE_EXIT_STATUS and 'set SERVER_ID' in result.stderr
    assert launch.calls == []

    result = launch('run_distribute_train.sh', table, SERVER_ID='10.0.0.2')
    assert result.returncode == 0, result.stderr
    seen = record(launch.output_dir / 'train_parallel1' / 'log')
    assert (seen['env']['RANK_ID'], seen['env']['RANK_SIZE']) == ('1', '2')
    assert not (launch.output_dir / 'train_parallel0').exists()


# --- one device ---

def test_single_device_training_passes_its_arguments_and_device(launch, tmp_path):
    result = launch('run_train_gpu.sh', tmp_path, 3, '--epochs', '2', RANK_TABLE_FILE='/left/over.json',
                    RANK_SIZE='8')
    assert result.returncode == 0, result.stderr
    seen = record(launch.output_dir / 'console.log')
    assert seen['argv'][1:] == ['--device_target', 'GPU', '--data_dir', str(tmp_path), '--output_dir',
                                str(launch.output_dir), '--resume', 'auto', '--epochs', '2']
    assert seen['env']['DEVICE_ID'] == '3'
    assert seen['env']['RANK_TABLE_FILE'] == '' and seen['env']['RANK_SIZE'] == ''  # not taken for a rank


def test_cpu_training_without_a_dataset_uses_the_demo_dataset(launch):
    result = launch('run_train_cpu.sh', '--epochs', '1')
    assert result.returncode == 0, result.stderr
    assert launch.calls == [f"single {REPO_ROOT / 'ResNeSt50' / 'train.py'} --device_target CPU --output_dir "
                            f"{launch.output_dir} --resume auto --epochs 1"]


def test_training_fails_with_the_exit_status_of_python(launch, tmp_path):
    result = launch('run_train.sh', tmp_path, 0, STUB_FAIL_RANK='none')
    assert result.returncode == 3  # through the pipe into tee
    assert 'stub failure' in (launch.output_dir / 'console.log').read_text()


def test_eval_passes_the_checkpoint_and_writes_into_out_dir(launch, tmp_path):
    ckpt = tmp_path / 'net.ckpt'
    ckpt.write_bytes(b'')
    out_dir = tmp_path / 'eval_out'
    result = launch('run_eval_cpu.sh', out_dir, ckpt, tmp_path, '--batch_size', '8', model='ResNeXt50')
    assert result.returncode == 0, result.stderr
    seen = record(out_dir / 'console.log')
    assert seen['argv'][0] == str(REPO_ROOT / 'ResNeXt50' / 'eval.py')
    assert seen['argv'][1:] == ['--device_target', 'CPU', '--ckpt_path', str(ckpt), '--data_dir', str(tmp_path),
                                '--output_dir', str(out_dir), '--batch_size', '8']


# --- dynamic cluster: mpirun and msrun ---

def test_gpu_launch_with_mpirun_makes_rank_0_start_the_scheduler(launch, tmp_path):
    result = launch('run_distribute_train_gpu.sh', 2, '--epochs', '1', MASTER_PORT='8123')
    assert result.returncode == 0, result.stdout + result.stderr
    assert [call for call in launch.calls if call.startswith('mpirun')][0].startswith('mpirun -n 2 ')
    log_dir = launch.output_dir / 'logs'
    scheduler = record(log_dir / 'scheduler.log')
    assert scheduler['env']['MS_ROLE'] == 'MS_SCHED'
    for rank in (0, 1):
        seen = record(log_dir / f'worker_{rank}.log')
        assert seen['env']['MS_ROLE'] == 'MS_WORKER'
        assert (seen['env']['MS_NODE_ID'], seen['env']['RANK_ID'], seen['env']['DEVICE_ID']) == ((str(rank),) * 3)
        assert seen['env']['MS_WORKER_NUM'] == '2'
        assert (seen['env']['MS_SCHED_HOST'], seen['env']['MS_SCHED_PORT']) == ('127.0.0.1', '8123')
        assert seen['env']['OMPI_COMM_WORLD_RANK'] == ''
        assert option(seen['argv'], '--device_target') == 'GPU'


def test_mpirun_launch_fails_with_the_failing_worker_log(launch):
    result = launch('run_distribute_train_gpu.sh', 2, STUB_FAIL_RANK='1')
    assert result.returncode != 0
    assert 'worker_1.log' in result.stderr and 'stub failure of rank 1' in result.stderr


needs_msrun = pytest.mark.skipif(not shutil.which('msrun', path=os.path.dirname(sys.executable)),
                                 reason='msrun (MindSpore >= 2.3) is not installed beside this python')


@needs_msrun
def test_cpu_launch_runs_n_workers_under_msrun(launch):
    result = launch('run_distribute_train_cpu.sh', 2, '--epochs', '1')
    assert result.returncode == 0, result.stdout + result.stderr
    msrun_call = next(call for call in launch.calls if call.startswith('msrun'))
    for expected in ('--worker_num=2', '--local_worker_num=2', '--join=True', '--cluster_time_out=60',
                     f"--log_dir={launch.output_dir / 'logs'}"):
        assert expected in msrun_call.split()
    for rank in (0, 1):
        seen = record(launch.output_dir / 'logs' / f'worker_{rank}.log')
        assert (seen['env']['MS_ROLE'], seen['env']['RANK_ID']) == ('MS_WORKER', str(rank))
        assert option(seen['argv'], '--device_target') == 'CPU'


@needs_msrun
def test_msrun_launch_fails_with_the_failing_worker_log(launch, tmp_path):
    ckpt = tmp_path / 'net.ckpt'
    ckpt.write_bytes(b'')
    result = launch('run_distribute_eval.sh', 'CPU', 2, ckpt, STUB_FAIL_RANK='1')
    assert result.returncode != 0
    assert 'worker_1.log' in result.stderr and 'stub failure of rank 1' in result.stderr
    assert 'msrun run failed' in result.stderr


# msrun 2.7.0 after a failed run: the workers' errors, then `grep -rn ... -C 5` over its whole --log_dir
# (process_entity/_api.py, `_analyze_log`), then exit 1. 2.8 and later do not grep.
MSRUN_27_FAILURE = r'''#!/bin/bash
for argument; do [[ "$argument" != --log_dir=* ]] || log_dir="${argument#--log_dir=}"; done
mkdir -p "$log_dir"
for ((line = 0; line < 2000; line++)); do echo "[ERROR] DISTRIBUTED worker line $line: Failed to connect"; done \
    | tee "$log_dir/worker_0.log"
# Bounded here, so that a launcher that keeps its log in the folder fails this test without filling the disk.
timeout "$GREP_SECONDS" grep -rn -E 'ERROR|CRITICAL|Traceback|Error' -C 5 "$log_dir" || true
exit 1
'''
# What launcher.log may reach for that run: the workers' lines once and grep's copy of them once (the loop
# wrote 250 MB per second here).
LAUNCHER_LOG_LIMIT_BYTES = 1 << 20
MSRUN_GREP_SECONDS = 2


def test_msrun_27s_log_grep_after_a_failure_cannot_feed_on_the_launchers_log(tmp_path):
    """launcher.log lives beside the log folder: inside it, msrun 2.7's grep read its own output back and the
    file grew without end (6 GB in two minutes in a failed two-host run on MindSpore 2.7.0)."""
    fake_bin = tmp_path / 'bin'
    fake_bin.mkdir()
    write_executable(fake_bin / 'msrun', MSRUN_27_FAILURE)
    log_dir = tmp_path / 'out' / 'logs'
    shell = 'set -euo pipefail; usage() { :; }; source "$1"; shift; run_cluster "$@"'
    env = {key: value for key, value in os.environ.items() if key not in ('MASTER_PORT', 'NUM_NODES', 'NODE_RANK')}
    env['PATH'] = f"{fake_bin}{os.pathsep}{os.path.dirname(sys.executable)}{os.pathsep}{env['PATH']}"
    env['GREP_SECONDS'] = str(MSRUN_GREP_SECONDS)
    result = run_script('bash', '-c', shell, 'bash', REPO_ROOT / 'utils' / 'scripts' / 'common.sh', 'msrun', 1,
                        log_dir, 'train.py', cwd=tmp_path, env=env, timeout=SCRIPT_TIMEOUT_SECONDS)
    assert result.returncode != 0 and 'msrun run failed' in result.stderr
    launcher_log = tmp_path / 'out' / 'launcher.log'
    assert 'worker line 1999' in launcher_log.read_text()
    assert launcher_log.stat().st_size < LAUNCHER_LOG_LIMIT_BYTES
    assert sorted(path.name for path in log_dir.iterdir()) == ['worker_0.log']


@needs_msrun
def test_stopping_an_msrun_launch_stops_its_workers(launch):
    status, alive = launch.interrupted('run_distribute_train_cpu.sh', 2, workers=2)
    assert status == 130
    assert alive == []


# --- several hosts: NUM_NODES, NODE_RANK, MASTER_ADDR, MASTER_PORT ---

@pytest.mark.parametrize('script, args', [('run_distribute_train_cpu.sh', ['2']),
                                          ('run_distribute_eval.sh', ['CPU', '2', '{ckpt}'])])
@pytest.mark.parametrize('env, message', [
    (dict(NUM_NODES='two'), 'NUM_NODES must be a positive integer'),
    (dict(NUM_NODES='0'), 'NUM_NODES must be a positive integer'),
    (dict(NUM_NODES='2', NODE_RANK='2', MASTER_ADDR='10.0.0.1', MASTER_PORT='8118'),
     'NODE_RANK must be an integer from 0 to NUM_NODES-1 = 1'),
    (dict(NUM_NODES='2', NODE_RANK='-1', MASTER_ADDR='10.0.0.1', MASTER_PORT='8118'), 'NODE_RANK must be'),
    (dict(NUM_NODES='2', NODE_RANK='1', MASTER_PORT='8118'), 'set MASTER_ADDR to the address of host 0'),
    (dict(NUM_NODES='2', NODE_RANK='1', MASTER_ADDR='10.0.0.1'), 'set MASTER_PORT, the same on every host'),
    (dict(MASTER_PORT='80'), 'MASTER_PORT must be a port number from 1024 to 65535'),
])
def test_a_wrong_multi_host_setting_gives_the_usage_and_starts_nothing(launch, tmp_path, script, args, env,
                                                                     message):
    ckpt = tmp_path / 'net.ckpt'
    ckpt.write_bytes(b'')
    result = launch(script, *[arg.format(ckpt=ckpt) for arg in args], **env)
    assert result.returncode == USAGE_EXIT_STATUS, result.stdout + result.stderr
    assert message in result.stderr
    assert f'usage: bash ResNeSt50/scripts/{script}' in result.stderr
    assert launch.calls == [] and not launch.output_dir.exists()


@pytest.mark.parametrize('env, message', [
    (dict(NODE_RANK='1'), 'run it there only (NODE_RANK=0), not on host 1'),
    (dict(NODE_RANK='0'), 'name them in MPIRUN_ARGS'),
])
def test_multi_host_mpirun_runs_from_host_0_with_a_hostfile(launch, env, message):
    result = launch('run_distribute_train_gpu.sh', 8, NUM_NODES='2', MASTER_ADDR='10.0.0.1', MASTER_PORT='8118',
                    **env)
    assert result.returncode == USAGE_EXIT_STATUS
    assert message in result.stderr
    assert launch.calls == []


def test_multi_host_mpirun_starts_every_rank_with_host_0_as_scheduler(launch, tmp_path):
    hostfile = tmp_path / 'hosts.txt'
    hostfile.write_text('10.0.0.1 slots=2\n10.0.0.2 slots=2\n', encoding='utf-8')
    result = launch('run_distribute_train_gpu.sh', 2, NUM_NODES='2', NODE_RANK='0', MASTER_ADDR='10.0.0.1',
                    MASTER_PORT='8124', MPIRUN_ARGS=f'--bind-to none --hostfile {hostfile}')
    assert result.returncode == 0, result.stdout + result.stderr
    mpirun_call = next(call for call in launch.calls if call.startswith('mpirun'))
    assert mpirun_call.startswith('mpirun -n 4 ') and f'--hostfile {hostfile}' in mpirun_call
    for rank in range(4):
        seen = record(launch.output_dir / 'logs' / f'worker_{rank}.log')
        assert (seen['env']['MS_SCHED_HOST'], seen['env']['MS_SCHED_PORT']) == ('10.0.0.1', '8124')
        assert (seen['env']['MS_WORKER_NUM'], seen['env']['RANK_ID']) == ('4', str(rank))


@needs_msrun
@pytest.mark.parametrize('script, args', [('run_distribute_train_cpu.sh', ['2']),
                                          ('run_distribute_eval.sh', ['CPU', '2', '{ckpt}'])])
def test_a_second_host_starts_its_ranks_under_msrun_without_a_scheduler(launch, tmp_path, script, args):
    ckpt = tmp_path / 'net.ckpt'
    ckpt.write_bytes(b'')
    # 192.0.2.1 (TEST-NET-1) is no address of this machine: msrun starts no scheduler here, as on host 1.
    result = launch(script, *[arg.format(ckpt=ckpt) for arg in args], NUM_NODES='3', NODE_RANK='1',
                    MASTER_ADDR='192.0.2.1', MASTER_PORT='8125')
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'host 1 of 3: starting ranks 2..3 of 6' in result.stdout
    msrun_call = next(call for call in launch.calls if call.startswith('msrun')).split()
    for expected in ('--worker_num=6', '--local_worker_num=2', '--node_rank=1', '--master_addr=192.0.2.1',
                     '--master_port=8125', '--tail_worker_log=2'):
        assert expected in msrun_call
    logs = launch.output_dir / 'logs'
    assert not (logs / 'scheduler.log').exists()
    for rank in (2, 3):
        seen = record(logs / f'worker_{rank}.log')
        assert (seen['env']['RANK_ID'], seen['env']['MS_ROLE']) == (str(rank), 'MS_WORKER')
        assert seen['env']['MS_WORKER_NUM'] == '6'
        assert seen['env']['ZOO_LOCAL_WORKER_NUM'] == '2'


# --- GPU: the backend is checked before anything starts ---

@pytest.mark.parametrize('script, args', [('run_train_gpu.sh', []), ('run_eval_gpu.sh', ['{tmp}/eval', '{ckpt}']),
                                          ('run_distribute_train_gpu.sh', ['2']),
                                          ('run_distribute_eval.sh', ['GPU', '2', '{ckpt}'])])
def test_gpu_scripts_on_a_build_without_gpu_stop_with_the_build_to_install(launch, tmp_path, script, args):
    """This machine's MindSpore (the PyPI CPU wheel) has no GPU backend: the real check runs."""
    ckpt = tmp_path / 'net.ckpt'
    ckpt.write_bytes(b'')
    result = launch(script, *[arg.format(tmp=tmp_path, ckpt=ckpt) for arg in args], STUB_BACKENDS='')
    assert result.returncode == USAGE_EXIT_STATUS
    [line] = result.stderr.strip().splitlines()
    assert line.startswith('error: --device_target GPU: this MindSpore build has no GPU backend (it has: CPU)')
    assert 'no MindSpore release after 2.2.14 has an official GPU (CUDA) build (2.3.x: Ascend only' in line
    assert 'install 2.2.14' in line
    assert launch.calls == [] and not launch.output_dir.exists()


WRAPPERS = sorted(path for model in ('ResNeSt50', 'ResNeXt50') for path in (REPO_ROOT / model).glob('scripts/run_*.sh'))


def declared_usage(script_text):
    """(ARGUMENTS text, REQUIRED, OPTIONAL, OPTIONS) that a model folder's script declares."""
    arguments = re.search(r'^ARGUMENTS="([^"]*)"$', script_text, re.M).group(1)
    counts = re.search(r'^REQUIRED=(\d+) OPTIONAL=(\d+) OPTIONS=(\S+)$', script_text, re.M)
    return arguments, int(counts.group(1)), int(counts.group(2)), counts.group(3)


@pytest.mark.parametrize('script', WRAPPERS, ids=lambda path: f'{path.parent.parent.name}/{path.name}')
def test_each_wrapper_declares_the_counts_its_usage_shows(script):
    arguments, required, optional, options = declared_usage(script.read_text())
    words = arguments.split()
    takes_options = bool(words) and words[-3:] == ['[--key', 'value', '...]']
    positional = words[:-3] if takes_options else words
    assert (required, optional, options) == (sum(not word.startswith('[') for word in positional),
                                             sum(word.startswith('[') for word in positional),
                                             'options' if takes_options else 'no-options')


def test_a_usage_with_counts_that_are_not_counts_is_a_bug_reported_in_one_line(tmp_path):
    shell = 'set -euo pipefail; usage() { :; }; source "$1"; parse_script_args "A [B]" one 1 no-options x'
    result = subprocess.run(['bash', '-c', shell, 'bash', str(REPO_ROOT / 'utils' / 'scripts' / 'common.sh')],
                            capture_output=True, text=True)
    assert result.returncode != 0 and "REQUIRED and OPTIONAL must be counts, got 'one' and '1'" in result.stderr
