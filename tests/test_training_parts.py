"""Unit tests of the training parts: label-smoothing loss, lr schedule, parameter groups, demo data."""
import os
import subprocess
import sys

import numpy as np
import mindspore as ms
import pytest
from easydict import EasyDict

from zoo_core.data.demo_data import SHAPES, TRAIN_PER_CLASS, VAL_PER_CLASS, generate
from zoo_core.engine.crossentropy import CrossEntropySmooth
from zoo_core.engine.metrics import count_correct
from zoo_core.optim.lr_schedule import build_lr_schedule, scaled_lr
from zoo_core.optim.optimizer import parameter_groups
from zoo_resnest.models import get_network

# Processes that ask for the demo dataset at once, and how long one may take to write it.
CONCURRENT_RANKS = 3
DEMO_RACE_ROUNDS = 6
DEMO_TIMEOUT_S = 120


def numpy_smoothed_cross_entropy(logits, labels, smoothing, num_classes):
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    target = np.full_like(logits, smoothing / num_classes)
    target[np.arange(len(labels)), labels] += 1.0 - smoothing
    return -(target * log_probs).sum(axis=1).mean()


@pytest.mark.parametrize('smoothing', [0.0, 0.1, 0.3])
def test_label_smoothing_loss_matches_numpy(smoothing):
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((6, 7)).astype(np.float32) * 3
    labels = rng.integers(0, 7, 6).astype(np.int32)
    loss = CrossEntropySmooth(7, smoothing)(ms.Tensor(logits), ms.Tensor(labels)).asnumpy()
    np.testing.assert_allclose(loss, numpy_smoothed_cross_entropy(logits, labels, smoothing, 7), rtol=1e-5)


def test_soft_labels_give_the_same_loss_as_the_equivalent_indices():
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((4, 5)).astype(np.float32)
    labels = np.array([0, 3, 1, 4], np.int32)
    one_hot = np.eye(5, dtype=np.float32)[labels]
    sparse = CrossEntropySmooth(5, 0.1)(ms.Tensor(logits), ms.Tensor(labels)).asnumpy()
    dense = CrossEntropySmooth(5, 0.1, sparse=False)(ms.Tensor(logits), ms.Tensor(one_hot)).asnumpy()
    np.testing.assert_allclose(dense, sparse, rtol=1e-6)


def test_warmup_rises_linearly_to_the_peak_then_cosine_falls_to_min_lr():
    lr = build_lr_schedule(0.4, steps_per_epoch=10, epochs=5, warmup_epochs=1, min_lr=0.0)
    assert len(lr) == 50
    np.testing.assert_allclose(lr[:10], 0.4 * np.arange(1, 11) / 10, rtol=1e-6)
    assert lr[10] == pytest.approx(0.4)
    assert np.all(np.diff(lr[10:]) < 0)
    assert lr[-1] == pytest.approx(0.0, abs=1e-3)
    assert lr[30] == pytest.approx(0.4 * 0.5 * (1 + np.cos(np.pi * 20 / 40)), rel=1e-5)


def test_step_schedule_decays_at_the_milestones():
    lr = build_lr_schedule(1.0, steps_per_epoch=2, epochs=6, schedule='step', milestones=(2, 4), gamma=0.1)
    np.testing.assert_allclose(lr, [1, 1, 1, 1, .1, .1, .1, .1, .01, .01, .01, .01], rtol=1e-6)


def test_an_unknown_schedule_is_an_error():
    with pytest.raises(ValueError, match='cosine'):
        build_lr_schedule(1.0, 2, 2, schedule='poly')


def test_lr_scales_linearly_with_the_global_batch():
    assert scaled_lr(0.025, 64, 8 * 64) == pytest.approx(0.2)


def _optim_cfg(**overrides):
    return EasyDict(dict(no_decay_bn_bias=True, weight_decay=1e-4, freeze_backbone=False, backbone_lr_scale=1.0),
                    **overrides)


def test_bn_and_bias_parameters_get_no_weight_decay():
    groups = parameter_groups(get_network('resnest14d', num_classes=4), np.ones(3), _optim_cfg())
    for group in groups:
        names = [p.name for p in group['params']]
        is_no_decay = [n.endswith(('.gamma', '.beta', '.bias')) for n in names]
        assert all(is_no_decay) if group['weight_decay'] == 0.0 else not any(is_no_decay)
    assert sum(len(g['params']) for g in groups) == len(get_network('resnest14d', num_classes=4).trainable_params())


def test_a_frozen_backbone_trains_only_the_classifier():
    net = get_network('resnest14d', num_classes=4)
    groups = parameter_groups(net, np.ones(3), _optim_cfg(freeze_backbone=True))
    assert sorted(p.name for g in groups for p in g['params']) == ['fc.bias', 'fc.weight']
    assert [p.name for p in net.trainable_params()] == ['fc.weight', 'fc.bias']


def test_without_a_backbone_lr_scale_every_group_follows_the_optimizers_schedule():
    """No per-group lr: MindSpore would then index a schedule per parameter in the graph."""
    groups = parameter_groups(get_network('resnest14d', num_classes=4), np.ones(3), _optim_cfg())
    assert len(groups) > 1 and not any('lr' in group for group in groups)


def test_the_backbone_lr_scale_lowers_only_the_backbone():
    groups = parameter_groups(get_network('resnest14d', num_classes=4), np.full(3, 0.5),
                              _optim_cfg(backbone_lr_scale=0.1))
    for group in groups:
        in_head = group['params'][0].name.startswith('fc.')
        np.testing.assert_allclose(group['lr'].asnumpy(), 0.5 if in_head else 0.05, rtol=1e-6)


def test_top1_and_top5_counts():
    logits = np.array([[0.1, 0.9, 0, 0, 0, 0, 0], [0.9, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6]], np.float32)
    assert count_correct(logits, np.array([1, 1])) == (1, 1)
    assert count_correct(logits, np.array([0, 2])) == (0, 1)


def test_demo_dataset_is_deterministic_and_complete(tmp_path):
    first = generate(str(tmp_path / 'a'), train_per_class=2, val_per_class=1)
    second = generate(str(tmp_path / 'b'), train_per_class=2, val_per_class=1)
    assert sorted(os.listdir(os.path.join(first, 'train'))) == sorted(SHAPES)
    for split, count in (('train', 2), ('val', 1)):
        for shape in SHAPES:
            files = sorted(os.listdir(os.path.join(first, split, shape)))
            assert len(files) == count
            for name in files:
                with open(os.path.join(first, split, shape, name), 'rb') as a, \
                        open(os.path.join(second, split, shape, name), 'rb') as b:
                    assert a.read() == b.read()


def test_ranks_that_ask_for_the_demo_dataset_at_once_all_get_one_whole_copy(tmp_path):
    """The ranks of a distributed demo run on a fresh clone each call ensure_demo_dataset at the same moment
    (the race is a matter of timing: several rounds; replacing the folder under the others lost one in five)."""
    code = 'import sys; from zoo_core.data.demo_data import ensure_demo_dataset; ensure_demo_dataset(sys.argv[1])'
    for round_index in range(DEMO_RACE_ROUNDS):
        folder = tmp_path / str(round_index)
        folder.mkdir()
        processes = [subprocess.Popen([sys.executable, '-c', code, str(folder / 'shapes10')], stderr=subprocess.PIPE,
                                      text=True) for _ in range(CONCURRENT_RANKS)]
        errors = [process.communicate(timeout=DEMO_TIMEOUT_S)[1] for process in processes]
        assert [process.returncode for process in processes] == [0] * CONCURRENT_RANKS, errors
        assert os.listdir(folder) == ['shapes10']
        images = [name for _, _, names in os.walk(folder) for name in names if name.endswith('.jpg')]
        assert len(images) == len(SHAPES) * (TRAIN_PER_CLASS + VAL_PER_CLASS)
