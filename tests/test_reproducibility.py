"""`--deterministic true` on the shipped recipes, real networks, real processes: the same command gives
bit-equal weights however loaded the machine is, and a run killed at a random moment and resumed ends
bit-equal to the uninterrupted one (docs/REPRODUCIBILITY.md).

Only the network (each family's smallest variant), the image size, the epochs and the batch are reduced;
every augmentation and regulariser of the recipe stays on: ResNeSt's AutoAugment, mixup 0.2 and dropout 0.2;
mindcv's RandAugment with magnitude noise, mixup + CutMix, random erasing and dropout; ResNeXt's crop,
flip and colour jitter. Two pipeline workers ('auto' on 2 cores), evaluation every epoch, a checkpoint
every few steps.
"""
import contextlib
import os
import random
import signal
import subprocess
import sys
import time

import mindspore as ms
import numpy as np
import pytest

from helpers import REPO_ROOT, script_command
from helpers.synthetic_photos import write_photo_dataset

CLASS_TINTS = ((0.9, 0.2, 0.1), (0.1, 0.2, 0.9))
TRAIN_PER_CLASS, VAL_PER_CLASS = 12, 4
BATCH_SIZE, EPOCHS, SAVE_EVERY = 4, 3, 2
STEPS_PER_EPOCH = len(CLASS_TINTS) * TRAIN_PER_CLASS // BATCH_SIZE
TOTAL_STEPS = EPOCHS * STEPS_PER_EPOCH
RUN_TIMEOUT_S = 900
# (id, model folder, network, recipe flags): each family's default recipe, and mindcv's ResNeSt recipe
# (its Ascend device settings replaced by the CPU's: the only keys changed besides the reduced ones).
RECIPES = [
    ('resnest', 'ResNeSt50', 'resnest14d', ()),
    ('resnext', 'ResNeXt50', 'resnext50_32x4d', ()),
    ('resnest-mindcv', 'ResNeSt50', 'resnest14d',
     ('--config', 'resnest50_mindcv_ascend', '--device_target', 'CPU', '--dataset_sink_mode', 'auto',
      '--num_parallel_workers', 'auto', '--keep_checkpoint_max', '5')),
]
# One process spinning on the CPU beside the third run: the load under which the dropout's old per-thread
# noise made runs differ (docs/REPRODUCIBILITY.md); on 2 cores it already leaves the run less than one core.
CPU_HOGS = 1
# The newest checkpoint is all a comparison or a resume needs; more would fill the disk (11 runs, up to 200 MB each).
KEPT_CHECKPOINTS = 1


@pytest.fixture(scope='module')
def photo_dataset(tmp_path_factory):
    return write_photo_dataset(tmp_path_factory.mktemp('photos'), CLASS_TINTS, TRAIN_PER_CLASS, VAL_PER_CLASS)


def train_command(model_dir, net, recipe, data_dir, output_dir, *extra):
    return script_command(REPO_ROOT / model_dir / 'train.py', *recipe, '--data_dir', data_dir,
                          '--output_dir', output_dir, '--net', net, '--num_classes', len(CLASS_TINTS),
                          '--image_size', 32, '--epochs', EPOCHS, '--batch_size', BATCH_SIZE,
                          '--eval_batch_size', BATCH_SIZE, '--log_every', 1, '--deterministic', 'true',
                          '--save_every_steps', SAVE_EVERY, '--seed', 5, '--keep_checkpoint_max', KEPT_CHECKPOINTS,
                          *extra)


def train(command, cwd):
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@contextlib.contextmanager
def cpu_hogs(count=CPU_HOGS):
    """`count` processes spinning on the CPU while the block runs: other thread timings, other loads."""
    hogs = [subprocess.Popen([sys.executable, '-c', 'while True: pass']) for _ in range(count)]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def final_checkpoint(output_dir, net):
    return output_dir / 'checkpoints' / f'{net}-{EPOCHS}_{STEPS_PER_EPOCH}.ckpt'


def all_tensors(path):
    """Every tensor of a checkpoint (weights, BN statistics, optimizer state, counters) as numpy."""
    return {name: value.asnumpy() for name, value in ms.load_checkpoint(str(path)).items()}


def assert_bit_equal(path, reference_path):
    actual, expected = all_tensors(path), all_tensors(reference_path)
    assert actual.keys() == expected.keys()
    differing = [name for name in expected if not np.array_equal(actual[name], expected[name])]
    assert not differing, f"{len(differing)} tensors differ, e.g. {differing[:5]}"


@pytest.fixture(scope='module')
def reference_runs(photo_dataset, tmp_path_factory):
    """Recipe id -> (output folder) of one uninterrupted run on a quiet machine."""
    runs = {}
    for recipe_id, model_dir, net, recipe in RECIPES:
        output_dir = tmp_path_factory.mktemp(recipe_id) / 'run'
        train(train_command(model_dir, net, recipe, photo_dataset, output_dir), output_dir.parent)
        runs[recipe_id] = output_dir
    return runs


@pytest.mark.slow
@pytest.mark.parametrize('recipe_id, model_dir, net, recipe', RECIPES, ids=[r[0] for r in RECIPES])
def test_three_runs_of_a_shipped_recipe_end_with_bit_equal_weights_one_of_them_beside_a_cpu_hog(
        recipe_id, model_dir, net, recipe, photo_dataset, reference_runs, tmp_path):
    reference = final_checkpoint(reference_runs[recipe_id], net)
    quiet = tmp_path / 'quiet'
    train(train_command(model_dir, net, recipe, photo_dataset, quiet), tmp_path)
    loaded = tmp_path / 'loaded'
    with cpu_hogs():
        train(train_command(model_dir, net, recipe, photo_dataset, loaded), tmp_path)
    assert_bit_equal(final_checkpoint(quiet, net), reference)
    assert_bit_equal(final_checkpoint(loaded, net), reference)


@pytest.mark.slow
def test_the_resnest_recipe_killed_at_a_random_moment_and_resumed_ends_bit_equal(photo_dataset, reference_runs,
                                                                                 tmp_path):
    recipe_id, model_dir, net, recipe = RECIPES[0]
    seed = int(os.environ.get('RESUME_KILL_SEED', random.SystemRandom().randrange(10 ** 6)))
    chance = random.Random(seed)
    after_step = chance.randrange(1, TOTAL_STEPS - 1)
    output_dir = tmp_path / 'killed'
    output_dir.mkdir()
    log_path = tmp_path / 'killed.out'
    with open(log_path, 'w') as log:
        process = subprocess.Popen(train_command(model_dir, net, recipe, photo_dataset, output_dir), stdout=log,
                                   stderr=subprocess.STDOUT, cwd=tmp_path)
    epoch, step = divmod(after_step - 1, STEPS_PER_EPOCH)
    progress = f'epoch {epoch + 1}/{EPOCHS} step {step + 1}/{STEPS_PER_EPOCH} '
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while progress not in log_path.read_text():
        assert process.poll() is None, log_path.read_text()[-3000:]
        assert time.monotonic() < deadline, f'{progress!r} not seen'
        time.sleep(0.02)
    time.sleep(chance.uniform(0.0, 0.3))
    process.send_signal(signal.SIGKILL)
    assert process.wait(RUN_TIMEOUT_S) == -signal.SIGKILL, f'finished before the kill (seed {seed})'
    result = train(train_command(model_dir, net, recipe, photo_dataset, output_dir, '--resume', 'auto'), tmp_path)
    assert 'resumed from' in result.stdout or 'starting a new run' in result.stdout, result.stdout[-2000:]
    try:
        assert_bit_equal(final_checkpoint(output_dir, net), final_checkpoint(reference_runs[recipe_id], net))
    except AssertionError as error:
        raise AssertionError(f'kill seed {seed} (after step {after_step}): {error}') from None
