"""Interruption and resume: real processes of the real engine (a tiny network, `helpers/tiny_train.py`) are
killed, stopped by signals and resumed, on real files; the resumed run must be the uninterrupted one."""
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn
from mindspore.train import Model

from helpers import REPO_ROOT
from zoo_core.data.demo_data import generate
from zoo_core.engine.run_checkpoints import CheckpointWriter, checkpoint_name, checkpoint_position, run_checkpoints
from zoo_core.engine.graceful_stop import resume_command
from zoo_core.engine.monitor import keep_metrics_until
from zoo_core.engine.plot import read_metrics
from zoo_core.engine.resume import ResumePoint, restore_training_state, saved_global_step
from zoo_core.runtime.logging import get_logger
from zoo_core.weights.checkpoint import CheckpointError

TINY_TRAIN = REPO_ROOT / 'tests' / 'helpers' / 'tiny_train.py'
TRAIN_PER_CLASS, VAL_PER_CLASS = 6, 2   # 60 training images: 15 steps of 4 per epoch
EPOCHS, STEPS_PER_EPOCH = 3, 15
TOTAL_STEPS = EPOCHS * STEPS_PER_EPOCH
SAVE_EVERY = 4
RUN_FLAGS = ['--num_classes', '10', '--image_size', '32', '--batch_size', '4', '--epochs', str(EPOCHS),
             '--base_lr', '0.4', '--warmup_epochs', '1', '--log_every', '1', '--num_parallel_workers', '2',
             '--eval_batch_size', '10', '--deterministic', 'true', '--save_every_steps', str(SAVE_EVERY),
             '--keep_checkpoint_max', '3']
WEIGHT_TOLERANCE = 1e-5
RUN_TIMEOUT_S = 300
PROGRESS = re.compile(r'epoch (\d+)/(\d+) step (\d+)/(\d+) loss ([\d.]+) lr ([\d.]+) .* ETA (-?)')
TRAINING_STARTED = 'training tinynet for epochs'
# After the progress line of a random step, the kill waits up to this long: a step of the tiny network and
# its checkpoint write take 1-30 ms here, the last epoch's evaluation and the exit far longer.
KILL_DELAY_S = 0.03


# --- checkpoint files (fast) ------------------------------------------------------------------------

def test_checkpoint_names_give_the_epoch_and_the_step_within_it():
    assert checkpoint_name('resnest14d', 16, 8) == 'resnest14d-2_8.ckpt'
    assert checkpoint_name('resnest14d', 17, 8) == 'resnest14d-3_1.ckpt'
    assert checkpoint_position('resnest14d', 'resnest14d-3_1.ckpt') == (3, 1)
    assert checkpoint_position('resnest14d', 'resnest14d_1-3_1.ckpt') is None
    assert checkpoint_position('resnest14d', '.resnest14d-3_1.writing.ckpt') is None


def small_writer(directory, keep=3):
    return CheckpointWriter(str(directory), 'tiny', keep, get_logger())


def test_rotation_counts_the_folders_files_across_writers_and_keeps_the_newest(tmp_path):
    net = nn.Dense(3, 2)
    for step in (1, 2, 3):
        small_writer(tmp_path).save(net, step, 2)  # a new writer each time: a resumed process
    small_writer(tmp_path).save(net, 4, 2)
    names = [os.path.basename(p) for p in run_checkpoints(str(tmp_path), 'tiny')]
    assert names == ['tiny-1_2.ckpt', 'tiny-2_1.ckpt', 'tiny-2_2.ckpt']


def test_a_checkpoint_holds_its_position_and_crc(tmp_path):
    path = small_writer(tmp_path).save(nn.Dense(3, 2), 5, 2)
    params = ms.load_checkpoint(path, crc_check=True)
    assert [int(params[k].asnumpy()) for k in ('epoch_num', 'step_num', 'steps_per_epoch')] == [2, 5, 2]


def test_stale_partial_files_are_removed_when_a_writer_starts(tmp_path):
    for name in ('tiny-2_1.tmp', '.tiny-2_1.writing.ckpt', '.tiny-2_1.writing.tmp'):
        (tmp_path / name).write_bytes(b'partial')
    (tmp_path / 'tiny-1_2.ckpt').write_bytes(b'kept')
    small_writer(tmp_path)
    assert sorted(os.listdir(tmp_path)) == ['tiny-1_2.ckpt']


def test_the_metrics_log_keeps_one_row_per_completed_epoch(tmp_path):
    rows = [dict(epoch=e, loss=1.0, lr=0.1) for e in (1, 2, 3, 2, 3, 4)]
    (tmp_path / 'metrics.jsonl').write_text(''.join(json.dumps(r) + '\n' for r in rows))
    keep_metrics_until(str(tmp_path), 2)
    assert [r['epoch'] for r in read_metrics(str(tmp_path))] == [1, 2]


def test_the_plot_reads_one_row_per_epoch_in_order_from_an_old_repeated_log(tmp_path):
    rows = [dict(epoch=e, loss=float(i), lr=0.1) for i, e in enumerate((1, 2, 3, 2, 3))]
    (tmp_path / 'metrics.jsonl').write_text(''.join(json.dumps(r) + '\n' for r in rows))
    records = read_metrics(str(tmp_path))
    assert [r['epoch'] for r in records] == [1, 2, 3] and records[1]['loss'] == 3.0


def test_the_resume_command_continues_in_the_same_folder():
    command = resume_command(['train.py', '--epochs', '4', '--resume', 'x.ckpt', '--output_dir=o'], '/runs/a')
    assert command == 'python train.py --epochs 4 --output_dir /runs/a --resume auto'


def dense_training_network():
    net = nn.Dense(3, 2)
    model = Model(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction='mean'),
                  nn.Momentum(net.trainable_params(), 0.1, 0.9))
    return net, model.train_network


def test_resume_restores_every_state_parameter_by_name_and_leaves_the_lr_schedule_to_the_config(tmp_path):
    net, train_network = dense_training_network()
    state = {p.name: p for p in train_network.get_parameters()}
    state['moments.weight'].set_data(ms.Tensor(np.full((2, 3), 0.5, np.float32)))
    state['global_step'].set_data(ms.Tensor(np.array([4], np.int32)))
    path = small_writer(tmp_path).save(train_network, 4, 2)
    fresh_net, fresh_train = dense_training_network()
    point = ResumePoint(path, ms.load_checkpoint(path), 4)
    restore_training_state(point, fresh_train, fresh_net)
    restored = {p.name: p.asnumpy() for p in fresh_train.get_parameters()}
    np.testing.assert_array_equal(restored['moments.weight'], np.full((2, 3), 0.5, np.float32))
    np.testing.assert_array_equal(restored['weight'], net.weight.asnumpy())
    assert int(restored['global_step'][0]) == 4


def test_a_resume_with_another_epoch_length_moves_the_optimizer_step_to_the_position(tmp_path):
    _, train_network = dense_training_network()
    path = small_writer(tmp_path).save(train_network, 4, 2)  # the end of epoch 2 of 2 steps
    params = ms.load_checkpoint(path)
    step = saved_global_step(params, 3, path)  # now 3 steps per epoch
    fresh_net, fresh_train = dense_training_network()
    restore_training_state(ResumePoint(path, params, step), fresh_train, fresh_net)
    assert step == 6 and int(dict((p.name, p.asnumpy()) for p in fresh_train.get_parameters())['global_step'][0]) == 6


def test_a_checkpoint_without_the_optimizer_state_is_refused_with_the_missing_names(tmp_path):
    net, train_network = dense_training_network()
    path = str(tmp_path / 'weights.ckpt')
    ms.save_checkpoint(net, path, append_dict={'epoch_num': 1})
    fresh_net, fresh_train = dense_training_network()
    with pytest.raises(CheckpointError, match='lacks the training state global_step, moments.bias'):
        restore_training_state(ResumePoint(path, ms.load_checkpoint(path), 2), fresh_train, fresh_net)


KILLED_WRITER_KEEPS = 3
LAST_STEP = 10 ** 6  # beyond any step the killed writers reach
WRITE_LOOP = f"""
import sys
from mindspore import nn
from zoo_core.engine.run_checkpoints import CheckpointWriter
from zoo_core.runtime.logging import get_logger
net = nn.Dense(2048, 2048)  # 16 MB: a write takes tens of milliseconds, long enough to be hit
writer = CheckpointWriter(sys.argv[1], 'big', {KILLED_WRITER_KEEPS}, get_logger())
writer.save(net, 1, 5)  # one whole checkpoint before the kills, however slow a loaded machine makes it
print('writing', flush=True)
for step in range(2, {LAST_STEP}):
    writer.save(net, step, 5)
"""
KILLS = 3


@pytest.mark.slow
def test_a_writer_killed_at_random_moments_never_leaves_a_partial_file_under_a_checkpoint_name(tmp_path):
    chance = random.Random(int(os.environ.get('RESUME_KILL_SEED', random.SystemRandom().randrange(10 ** 6))))
    for _ in range(KILLS):
        process = subprocess.Popen([sys.executable, '-c', WRITE_LOOP, str(tmp_path)], stdout=subprocess.PIPE,
                                   text=True)
        while process.stdout.readline().strip() != 'writing':  # after the first save and the partial-file warnings
            assert process.poll() is None
        time.sleep(chance.uniform(0.2, 1.0))
        process.kill()
        process.wait(RUN_TIMEOUT_S)
        process.stdout.close()
        files = run_checkpoints(str(tmp_path), 'big')
        # One more than kept when the kill lands between a rename and the deletion of the oldest file.
        assert 1 <= len(files) <= KILLED_WRITER_KEEPS + 1
        for path in files:
            ms.load_checkpoint(path, crc_check=True)  # whole: a partial file fails its CRC or its parse
    writer = CheckpointWriter(str(tmp_path), 'big', KILLED_WRITER_KEEPS, get_logger())  # removes the partial files
    assert all(name.endswith('.ckpt') and not name.startswith('.') for name in os.listdir(tmp_path))
    left = len(run_checkpoints(str(tmp_path), 'big'))
    newest = writer.save(nn.Dense(3, 2), LAST_STEP, 5)  # and its first write deletes any one kept too many
    files = run_checkpoints(str(tmp_path), 'big')
    assert len(files) == min(left + 1, KILLED_WRITER_KEEPS) and files[-1] == newest


# --- end to end -------------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
    return generate(str(tmp_path_factory.mktemp('data') / 'shapes'), TRAIN_PER_CLASS, VAL_PER_CLASS)


def train_command(data_dir, output_dir, *extra):
    return [sys.executable, str(TINY_TRAIN), '--data_dir', str(data_dir), '--output_dir', str(output_dir),
            *RUN_FLAGS, *map(str, extra)]


def train(data_dir, output_dir, *extra, expect=0):
    result = subprocess.run(train_command(data_dir, output_dir, *extra), capture_output=True, text=True,
                            timeout=RUN_TIMEOUT_S, cwd=output_dir.parent)
    assert result.returncode == expect, result.stdout[-4000:] + result.stderr[-4000:]
    return result


def start(data_dir, output_dir, *extra):
    """A training process whose output goes to output_dir/../<name>.out (read while it runs)."""
    output_dir.mkdir(parents=True, exist_ok=True)
    log = open(output_dir.parent / f'{output_dir.name}.out', 'w')
    process = subprocess.Popen(train_command(data_dir, output_dir, *extra), stdout=log, stderr=subprocess.STDOUT,
                               text=True, cwd=output_dir.parent)
    log.close()
    return process


def output_of(output_dir):
    return (output_dir.parent / f'{output_dir.name}.out').read_text()


def wait_for(output_dir, text, process, timeout=RUN_TIMEOUT_S):
    deadline = time.monotonic() + timeout
    while text not in output_of(output_dir):
        assert process.poll() is None, output_of(output_dir)[-4000:]
        assert time.monotonic() < deadline, f'{text!r} not seen'
        time.sleep(0.02)


def final_weights(output_dir):
    [last] = [p for p in run_checkpoints(str(output_dir / 'checkpoints'), 'tinynet')
              if checkpoint_position('tinynet', os.path.basename(p)) == (EPOCHS, STEPS_PER_EPOCH)]
    return {k: v.asnumpy() for k, v in ms.load_checkpoint(last, crc_check=True).items()}


def step_records(output_dir):
    """(epoch, step) -> set of (lr, loss) logged, over every process that wrote the run's log."""
    records = {}
    for line in (output_dir / 'log_rank0.txt').read_text().splitlines():
        match = PROGRESS.search(line)
        if match:
            epoch, epochs, step, steps, loss, lr, negative_eta = match.groups()
            assert (int(epochs), int(steps), negative_eta) == (EPOCHS, STEPS_PER_EPOCH, ''), line
            records.setdefault((int(epoch), int(step)), set()).add((lr, loss))
    return records


def metrics_epochs(output_dir):
    return [json.loads(line)['epoch'] for line in (output_dir / 'metrics.jsonl').read_text().splitlines()]


def assert_same_run(resumed, uninterrupted):
    """Same weights (every parameter, optimizer state included), same global step, same lr and loss at every
    step, one metrics row per epoch, same best checkpoint."""
    expected, actual = final_weights(uninterrupted), final_weights(resumed)
    assert set(actual) == set(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(actual[name], value, rtol=0, atol=WEIGHT_TOLERANCE, err_msg=name)
    assert int(actual['step_num']) == TOTAL_STEPS
    steps = step_records(resumed)
    assert all(len(values) == 1 for values in steps.values()), {k: v for k, v in steps.items() if len(v) > 1}
    assert steps == step_records(uninterrupted)
    assert metrics_epochs(resumed) == list(range(1, EPOCHS + 1))
    best, expected_best = (json.loads((d / 'best.json').read_text()) for d in (resumed, uninterrupted))
    assert (best['epoch'], best['top1_correct']) == (expected_best['epoch'], expected_best['top1_correct'])


@pytest.fixture(scope='module')
def uninterrupted(data_dir, tmp_path_factory):
    """(output folder, its run's stdout) of the reference run."""
    output_dir = tmp_path_factory.mktemp('uninterrupted') / 'run'
    return output_dir, train(data_dir, output_dir).stdout


@pytest.mark.slow
def test_two_deterministic_runs_give_identical_weights(data_dir, uninterrupted, tmp_path):
    train(data_dir, tmp_path / 'again')
    first, second = final_weights(uninterrupted[0]), final_weights(tmp_path / 'again')
    for name, value in first.items():
        np.testing.assert_array_equal(second[name], value, err_msg=name)


@pytest.mark.slow
def test_a_run_killed_at_a_random_moment_and_resumed_ends_as_the_uninterrupted_one(data_dir, uninterrupted,
                                                                                tmp_path):
    reference, _ = uninterrupted
    seed = int(os.environ.get('RESUME_KILL_SEED', random.SystemRandom().randrange(10 ** 6)))
    chance = random.Random(seed)
    after_step = chance.randrange(0, TOTAL_STEPS - 1)  # the kill lands during the next step or its checkpoint
    delay = chance.uniform(0.0, KILL_DELAY_S)
    output_dir = tmp_path / 'killed'
    process = start(data_dir, output_dir)
    if after_step:
        epoch, step = divmod(after_step - 1, STEPS_PER_EPOCH)
        wait_for(output_dir, f'epoch {epoch + 1}/{EPOCHS} step {step + 1}/{STEPS_PER_EPOCH} ', process)
    else:
        wait_for(output_dir, TRAINING_STARTED, process)
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    assert process.wait(RUN_TIMEOUT_S) == -signal.SIGKILL, f'finished before the kill (seed {seed})'
    left = sorted(os.listdir(output_dir / 'checkpoints')) if (output_dir / 'checkpoints').is_dir() else []
    result = train(data_dir, output_dir, '--resume', 'auto')
    # Killed after its last checkpoint, the run is complete: its epoch-end rows and best files come first.
    assert any(text in result.stdout for text in ('resumed from', 'starting a new run', 'the run is complete')), \
        result.stdout[-2000:]
    try:
        assert_same_run(output_dir, reference)
    except AssertionError as error:
        raise AssertionError(f'kill seed {seed} ({delay * 1000:.0f} ms after step {after_step}), checkpoints left '
                             f'{left}: {error}') from None


@pytest.mark.slow
def test_rerunning_a_complete_run_with_resume_auto_changes_nothing_and_succeeds(data_dir, uninterrupted, tmp_path):
    reference, _ = uninterrupted
    output_dir = tmp_path / 'complete'
    shutil.copytree(reference, output_dir)
    before = {path.name: path.read_bytes() for path in (output_dir / 'checkpoints').glob('*.ckpt')}
    result = train(data_dir, output_dir, '--resume', 'auto')
    assert 'the run is complete' in result.stdout and 'nothing left to train' in result.stdout
    assert {path.name: path.read_bytes() for path in (output_dir / 'checkpoints').glob('*.ckpt')} == before
    assert_same_run(output_dir, reference)
    # A checkpoint named by the user, at the end of the run, is a mistake to point out.
    last = run_checkpoints(str(output_dir / 'checkpoints'), 'tinynet')[-1]
    refused = train(data_dir, tmp_path / 'other', '--resume', last, expect=2)
    assert refused.stderr.strip().startswith('error: ') and 'nothing to do for --epochs' in refused.stderr


@pytest.mark.slow
def test_a_truncated_newest_checkpoint_and_stale_partial_files_are_skipped(data_dir, uninterrupted, tmp_path):
    reference, _ = uninterrupted
    output_dir = tmp_path / 'truncated'
    shutil.copytree(reference, output_dir)
    folder = output_dir / 'checkpoints'
    files = run_checkpoints(str(folder), 'tinynet')
    for path in files[-2:]:  # the newest two: the end of the run and the last step checkpoint before it
        os.chmod(path, 0o600)
        with open(path, 'r+b') as handle:
            handle.truncate(os.path.getsize(path) // 2)
    (folder / 'tinynet-3_15.tmp').write_bytes(b'partial')
    (folder / '.tinynet-3_15.writing.ckpt').write_bytes(b'partial')
    keep_metrics_until(str(output_dir), 2)  # the state of a run killed before its last epoch ended
    result = train(data_dir, output_dir, '--resume', 'auto')
    assert result.stdout.count('skipping') == 2 and f'resumed from {files[-3]}' in result.stdout
    assert not list(folder.glob('*.tmp')) and not list(folder.glob('.*'))
    assert_same_run(output_dir, reference)


@pytest.mark.slow
@pytest.mark.parametrize('signum', [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_after_the_step_saves_and_says_how_to_resume(data_dir, uninterrupted, tmp_path, signum):
    reference, _ = uninterrupted
    output_dir = tmp_path / 'stopped'
    process = start(data_dir, output_dir)
    wait_for(output_dir, 'epoch 2/3 step 2/', process)
    process.send_signal(signum)
    # MindSpore's graph runs turn a SIGINT into a SIGTERM; zoo_core.runtime.sigint keeps it a SIGINT, except in
    # a graph run's first millisecond, and the tiny network's steps are about that short.
    statuses = (130, 143) if signum == signal.SIGINT else (143,)
    status = process.wait(RUN_TIMEOUT_S)
    assert status in statuses, output_of(output_dir)[-3000:]
    out = output_of(output_dir)
    assert f'received {signal.Signals(status - 128).name}: stopping after this step' in out
    command = re.search(r'to continue: (.*)', out).group(1)
    assert '--resume auto' in command and str(output_dir) in command
    stopped_at = int(re.search(r'stopped by a signal after global step (\d+)', out).group(1))
    assert STEPS_PER_EPOCH < stopped_at < TOTAL_STEPS
    saved = run_checkpoints(str(output_dir / 'checkpoints'), 'tinynet')[-1]
    assert os.path.basename(saved) == checkpoint_name('tinynet', stopped_at, STEPS_PER_EPOCH)
    assert metrics_epochs(output_dir) == [1]  # the interrupted epoch has no row
    result = train(data_dir, output_dir, '--resume', 'auto')
    assert f'global step {stopped_at})' in result.stdout
    assert_same_run(output_dir, reference)


@pytest.mark.slow
def test_a_resumed_run_keeps_a_better_best_checkpoint(data_dir, uninterrupted, tmp_path):
    reference, _ = uninterrupted
    output_dir = tmp_path / 'best'
    shutil.copytree(reference, output_dir)
    for path in run_checkpoints(str(output_dir / 'checkpoints'), 'tinynet')[1:]:
        os.remove(path)  # resume from the oldest kept checkpoint
    best = json.loads((output_dir / 'best.json').read_text())
    best.update(top1=1.0, epoch=1)  # a best score no resumed epoch can beat
    (output_dir / 'best.json').write_text(json.dumps(best))
    before = (output_dir / 'best.ckpt').read_bytes()
    result = train(data_dir, output_dir, '--resume', 'auto')
    assert 'new best' not in result.stdout
    assert (output_dir / 'best.ckpt').read_bytes() == before
    assert json.loads((output_dir / 'best.json').read_text())['top1'] == 1.0


@pytest.mark.slow
def test_checkpoints_after_an_explicit_resume_point_are_set_aside(data_dir, uninterrupted, tmp_path):
    reference, _ = uninterrupted
    output_dir = tmp_path / 'explicit'
    shutil.copytree(reference, output_dir)
    folder = output_dir / 'checkpoints'
    oldest, *later = run_checkpoints(str(folder), 'tinynet')
    train(data_dir, output_dir, '--resume', oldest)
    assert sorted(os.listdir(folder / 'abandoned')) == sorted(os.path.basename(p) for p in later)
    names = [os.path.basename(p) for p in run_checkpoints(str(folder), 'tinynet')]
    assert len(names) == 3 and names[-1] == checkpoint_name('tinynet', TOTAL_STEPS, STEPS_PER_EPOCH)
    assert metrics_epochs(output_dir) == list(range(1, EPOCHS + 1))


FULL_DISK_SCRIPT = '''
set -u
mount -t tmpfs -o size="$1" tmpfs "$2/checkpoints" || exit 77
shift 2
"$@" > "$OUT_LOG" 2>&1
echo $? > "$OUT_STATUS"
ls -a "$CHECKPOINTS" > "$OUT_LIST"
for f in "$CHECKPOINTS"/*.ckpt; do cp "$f" "$KEEP_DIR"/; done
'''


@pytest.mark.slow
def test_a_full_disk_stops_the_run_with_one_error_and_keeps_the_previous_checkpoints(data_dir, tmp_path):
    if shutil.which('unshare') is None:
        pytest.skip('unshare (util-linux) is needed to mount a small tmpfs')
    output_dir, keep_dir = tmp_path / 'full', tmp_path / 'kept'
    (output_dir / 'checkpoints').mkdir(parents=True)
    keep_dir.mkdir()
    checkpoint_bytes = 14500  # measured: a tinynet checkpoint with its optimizer state is 14365 bytes
    env = dict(os.environ, OUT_LOG=str(tmp_path / 'log'), OUT_STATUS=str(tmp_path / 'status'),
               OUT_LIST=str(tmp_path / 'list'), CHECKPOINTS=str(output_dir / 'checkpoints'), KEEP_DIR=str(keep_dir))
    command = train_command(data_dir, output_dir, '--keep_checkpoint_max', '10')
    result = subprocess.run(['unshare', '-rm', 'sh', '-c', FULL_DISK_SCRIPT, 'sh', str(4 * checkpoint_bytes),
                             str(output_dir), *command], env=env, capture_output=True, text=True,
                            timeout=RUN_TIMEOUT_S)
    if result.returncode == 77 or not (tmp_path / 'status').exists():
        pytest.skip(f'cannot mount a tmpfs in a user namespace here: {result.stderr[-500:]}')
    log = (tmp_path / 'log').read_text()
    assert (tmp_path / 'status').read_text().strip() == '1', log[-3000:]
    errors = [line for line in log.splitlines() if line.startswith('error:')]
    assert len(errors) == 1 and 'No space left on device' in errors[0], log[-3000:]
    assert 'Traceback' not in log
    listing = (tmp_path / 'list').read_text().split()
    assert not [name for name in listing if name.endswith('.tmp') or name.startswith('.t')], listing
    kept = sorted(keep_dir.iterdir())
    assert len(kept) >= 2
    for path in kept:
        ms.load_checkpoint(str(path), crc_check=True)


# --- a killed rank of a distributed run --------------------------------------------------------------

COMMON_SH = REPO_ROOT / 'utils' / 'scripts' / 'common.sh'
RANKS = 2
DIST_EPOCHS = 20
# Seconds the scheduler waits for a silent (killed) rank before it fails the job (MindSpore's default: 30).
NODE_TIMEOUT_S = 5
# The launcher must be gone this long after the kill: the node timeout, msrun's 1 s poll, the exits.
DIST_EXIT_BOUND_S = NODE_TIMEOUT_S + 25
LAUNCH_ENV_VARS = ('MS_ROLE', 'MS_NODE_ID', 'MS_WORKER_NUM', 'MS_SCHED_HOST', 'MS_SCHED_PORT', 'RANK_ID',
                   'RANK_SIZE', 'RANK_TABLE_FILE', 'MASTER_PORT')


def cluster_command(data_dir, output_dir):
    """2 ranks of tiny_train under msrun, through the launchers' own `run_cluster` (utils/scripts/common.sh)."""
    shell = 'set -euo pipefail; usage() { :; }; source "$1"; shift; run_cluster "$@"'
    flags = [f for f in train_command(data_dir, output_dir)[2:]]
    flags = [f if f != str(EPOCHS) else str(DIST_EPOCHS) for f in flags]
    return ['bash', '-c', shell, 'bash', str(COMMON_SH), 'msrun', str(RANKS), str(output_dir / 'logs'),
            str(TINY_TRAIN), *flags, '--eval_interval', '0', '--num_parallel_workers', '1', '--resume', 'auto']


def cluster_env():
    env = {k: v for k, v in os.environ.items() if k not in LAUNCH_ENV_VARS}
    env['PATH'] = os.path.dirname(sys.executable) + os.pathsep + env.get('PATH', '')
    return dict(env, CLUSTER_TIME_OUT='120', MS_NODE_TIMEOUT=str(NODE_TIMEOUT_S))


def descendants(pid):
    """Process ids of every descendant of `pid` (from /proc)."""
    found, queue = [], [pid]
    while queue:
        parent = queue.pop()
        for task in os.listdir(f'/proc/{parent}/task') if os.path.isdir(f'/proc/{parent}/task') else []:
            try:
                with open(f'/proc/{parent}/task/{task}/children') as handle:
                    children = [int(c) for c in handle.read().split()]
            except OSError:
                continue
            found += children
            queue += children
    return found


def worker_pid(launcher_pid, rank):
    """The pid of the msrun worker of `rank` under the launcher."""
    for pid in descendants(launcher_pid):
        try:
            with open(f'/proc/{pid}/environ', 'rb') as handle:
                env = dict(e.split(b'=', 1) for e in handle.read().split(b'\0') if b'=' in e)
        except OSError:
            continue
        if env.get(b'MS_ROLE') == b'MS_WORKER' and env.get(b'RANK_ID') == str(rank).encode():
            return pid
    return None


def alive(pid):
    try:
        with open(f'/proc/{pid}/stat') as handle:
            return handle.read().split()[2] != 'Z'
    except OSError:
        return False


def launch_until(data_dir, tmp_path, marker, poll_s):
    """(launcher process, output folder) of a 2-rank run started in `tmp_path` (its output in launch.out),
    once rank 1's log shows `marker`."""
    output_dir = tmp_path / 'dist'
    output_dir.mkdir()
    with open(tmp_path / 'launch.out', 'w') as log:
        launcher = subprocess.Popen(cluster_command(data_dir, output_dir), stdout=log, stderr=subprocess.STDOUT,
                                    env=cluster_env(), cwd=tmp_path)
    deadline = time.monotonic() + RUN_TIMEOUT_S
    rank1_log = output_dir / 'log_rank1.txt'
    while not (rank1_log.is_file() and marker in rank1_log.read_text()):
        assert launcher.poll() is None and time.monotonic() < deadline, (tmp_path / 'launch.out').read_text()[-3000:]
        time.sleep(poll_s)
    return launcher, output_dir


@pytest.mark.slow
def test_a_killed_rank_stops_every_rank_names_it_and_a_relaunch_continues(data_dir, tmp_path):
    launcher, output_dir = launch_until(data_dir, tmp_path, f'epoch 3/{DIST_EPOCHS}', 0.05)
    victim = worker_pid(launcher.pid, 1)
    others = [p for p in descendants(launcher.pid) if p != victim]
    assert victim is not None
    os.kill(victim, signal.SIGKILL)
    killed_at = time.monotonic()
    status = launcher.wait(DIST_EXIT_BOUND_S + 60)
    seconds = time.monotonic() - killed_at
    out = (tmp_path / 'launch.out').read_text()
    assert status != 0 and seconds < DIST_EXIT_BOUND_S, (seconds, out[-3000:])
    assert f'error: rank 1 (process {victim}) failed first: killed by signal SIGKILL' in out, out[-3000:]
    time.sleep(1)
    assert not [p for p in others if alive(p)]

    relaunch = subprocess.run(cluster_command(data_dir, output_dir), capture_output=True, text=True,
                              env=cluster_env(), cwd=tmp_path, timeout=RUN_TIMEOUT_S)
    assert relaunch.returncode == 0, relaunch.stdout[-3000:] + relaunch.stderr[-3000:]
    log = (output_dir / 'log_rank1.txt').read_text()
    assert 'resumed from' in log
    assert metrics_epochs(output_dir) == list(range(1, DIST_EPOCHS + 1))
    names = [os.path.basename(p) for p in run_checkpoints(str(output_dir / 'checkpoints'), 'tinynet')]
    assert names[-1] == f'tinynet-{DIST_EPOCHS}_7.ckpt'


@pytest.mark.slow
def test_sigterm_to_one_rank_stops_every_rank_after_the_same_step_and_rank_0_saves(data_dir, tmp_path):
    launcher, output_dir = launch_until(data_dir, tmp_path, f'epoch 3/{DIST_EPOCHS} step 2/', 0.02)
    os.kill(worker_pid(launcher.pid, 1), signal.SIGTERM)
    launcher.wait(RUN_TIMEOUT_S)
    stops = [re.search(r'stopped by a signal after global step (\d+)(; saved (\S+))?',
                       (output_dir / f'log_rank{rank}.txt').read_text()) for rank in range(RANKS)]
    assert all(stops), (tmp_path / 'launch.out').read_text()[-3000:]
    assert stops[0].group(1) == stops[1].group(1)
    saved = stops[0].group(3).rstrip(';')
    assert os.path.basename(saved) == checkpoint_name('tinynet', int(stops[0].group(1)), 7)
    ms.load_checkpoint(saved, crc_check=True)
    relaunch = subprocess.run(cluster_command(data_dir, output_dir), capture_output=True, text=True,
                              env=cluster_env(), cwd=tmp_path, timeout=RUN_TIMEOUT_S)
    assert relaunch.returncode == 0, relaunch.stdout[-3000:] + relaunch.stderr[-3000:]
    assert f'(global step {stops[0].group(1)})' in (output_dir / 'log_rank1.txt').read_text()
