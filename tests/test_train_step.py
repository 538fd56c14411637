"""The training step of accumulation, clipping, loss scaling and EMA (`zoo_core.engine.train_step`), in one
process, in PyNative and graph mode. (Two ranks under msrun: tests/test_distributed.py.)"""
import numpy as np
import mindspore as ms
import pytest
from easydict import EasyDict
from mindspore import nn

from helpers.dist_probe import TinyNet, initialise, synthetic_samples
from zoo_core.engine.train_step import (CLIP_EPSILON, TrainStep, build_train_step, clip_by_global_norm,
                                        needs_train_step, updates_per_epoch)
from zoo_core.runtime.config import ConfigError

BATCH = 4
LR = 0.5
MOMENTUM = 0.9
UPDATES = 3
TOLERANCE = 1e-6
OVERFLOW_SCALE = 2.0 ** 64
OVERFLOW_INPUT_FACTOR = 1e20


@pytest.fixture(params=[ms.PYNATIVE_MODE, ms.GRAPH_MODE], ids=['pynative', 'graph'])
def mode(request):
    ms.set_context(mode=request.param)
    yield request.param
    ms.set_context(mode=ms.PYNATIVE_MODE)


def step_cfg(**overrides):
    return EasyDict(dict(accumulate_steps=1, clip_grad=0.0, ema=False, ema_decay=0.9, ema_warmup=False,
                         dynamic_loss_scale=False, loss_scale=1024.0), **overrides)


def fresh_net():
    net = TinyNet()
    initialise(net)
    return net


def loss_fn():
    return nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction='mean')


def momentum(net):
    return nn.Momentum(net.trainable_params(), learning_rate=LR, momentum=MOMENTUM)


def train(net, step, batch, calls):
    """Run `step` over `calls` consecutive batches of `batch` samples; returns the parameters by name."""
    images, labels = synthetic_samples(batch * calls)
    step.set_train()
    for index in range(calls):
        part = slice(index * batch, (index + 1) * batch)
        step(ms.Tensor(images[part]), ms.Tensor(labels[part]))
    return {p.name: p.asnumpy().copy() for p in net.trainable_params()}


def numpy_gradients(net, images, labels):
    """name -> gradient of the mean loss at `net`'s current weights."""
    params = net.trainable_params()
    loss = loss_fn()

    def loss_of(x, y):
        return loss(net(x), y)

    grad_fn = ms.value_and_grad(loss_of, None, params)
    _, grads = grad_fn(ms.Tensor(images), ms.Tensor(labels))
    return {p.name: g.asnumpy() for p, g in zip(params, grads)}


@pytest.mark.parametrize('accumulate', [2, 3])
def test_k_micro_batches_of_b_make_the_update_of_one_batch_of_k_times_b(mode, accumulate):
    big_net, small_net = fresh_net(), fresh_net()
    expected = train(big_net, nn.TrainOneStepCell(nn.WithLossCell(big_net, loss_fn()), momentum(big_net)),
                     accumulate * BATCH, UPDATES)
    step = build_train_step(small_net, loss_fn(), momentum(small_net), step_cfg(accumulate_steps=accumulate), 'O0')
    actual = train(small_net, step, BATCH, accumulate * UPDATES)
    initial = {p.name: p.asnumpy().copy() for p in fresh_net().trainable_params()}
    for name, value in expected.items():
        assert np.abs(value - initial[name]).max() > 1e-2, f'{name} did not train'
        np.testing.assert_allclose(actual[name], value, rtol=0, atol=TOLERANCE, err_msg=name)


def test_no_update_happens_before_the_window_is_full(mode):
    net = fresh_net()
    before = {p.name: p.asnumpy().copy() for p in net.trainable_params()}
    step = build_train_step(net, loss_fn(), momentum(net), step_cfg(accumulate_steps=3), 'O0')
    after = train(net, step, BATCH, 2)
    for name, value in before.items():
        np.testing.assert_array_equal(after[name], value, err_msg=name)
    assert int(step.micro_steps.asnumpy()) == 2


def test_one_step_without_accumulation_equals_mindspores_train_one_step_cell(mode):
    reference, ours = fresh_net(), fresh_net()
    expected = train(reference, nn.TrainOneStepCell(nn.WithLossCell(reference, loss_fn()), momentum(reference)),
                     BATCH, UPDATES)
    actual = train(ours, TrainStep(nn.WithLossCell(ours, loss_fn()), momentum(ours)), BATCH, UPDATES)
    for name, value in expected.items():
        np.testing.assert_array_equal(actual[name], value, err_msg=name)


def test_global_norm_clipping_matches_numpy():
    rng = np.random.default_rng(0)
    grads = [rng.normal(0, 1, shape).astype(np.float32) for shape in ((3, 4), (5,), (2, 2, 2))]
    norm = np.sqrt(sum((g.astype(np.float64) ** 2).sum() for g in grads))
    for max_norm in (0.5 * norm, 2.0 * norm):
        clipped = clip_by_global_norm(tuple(ms.Tensor(g) for g in grads), max_norm)
        coefficient = min(1.0, max_norm / (norm + CLIP_EPSILON))
        for ours, grad in zip(clipped, grads):
            np.testing.assert_allclose(ours.asnumpy(), grad * coefficient, rtol=1e-5)


def test_a_clipped_sgd_step_moves_by_the_clipped_numpy_gradient(mode):
    net = fresh_net()
    images, labels = synthetic_samples(BATCH)
    grads = numpy_gradients(net, images, labels)
    norm = np.sqrt(sum((g.astype(np.float64) ** 2).sum() for g in grads.values()))
    max_norm = 0.25 * norm
    before = {p.name: p.asnumpy().copy() for p in net.trainable_params()}
    step = build_train_step(net, loss_fn(), nn.SGD(net.trainable_params(), learning_rate=LR),
                            step_cfg(clip_grad=max_norm), 'O0')
    after = train(net, step, BATCH, 1)
    for name, grad in grads.items():
        np.testing.assert_allclose(after[name], before[name] - LR * grad * max_norm / (norm + CLIP_EPSILON),
                                   rtol=0, atol=TOLERANCE, err_msg=name)


def test_clipping_sees_the_unscaled_gradient_under_a_loss_scale(mode):
    """With a static loss scale of 1024 the update equals the fp32 one: clipping after unscaling."""
    reference, scaled = fresh_net(), fresh_net()
    cfg = step_cfg(clip_grad=0.05)
    expected = train(reference, build_train_step(reference, loss_fn(), momentum(reference), cfg, 'O0'), BATCH, 2)
    step = TrainStep(nn.WithLossCell(scaled, loss_fn()), momentum(scaled),
                     ms.amp.StaticLossScaler(1024.0), clip_grad=0.05)
    actual = train(scaled, step, BATCH, 2)
    for name, value in expected.items():
        np.testing.assert_allclose(actual[name], value, rtol=0, atol=TOLERANCE, err_msg=name)


def test_an_overflowing_update_is_skipped_and_the_dynamic_scale_halves(mode):
    net = fresh_net()
    before = {p.name: p.asnumpy().copy() for p in net.trainable_params()}
    scaler = ms.amp.DynamicLossScaler(OVERFLOW_SCALE, 2, 2000)
    step = TrainStep(nn.WithLossCell(net, loss_fn()), momentum(net), scaler)
    step.set_train()
    images, labels = synthetic_samples(BATCH)
    step(ms.Tensor(images * OVERFLOW_INPUT_FACTOR), ms.Tensor(labels))  # scaled gradients beyond fp32's range
    for param in net.trainable_params():
        np.testing.assert_array_equal(param.asnumpy(), before[param.name], err_msg=param.name)
    assert float(scaler.scale_value.asnumpy()) == OVERFLOW_SCALE / 2


def test_o2_training_with_a_dynamic_loss_scale_runs_on_the_cpu(mode):
    net = fresh_net()
    before = {p.name: p.asnumpy().copy() for p in net.trainable_params()}
    step = build_train_step(net, loss_fn(), momentum(net), step_cfg(accumulate_steps=2, clip_grad=1.0,
                                                                     dynamic_loss_scale=True), 'O2')
    after = train(net, step, BATCH, 4)
    for name, value in before.items():
        assert np.all(np.isfinite(after[name])) and not np.array_equal(after[name], value), name


def test_the_plain_recipe_keeps_models_own_train_step():
    assert not needs_train_step(step_cfg())
    assert needs_train_step(step_cfg(accumulate_steps=2))
    assert needs_train_step(step_cfg(clip_grad=1.0))
    assert needs_train_step(step_cfg(ema=True))


def test_updates_per_epoch_drop_a_partial_window_and_refuse_a_window_longer_than_the_epoch():
    assert updates_per_epoch(10, 3) == 3
    assert updates_per_epoch(10, 1) == 10
    with pytest.raises(ConfigError, match='accumulate_steps'):
        updates_per_epoch(2, 3)
