"""Model EMA (`zoo_core.optim.ema`): the averages against numpy, their names, their checkpoint round trip,
and a real training run that evaluates, saves and resumes them."""
import json
import subprocess
import sys

import numpy as np
import mindspore as ms
import pytest
from easydict import EasyDict
from mindspore import nn

from helpers import REPO_ROOT
from helpers.dist_probe import TinyNet, initialise, synthetic_samples
from zoo_core.data.demo_data import generate
from zoo_core.engine.resume import ResumePoint, restore_training_state
from zoo_core.engine.train_step import build_train_step
from zoo_core.optim.ema import EMA_UPDATES_NAME, ModelEma, ema_decay_at
from zoo_core.weights.files import network_weights_of

BATCH = 4
DECAY = 0.9
UPDATES = 5


def step_cfg(**overrides):
    return EasyDict(dict(accumulate_steps=1, clip_grad=0.0, ema=True, ema_decay=DECAY, ema_warmup=False,
                         dynamic_loss_scale=False, loss_scale=1024.0), **overrides)


def fresh_net():
    net = TinyNet()
    initialise(net)
    return net


def make_step(net, **overrides):
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction='mean')
    step = build_train_step(net, loss, nn.Momentum(net.trainable_params(), 0.5, 0.9), step_cfg(**overrides), 'O0')
    step.set_train()
    return step


def weights_after_each_call(net, step, calls):
    """[name -> array] of `net`'s parameters after each call of `step` on consecutive batches."""
    images, labels = synthetic_samples(BATCH * calls)
    history = []
    for index in range(calls):
        part = slice(index * BATCH, (index + 1) * BATCH)
        step(ms.Tensor(images[part]), ms.Tensor(labels[part]))
        history.append({p.name: p.asnumpy().copy() for p in net.get_parameters()})
    return history


def numpy_ema(initial, updates, decay, warmup):
    """The moving average of the weights after each of `updates` (lists of name -> array)."""
    average = {name: value.astype(np.float64) for name, value in initial.items()}
    for count, weights in enumerate(updates, start=1):
        d = min(decay, (1 + count) / (10 + count)) if warmup else decay
        average = {name: d * average[name] + (1 - d) * weights[name] for name in average}
    return average


@pytest.mark.parametrize('warmup', [False, True], ids=['constant', 'warmup'])
def test_the_ema_equals_numpys_moving_average_after_k_updates(warmup):
    net = fresh_net()
    initial = {p.name: p.asnumpy().copy() for p in net.get_parameters()}
    step = make_step(net, ema_warmup=warmup)
    history = weights_after_each_call(net, step, UPDATES)
    expected = numpy_ema(initial, history, DECAY, warmup)
    actual = step.ema.averages()
    assert set(actual) == set(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(actual[name], value, rtol=1e-5, atol=1e-6, err_msg=name)
        assert not np.allclose(actual[name], history[-1][name]), f'{name}: the average is the last weights'
    assert int(step.ema.num_updates.asnumpy()) == UPDATES


def test_with_accumulation_the_ema_moves_once_per_update():
    net = fresh_net()
    initial = {p.name: p.asnumpy().copy() for p in net.get_parameters()}
    step = make_step(net, accumulate_steps=2)
    history = weights_after_each_call(net, step, 2 * UPDATES)
    expected = numpy_ema(initial, history[1::2], DECAY, False)
    for name, value in expected.items():
        np.testing.assert_allclose(step.ema.averages()[name], value, rtol=1e-5, atol=1e-6, err_msg=name)


def test_decay_warmup_starts_low_and_reaches_the_decay():
    assert ema_decay_at(1, 0.9998, True) == pytest.approx(2 / 11)
    assert ema_decay_at(10 ** 6, 0.9998, True) == 0.9998
    assert ema_decay_at(1, 0.9998, False) == 0.9998


def test_the_averages_are_named_ema_dot_the_parameter_and_averaged_bn_statistics_too():
    net = nn.SequentialCell([nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)])
    ema = ModelEma(net, DECAY)
    names = [p.name for p in ema.ema]
    assert names == ['ema.' + p.name for p in net.get_parameters()]
    assert any(name.endswith('moving_mean') for name in names)


def test_a_checkpoint_of_the_training_network_holds_the_ema_and_a_resume_restores_it(tmp_path):
    net = fresh_net()
    step = make_step(net)
    weights_after_each_call(net, step, UPDATES)
    path = str(tmp_path / 'train.ckpt')
    ms.save_checkpoint(step, path)
    saved = ms.load_checkpoint(path)
    assert {'ema.' + p.name for p in net.get_parameters()} <= set(saved) and EMA_UPDATES_NAME in saved
    assert set(network_weights_of(saved)) == {p.name for p in net.get_parameters()}  # EMA is not the network

    resumed_net = fresh_net()
    resumed = make_step(resumed_net)
    restore_training_state(ResumePoint(path, saved, 0), resumed, resumed_net)  # what train.py's resume does
    for name, value in step.ema.averages().items():
        np.testing.assert_array_equal(resumed.ema.averages()[name], value, err_msg=name)
    assert int(resumed.ema.num_updates.asnumpy()) == UPDATES


def test_applied_swaps_the_averages_in_and_puts_the_weights_back():
    net = fresh_net()
    step = make_step(net)
    weights_after_each_call(net, step, 2)
    own = {p.name: p.asnumpy().copy() for p in net.get_parameters()}
    with step.ema.applied():
        for param in net.get_parameters():
            np.testing.assert_array_equal(param.asnumpy(), step.ema.averages()[param.name])
    for param in net.get_parameters():
        np.testing.assert_array_equal(param.asnumpy(), own[param.name])


# --- a real run -----------------------------------------------------------------------------------------

RUN_ARGS = ['--net', 'resnest14d', '--num_classes', '10', '--image_size', '32', '--eval_batch_size', '25',
            '--batch_size', '8', '--mixup', '0', '--autoaugment', 'none', '--log_every', '5', '--ema', 'true',
            '--ema_decay', '0.9', '--accumulate_steps', '2', '--clip_grad', '5.0', '--warmup_epochs', '0']
TRAIN_SCRIPT = REPO_ROOT / 'ResNeSt50' / 'train.py'


def train_run(*args):
    result = subprocess.run([sys.executable, str(TRAIN_SCRIPT), *map(str, args)], capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


@pytest.fixture(scope='module')
def ema_run(tmp_path_factory):
    data = generate(str(tmp_path_factory.mktemp('data') / 'shapes'), train_per_class=4, val_per_class=5)
    out = tmp_path_factory.mktemp('ema_run')
    log = train_run('--data_dir', data, '--output_dir', out, '--epochs', 1, *RUN_ARGS)
    return data, out, log


@pytest.mark.slow
def test_training_evaluates_both_weights_and_keeps_the_best_of_each(ema_run):
    _, out, log = ema_run
    assert 'epoch 1 validation: top-1' in log and 'epoch 1 validation (EMA): top-1' in log
    assert json.loads((out / 'best.json').read_text())['weights'] == 'raw'
    assert json.loads((out / 'best_ema.json').read_text())['weights'] == 'ema'
    record = json.loads((out / 'metrics.jsonl').read_text().splitlines()[-1])
    assert {'top1', 'ema_top1', 'ema_top5'} <= set(record)
    raw, ema = ms.load_checkpoint(str(out / 'best.ckpt')), ms.load_checkpoint(str(out / 'best_ema.ckpt'))
    assert not any(name.startswith('ema.') for name in ema)  # the EMA as plain network weights
    assert not np.array_equal(raw['fc.weight'].asnumpy(), ema['fc.weight'].asnumpy())


@pytest.mark.slow
def test_accumulation_counts_progress_in_updates(ema_run):
    _, _, log = ema_run
    # 40 images / batch 8 = 5 micro-batches -> 2 updates of 2, the fifth batch dropped.
    assert 'each epoch uses 4 of its 5 batches (2 updates)' in log
    assert 'epoch 1/1 step 2/2 loss' in log


@pytest.mark.slow
def test_a_resumed_run_continues_the_ema_of_its_checkpoint(ema_run, tmp_path):
    data, out, _ = ema_run
    [checkpoint] = (out / 'checkpoints').glob('resnest14d-1_*.ckpt')
    saved = ms.load_checkpoint(str(checkpoint))
    assert int(saved[EMA_UPDATES_NAME].asnumpy()) == 2
    log = train_run('--data_dir', data, '--output_dir', tmp_path, '--epochs', 2, '--resume', checkpoint, *RUN_ARGS)
    assert f'resumed from {checkpoint} at epoch 1' in log
    [resumed] = (tmp_path / 'checkpoints').glob('resnest14d-2_*.ckpt')
    assert int(ms.load_checkpoint(str(resumed))[EMA_UPDATES_NAME].asnumpy()) == 4
