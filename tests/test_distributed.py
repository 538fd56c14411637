"""Distributed training and evaluation on the CPU with 2 processes on this host, end to end.

The slow tests start real clusters: the model folder's launchers (msrun), or the launchers' own
`run_cluster` (utils/scripts/common.sh) with the probe `tests/helpers/dist_probe.py`, on a tiny ImageFolder
dataset written here (3 classes, 32x32 crops, 16 training and 7 validation images: an odd count, so
that the two ranks get unequal shares and partial batches).
"""
import json
import os
import shutil
import subprocess
import sys
import time

import mindspore as ms
import numpy as np
import pytest
from PIL import Image

from helpers import REPO_ROOT, run_script, script_command
from helpers.loopback_hosts import (HOST0_MASTER_ADDR, HOST1_MASTER_ADDR, TcpRelay, descendants, free_port,
                                    kill_host)
from zoo_core.runtime.distributed import cpu_threads_per_process, local_process_count

RANKS = 2
NUM_CLASSES = 3
TRAIN_IMAGES = 16             # 8 per rank: 2 steps of batch 4
VAL_IMAGES = 7
STORED_IMAGE_SIZE = 40
IMAGE_SIZE = 32
CLASS_COLOURS = np.array([(200, 40, 40), (40, 200, 40), (40, 40, 200)])
MODEL_DIR = REPO_ROOT / 'ResNeSt50'
PROBE = REPO_ROOT / 'tests' / 'helpers' / 'dist_probe.py'
COMMON_SH = REPO_ROOT / 'utils' / 'scripts' / 'common.sh'
RUN_TIMEOUT_SECONDS = 300
# Seconds the scheduler waits for a silent (killed) worker before failing the job; MindSpore's default
# makes a failed launch wait about 30 s more.
FAILED_NODE_TIMEOUT = '5'
NET_FLAGS = ['--net', 'resnest14d', '--num_classes', str(NUM_CLASSES), '--image_size', str(IMAGE_SIZE),
             '--eval_batch_size', '2', '--num_parallel_workers', '1']
TRAIN_FLAGS = NET_FLAGS + ['--epochs', '1', '--batch_size', '4', '--warmup_epochs', '0', '--mixup', '0',
                           '--autoaugment', 'none', '--log_every', '1']
# Variables of a distributed launch that must not leak from the shell running the tests into a run.
LAUNCH_ENV_VARS = ('MS_ROLE', 'MS_NODE_ID', 'MS_WORKER_NUM', 'MS_SCHED_HOST', 'MS_SCHED_PORT', 'RANK_ID',
                   'RANK_SIZE', 'RANK_TABLE_FILE', 'MASTER_PORT', 'OUTPUT_DIR', 'NUM_NODES', 'NODE_RANK',
                   'MASTER_ADDR', 'ZOO_LOCAL_WORKER_NUM')
SGD_PER_RANK_BATCH = 4
SGD_TOLERANCE = 1e-5
SGD_MIN_UPDATE = 1e-2
ACCUMULATE_STEPS = 2


def run_env(**extra):
    """The environment of a launched run: this interpreter's tools first on the PATH, no launch variables."""
    env = {k: v for k, v in os.environ.items() if k not in LAUNCH_ENV_VARS}
    env['PATH'] = os.path.dirname(sys.executable) + os.pathsep + env.get('PATH', '')
    env.setdefault('CLUSTER_TIME_OUT', '120')
    env.update(extra)
    return env


def run(command, cwd, **extra_env):
    """Run `command`, stdout and stderr together in the result's `.stdout`."""
    return run_script(*command, cwd=cwd, env=run_env(**extra_env), merge_output=True, timeout=RUN_TIMEOUT_SECONDS)


def run_cluster(launcher, log_dir, script, *args, **extra_env):
    """`python script args` as 2 processes of one cluster, through the launchers' own `run_cluster`."""
    shell = 'set -euo pipefail; usage() { :; }; source "$1"; shift; run_cluster "$@"'
    return run(['bash', '-c', shell, 'bash', COMMON_SH, launcher, RANKS, log_dir, script, *args],
               cwd=log_dir.parent, **extra_env)


HOSTS = 2
MASTER_ADDRS = (HOST0_MASTER_ADDR, HOST1_MASTER_ADDR)  # what each "host" is told host 0's address is


class HostRun:
    """One host's launcher of a multi-host run, in the background: `wait()` -> (exit status, output)."""

    def __init__(self, command, cwd, env, log_path):
        self.log_path = log_path
        with open(log_path, 'w', encoding='utf-8') as log:
            self.process = subprocess.Popen(script_command(*command), cwd=cwd, env=env, stdout=log,
                                            stderr=subprocess.STDOUT, text=True)

    def wait(self, timeout=RUN_TIMEOUT_SECONDS):
        status = self.process.wait(timeout=timeout)
        return status, self.log_path.read_text(encoding='utf-8')


def host_folders(folder):
    """One output folder per "host", created: hosts without shared storage write apart."""
    folders = [folder / f'host{node_rank}' for node_rank in range(HOSTS)]
    for host_folder in folders:
        host_folder.mkdir(parents=True, exist_ok=True)
    return folders


def start_hosts(command_of_host, folder, **extra_env):
    """Start `command_of_host(node_rank) -> command` on each of the `HOSTS` loopback "hosts", in its folder
    `folder/host<node_rank>` (also its OUTPUT_DIR), with NUM_NODES, NODE_RANK, MASTER_ADDR and MASTER_PORT
    set; returns (relay, [HostRun per host])."""
    port = free_port()
    relay = TcpRelay(port)
    runs = []
    for node_rank, host_folder in enumerate(host_folders(folder)):
        env = run_env(NUM_NODES=str(HOSTS), NODE_RANK=str(node_rank), MASTER_ADDR=MASTER_ADDRS[node_rank],
                      MASTER_PORT=str(port), OUTPUT_DIR=str(host_folder), **extra_env)
        command, cwd = command_of_host(node_rank), host_folder
        runs.append(HostRun(command, cwd, env, folder / f'host{node_rank}.out'))
    return relay, runs


def run_on_hosts(command_of_host, folder, **extra_env):
    """`start_hosts`, then wait for every host: [(exit status, output) per host]; the hosts' folders are
    `folder/host<node_rank>`."""
    relay, runs = start_hosts(command_of_host, folder, **extra_env)
    try:
        return [run.wait() for run in runs]
    finally:
        relay.close()


def assert_hosts_succeeded(results):
    for node_rank, (status, output) in enumerate(results):
        assert status == 0, f'host {node_rank}:\n{output[-6000:]}'


def cluster_command(launcher, count, log_dir, script, *args):
    """The command of `python script args` as `count` processes of this host, through the launchers' own
    `run_cluster` (which reads the hosts from the environment)."""
    shell = 'set -euo pipefail; usage() { :; }; source "$1"; shift; run_cluster "$@"'
    return ['bash', '-c', shell, 'bash', COMMON_SH, launcher, count, log_dir, script, *args]


def assert_succeeded(result):
    assert result.returncode == 0, result.stdout[-6000:]


def write_image_folder(root):
    """root/train and root/val with one colour per class over noise, as PNGs."""
    rng = np.random.default_rng(0)
    for split, count in (('train', TRAIN_IMAGES), ('val', VAL_IMAGES)):
        for index in range(count):
            label = index % NUM_CLASSES
            folder = root / split / f'class{label}'
            folder.mkdir(parents=True, exist_ok=True)
            noise = rng.integers(0, 90, (STORED_IMAGE_SIZE, STORED_IMAGE_SIZE, 3))
            pixels = np.clip(CLASS_COLOURS[label] * 0.6 + noise, 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f'{index}.png')
    return root


def load_parameters(path):
    """({name: array}, trainable names) of a probe's .npz."""
    with np.load(path) as arrays:
        params = {name: arrays[name] for name in arrays.files if not name.startswith('__')}
        return params, list(arrays['__trainable__'])


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
    return write_image_folder(tmp_path_factory.mktemp('data'))


@pytest.fixture(scope='module')
def distributed_training(tmp_path_factory, data_dir):
    """(result, output folder) of the model folder's run_distribute_train_cpu.sh with 2 processes."""
    output = tmp_path_factory.mktemp('distribute_train')
    result = run(['bash', MODEL_DIR / 'scripts' / 'run_distribute_train_cpu.sh', RANKS, data_dir, *TRAIN_FLAGS],
                 cwd=output, OUTPUT_DIR=str(output))
    return result, output


# --- the thread share of each rank (fast) ---------------------------------------------------------------

def test_each_local_rank_gets_its_share_of_the_cores():
    cores = len(os.sched_getaffinity(0))
    assert cpu_threads_per_process(1) == cores
    assert cpu_threads_per_process(2) == max(1, cores // 2)
    assert cpu_threads_per_process(4 * cores) == 1


def test_local_process_count_comes_from_the_launcher(monkeypatch):
    for name in LAUNCH_ENV_VARS + ('OMPI_COMM_WORLD_LOCAL_SIZE',):
        monkeypatch.delenv(name, raising=False)
    assert local_process_count() == 1
    monkeypatch.setenv('MS_ROLE', 'MS_WORKER')
    monkeypatch.setenv('MS_WORKER_NUM', '4')
    assert local_process_count() == 4
    monkeypatch.setenv('OMPI_COMM_WORLD_LOCAL_SIZE', '2')  # mpirun over two hosts: 2 of the 4 here
    assert local_process_count() == 2


# --- training -------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_two_rank_training_script_runs_to_the_end_and_saves_checkpoints(distributed_training):
    result, output = distributed_training
    assert_succeeded(result)
    assert 'all 2 processes finished' in result.stdout
    assert list((output / 'checkpoints').glob('resnest14d-1_*.ckpt'))
    assert (output / 'best.ckpt').is_file()
    best = json.loads((output / 'best.json').read_text())
    assert best['total'] == VAL_IMAGES
    for rank in range(RANKS):
        assert 'epoch 1 validation' in (output / f'log_rank{rank}.txt').read_text()
        assert (output / 'logs' / f'worker_{rank}.log').is_file()


@pytest.mark.slow
def test_two_deterministic_two_rank_runs_and_a_resumed_one_end_with_bit_equal_weights(tmp_path, data_dir):
    """ResNeSt's recipe as shipped (AutoAugment, mixup 0.2, dropout 0.2), two ranks, run twice, and a third
    time resumed from the first run's checkpoint in the middle of epoch 2: every rank must see the same
    augmentation stream (and noise) after the resume as without it."""
    deterministic = [*NET_FLAGS, '--epochs', '2', '--batch_size', '4', '--deterministic', 'true', '--seed', '5',
                     '--save_every_steps', '1']
    mid_epoch = tmp_path / 'first' / 'checkpoints' / 'resnest14d-2_1.ckpt'  # global step 3 of 4
    finals = []
    for attempt, extra in (('first', ()), ('second', ()), ('resumed', ('--resume', mid_epoch))):
        output = tmp_path / attempt
        result = run(['bash', MODEL_DIR / 'scripts' / 'run_distribute_train_cpu.sh', RANKS, data_dir, *deterministic,
                      *extra], cwd=tmp_path, OUTPUT_DIR=str(output))
        assert_succeeded(result)
        if extra:
            for rank in range(RANKS):
                log = (output / f'log_rank{rank}.txt').read_text()
                assert f'resumed from {mid_epoch}' in log and '(global step 3)' in log, log[-3000:]
        checkpoint = output / 'checkpoints' / 'resnest14d-2_2.ckpt'
        finals.append({k: v.asnumpy() for k, v in ms.load_checkpoint(str(checkpoint)).items()})
    for attempt, final in zip(('second', 'resumed'), finals[1:]):
        assert final.keys() == finals[0].keys()
        differing = [name for name in finals[0] if not np.array_equal(finals[0][name], final[name])]
        assert not differing, (attempt, differing[:5])


@pytest.mark.slow
def test_ranks_hold_identical_parameters_after_engine_training(tmp_path, data_dir):
    output = tmp_path / 'engine'
    output.mkdir()
    result = run_cluster('msrun', output / 'logs', PROBE, 'engine', output, '--device_target', 'CPU',
                         '--data_dir', data_dir, '--output_dir', output, *TRAIN_FLAGS, '--eval_interval', '0')
    assert_succeeded(result)
    rank0, trainable = load_parameters(output / 'engine_rank0_of2.npz')
    rank1, _ = load_parameters(output / 'engine_rank1_of2.npz')
    assert trainable and set(rank0) == set(rank1)
    for name in trainable:
        np.testing.assert_array_equal(rank0[name], rank1[name], err_msg=name)
    # BN running statistics are each rank's own (no SyncBN): they must differ, or the shards were the same.
    moving = [name for name in rank0 if name.endswith('moving_mean')]
    assert moving and any(not np.array_equal(rank0[n], rank1[n]) for n in moving)


@pytest.fixture(scope='module')
def sgd_run(tmp_path_factory):
    """Function of a launcher (msrun, mpirun, or None for one process) -> the probe's `sgd` output folder,
    each run once: 2 ranks of batch B, or 1 process of batch 2B."""
    folders = {}

    def run_with(launcher):
        if launcher not in folders:
            folder = tmp_path_factory.mktemp(f'sgd_{launcher or "single"}')
            if launcher is None:
                result = run([sys.executable, PROBE, 'sgd', folder, '--per_rank_batch', RANKS * SGD_PER_RANK_BATCH],
                             cwd=folder)
            elif shutil.which(launcher, path=run_env()['PATH']) is None:
                pytest.skip(f'{launcher} is not installed')
            else:
                result = run_cluster(launcher, folder / 'logs', PROBE, 'sgd', folder,
                                     '--per_rank_batch', SGD_PER_RANK_BATCH)
            assert_succeeded(result)
            folders[launcher] = folder
        return folders[launcher]
    return run_with


@pytest.mark.slow
@pytest.mark.parametrize('launcher', ['msrun', 'mpirun'])
def test_two_ranks_of_batch_b_train_like_one_process_of_batch_2b(sgd_run, launcher):
    """Gradients are averaged over the ranks: summed they would double each update, ignored they would
    leave the ranks apart and away from the single process."""
    single, trainable = load_parameters(sgd_run(None) / 'sgd_rank0_of1.npz')
    initial, _ = load_parameters(sgd_run(None) / 'sgd_initial.npz')
    for name in trainable:
        assert np.abs(single[name] - initial[name]).max() > SGD_MIN_UPDATE, f'{name} did not train'
    for rank in range(RANKS):
        ranked, _ = load_parameters(sgd_run(launcher) / f'sgd_rank{rank}_of2.npz')
        for name in trainable:
            np.testing.assert_allclose(ranked[name], single[name], rtol=0, atol=SGD_TOLERANCE,
                                       err_msg=f'{name} of rank {rank} ({launcher})')


@pytest.mark.slow
def test_two_ranks_accumulating_k_micro_batches_of_b_train_like_one_process_of_batch_2kb(sgd_run, tmp_path):
    """Accumulated gradients are summed over the window, averaged over the ranks once per update."""
    single, trainable = load_parameters(sgd_run(None) / 'sgd_rank0_of1.npz')
    micro = RANKS * SGD_PER_RANK_BATCH // (RANKS * ACCUMULATE_STEPS)
    result = run_cluster('msrun', tmp_path / 'logs', PROBE, 'accum', tmp_path, '--per_rank_batch', micro,
                         '--accumulate_steps', ACCUMULATE_STEPS)
    assert_succeeded(result)
    for rank in range(RANKS):
        ranked, _ = load_parameters(tmp_path / f'accum_rank{rank}_of2.npz')
        for name in trainable:
            np.testing.assert_allclose(ranked[name], single[name], rtol=0, atol=SGD_TOLERANCE,
                                       err_msg=f'{name} of rank {rank}')


@pytest.mark.slow
def test_only_distributed_ranks_limit_their_cpu_threads(sgd_run):
    with np.load(sgd_run(None) / 'sgd_rank0_of1.npz') as arrays:
        assert not bool(arrays['__threads_configured__'])
    for rank in range(RANKS):
        with np.load(sgd_run('msrun') / f'sgd_rank{rank}_of2.npz') as arrays:
            assert bool(arrays['__threads_configured__'])


# --- evaluation -----------------------------------------------------------------------------------------

@pytest.mark.slow
def test_two_rank_evaluation_counts_equal_single_process_evaluation(tmp_path, data_dir, distributed_training):
    result, training_output = distributed_training
    assert_succeeded(result)
    checkpoint = training_output / 'best.ckpt'
    distributed_dir, single_dir = tmp_path / 'distributed', tmp_path / 'single'
    assert_succeeded(run(['bash', MODEL_DIR / 'scripts' / 'run_distribute_eval.sh', 'CPU', RANKS, checkpoint,
                          data_dir, *NET_FLAGS], cwd=tmp_path, OUTPUT_DIR=str(distributed_dir)))
    assert_succeeded(run([sys.executable, MODEL_DIR / 'eval.py', '--ckpt_path', checkpoint, '--data_dir', data_dir,
                          '--output_dir', single_dir, *NET_FLAGS], cwd=tmp_path))

    [distributed] = json.loads((distributed_dir / 'eval_result.json').read_text())
    [single] = json.loads((single_dir / 'eval_result.json').read_text())
    assert (distributed['ranks'], single['ranks']) == (RANKS, 1)
    counts = ('top1_correct', 'top5_correct', 'total')
    assert {k: distributed[k] for k in counts} == {k: single[k] for k in counts}
    assert distributed['total'] == VAL_IMAGES


# --- failure --------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_failing_rank_fails_the_launch_with_its_error_shown(tmp_path, data_dir):
    flags = [f if f != 'resnest14d' else 'no_such_net' for f in TRAIN_FLAGS]
    result = run(['bash', MODEL_DIR / 'scripts' / 'run_distribute_train_cpu.sh', RANKS, data_dir, *flags],
                 cwd=tmp_path, OUTPUT_DIR=str(tmp_path / 'out'), MS_NODE_TIMEOUT=FAILED_NODE_TIMEOUT)
    assert result.returncode != 0
    assert "unknown ResNeSt network 'no_such_net'" in result.stdout
    assert 'msrun run failed' in result.stdout



# --- several hosts: two msrun launches on this machine, one rank each (tests/helpers/loopback_hosts.py) ---

@pytest.fixture(scope='module')
def two_host_training(tmp_path_factory, data_dir):
    """([(status, output) per host], [output folder per host]) of the model folder's
    run_distribute_train_cpu.sh with 1 process on each of 2 hosts, each host writing its own folder."""
    folder = tmp_path_factory.mktemp('two_host_train')
    results = run_on_hosts(lambda node_rank: ['bash', MODEL_DIR / 'scripts' / 'run_distribute_train_cpu.sh', 1,
                                              data_dir, *TRAIN_FLAGS], folder)
    return results, host_folders(folder)


@pytest.mark.slow
def test_two_host_training_script_keeps_rank_0_files_on_host_0_and_each_rank_log_on_its_host(two_host_training):
    results, (host0, host1) = two_host_training
    assert_hosts_succeeded(results)
    assert 'host 0 of 2: starting ranks 0..0 of 2' in results[0][1]
    assert 'host 1 of 2: starting ranks 1..1 of 2' in results[1][1]
    assert 'all 1 processes of host 1 finished' in results[1][1]
    assert list((host0 / 'checkpoints').glob('resnest14d-1_*.ckpt'))
    assert json.loads((host0 / 'best.json').read_text())['total'] == VAL_IMAGES
    assert (host0 / 'config.yaml').is_file()
    assert (host0 / 'logs' / 'scheduler.log').is_file() and (host0 / 'logs' / 'worker_0.log').is_file()
    assert 'rank 0 of 2' in (host0 / 'log_rank0.txt').read_text()
    # Host 1 runs rank 1 only: its log, its worker log, no scheduler and none of rank 0's files.
    assert 'rank 1 of 2' in (host1 / 'log_rank1.txt').read_text()
    assert 'epoch 1 validation' in (host1 / 'log_rank1.txt').read_text()
    assert (host1 / 'logs' / 'worker_1.log').is_file()
    assert not (host1 / 'logs' / 'scheduler.log').exists()
    for rank_0_only in ('checkpoints', 'best.ckpt', 'config.yaml', 'log_rank0.txt'):
        assert not (host1 / rank_0_only).exists(), rank_0_only


@pytest.mark.slow
def test_two_hosts_of_one_rank_train_like_one_process_of_the_global_batch(tmp_path, sgd_run):
    results = run_on_hosts(lambda node_rank: cluster_command('msrun', 1, tmp_path / f'host{node_rank}' / 'logs',
                                                             PROBE, 'sgd', tmp_path / f'host{node_rank}',
                                                             '--per_rank_batch', SGD_PER_RANK_BATCH), tmp_path)
    assert_hosts_succeeded(results)
    single, trainable = load_parameters(sgd_run(None) / 'sgd_rank0_of1.npz')
    for rank in range(HOSTS):
        ranked, _ = load_parameters(tmp_path / f'host{rank}' / f'sgd_rank{rank}_of2.npz')
        for name in trainable:
            np.testing.assert_allclose(ranked[name], single[name], rtol=0, atol=SGD_TOLERANCE,
                                       err_msg=f'{name} of rank {rank} (host {rank})')


@pytest.mark.slow
def test_two_host_engine_training_leaves_identical_trainable_parameters(tmp_path, data_dir):
    def command(node_rank):
        host = tmp_path / f'host{node_rank}'
        return cluster_command('msrun', 1, host / 'logs', PROBE, 'engine', host, '--device_target', 'CPU',
                               '--data_dir', data_dir, '--output_dir', host, *TRAIN_FLAGS, '--eval_interval', '0')

    assert_hosts_succeeded(run_on_hosts(command, tmp_path))
    rank0, trainable = load_parameters(tmp_path / 'host0' / 'engine_rank0_of2.npz')
    rank1, _ = load_parameters(tmp_path / 'host1' / 'engine_rank1_of2.npz')
    assert trainable and set(rank0) == set(rank1)
    for name in trainable:
        np.testing.assert_array_equal(rank0[name], rank1[name], err_msg=name)
    moving = [name for name in rank0 if name.endswith('moving_mean')]
    assert moving and any(not np.array_equal(rank0[n], rank1[n]) for n in moving)


@pytest.mark.slow
def test_two_host_evaluation_counts_every_image_once(tmp_path, data_dir, two_host_training):
    results, (host0, _) = two_host_training
    assert_hosts_succeeded(results)
    checkpoint = host0 / 'best.ckpt'
    results = run_on_hosts(lambda node_rank: ['bash', MODEL_DIR / 'scripts' / 'run_distribute_eval.sh', 'CPU', 1,
                                              checkpoint, data_dir, *NET_FLAGS], tmp_path / 'eval')
    assert_hosts_succeeded(results)
    single_dir = tmp_path / 'single'
    assert_succeeded(run([sys.executable, MODEL_DIR / 'eval.py', '--ckpt_path', checkpoint, '--data_dir', data_dir,
                          '--output_dir', single_dir, *NET_FLAGS], cwd=tmp_path))
    [distributed] = json.loads((tmp_path / 'eval' / 'host0' / 'eval_result.json').read_text())
    [single] = json.loads((single_dir / 'eval_result.json').read_text())
    counts = ('top1_correct', 'top5_correct', 'total')
    assert distributed['ranks'] == HOSTS
    assert {k: distributed[k] for k in counts} == {k: single[k] for k in counts}
    assert distributed['total'] == VAL_IMAGES
    assert not (tmp_path / 'eval' / 'host1' / 'eval_result.json').exists()


# Seconds host 0's launch may take to end once host 1 is gone (the scheduler's heartbeat timeout,
# MS_NODE_TIMEOUT, here FAILED_NODE_TIMEOUT, then the survivor's reconnection attempts); see docs/DISTRIBUTED.md.
HOST_DEATH_EXIT_LIMIT = 240
TRAINING_STARTED = 'epoch 1/'


def with_flag(flags, key, value):
    """`flags` with option `key` set to `value`."""
    position = flags.index(key)
    return flags[:position + 1] + [value] + flags[position + 2:]


def alive(pids):
    """The processes of `pids` that still run (zombies count as ended)."""
    running = []
    for pid in pids:
        try:
            with open(f'/proc/{pid}/stat', encoding='ascii') as handle:
                if handle.read().rsplit(')', 1)[1].split()[0] != 'Z':
                    running.append(pid)
        except FileNotFoundError:
            pass
    return running


def wait_for_text(path, text, timeout):
    """Wait until file `path` contains `text`; False after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(encoding='utf-8', errors='replace'):
            return True
        time.sleep(0.5)
    return False


@pytest.mark.slow
def test_when_a_host_dies_the_other_host_stops_with_an_error(tmp_path, data_dir):
    flags = with_flag(TRAIN_FLAGS, '--epochs', '1000')
    relay, (host0, host1) = start_hosts(
        lambda node_rank: ['bash', MODEL_DIR / 'scripts' / 'run_distribute_train_cpu.sh', 1, data_dir, *flags,
                           '--eval_interval', '0'], tmp_path, MS_NODE_TIMEOUT=FAILED_NODE_TIMEOUT)
    try:
        assert wait_for_text(tmp_path / 'host1' / 'log_rank1.txt', TRAINING_STARTED, RUN_TIMEOUT_SECONDS), \
            host1.log_path.read_text()
        host0_processes = descendants(host0.process.pid)
        killed_at = time.monotonic()
        kill_host(host1.process.pid)
        status, output = host0.wait(timeout=HOST_DEATH_EXIT_LIMIT + 60)
        seconds = time.monotonic() - killed_at
    finally:
        relay.close()
        for run_ in (host0, host1):
            if run_.process.poll() is None:
                kill_host(run_.process.pid)
    print(f'host 0 ended {seconds:.1f} s after host 1 was killed, exit status {status}')
    print(output[-3000:])
    assert status != 0
    assert 'msrun run failed' in output
    assert 'worker 1 is the first one timed out' in output  # the scheduler's diagnosis, shown by msrun
    assert seconds < HOST_DEATH_EXIT_LIMIT
    time.sleep(1)
    assert alive(host0_processes) == []
