"""Batch mixup and CutMix: the host draws (zoo_core.data.mixing), the train step mixes
(zoo_core.engine.batch_mixing) exactly as the former host mixing did, timm's semantics, no crash at small alphas."""
import numpy as np
import mindspore as ms
import pytest

from zoo_core.data.mixing import CUTMIX, MIXUP, MixingDraws, cutmix_box
from zoo_core.engine.batch_mixing import BatchMixing, MixingLossCell
from zoo_core.engine.crossentropy import CrossEntropySmooth
from zoo_core.runtime.config import ConfigError

BATCH, CHANNELS, SIZE, CLASSES = 8, 3, 16, 5
LONG_RUN_BATCHES = 5000


def batch(seed=0):
    """Random uint8 images (N, C, H, W) and int32 labels (N,)."""
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (BATCH, CHANNELS, SIZE, SIZE), dtype=np.uint8),
            rng.integers(0, CLASSES, BATCH).astype(np.int32))


def host_mixed(images, labels, kind, lam, perm, box):
    """The former host mixing (float32, op for op), the yardstick of the graph's."""
    images = images.astype(np.float32)
    one_hot = np.eye(CLASSES, dtype=np.float32)[labels]
    if kind == MIXUP:
        mixed = np.multiply(images, np.float32(lam), dtype=np.float32)
        mixed += np.multiply(images[perm], np.float32(1.0 - lam), dtype=np.float32)
    else:
        top, bottom, left, right = box
        mixed = images.copy()
        mixed[..., top:bottom, left:right] = images[perm, ..., top:bottom, left:right]
    return mixed, (lam * one_hot + (1.0 - lam) * one_hot[perm]).astype(np.float32)


def graph_mixed(images, labels, draws):
    """The train step's mixing of a batch with `draws` (perm, box, mix), in graph mode."""
    mixing = ms.jit(BatchMixing(CLASSES).construct)
    mixed, soft = mixing(*(ms.Tensor(a) for a in (images, labels) + tuple(draws)))
    return mixed.asnumpy(), soft.asnumpy()


@pytest.mark.parametrize('alpha', [0.2, 0.05])
@pytest.mark.parametrize('kind', ['mixup', 'cutmix'])
def test_thousands_of_draws_at_small_alphas_never_fail(alpha, kind):
    op = MixingDraws(**{f'{kind}_alpha': alpha}, image_size=SIZE, seed=3)
    _, labels = batch()
    for _ in range(LONG_RUN_BATCHES):
        _, perm, box, mix = op(labels)
        assert np.isfinite(mix).all() and 0.0 <= op.last[1] <= 1.0 and sorted(perm) == list(range(BATCH))
        assert mix[4] + mix[5] == pytest.approx(1.0)


@pytest.mark.parametrize('kind,alphas', [(MIXUP, dict(mixup_alpha=0.2)), (CUTMIX, dict(cutmix_alpha=1.0))])
def test_the_train_step_mixes_bit_equal_to_the_host_mixing_for_the_same_draws(kind, alphas):
    images, labels = batch(1)
    for seed in range(5):
        op = MixingDraws(**alphas, image_size=SIZE, seed=seed)
        _, *draws = op(labels)
        assert op.last[0] == kind
        mixed, soft = graph_mixed(images, labels, draws)
        expected, expected_soft = host_mixed(images, labels, *op.last)
        np.testing.assert_array_equal(mixed, expected)
        np.testing.assert_allclose(soft, expected_soft, rtol=0, atol=1e-7)
        np.testing.assert_allclose(soft.sum(axis=1), 1.0, rtol=1e-6)


def test_cutmix_pastes_the_box_and_corrects_lam_to_the_area_kept():
    images, labels = batch(2)
    op = MixingDraws(cutmix_alpha=1.0, image_size=SIZE, seed=11)
    _, *draws = op(labels)
    kind, lam, perm, (top, bottom, left, right) = op.last
    mixed, _ = graph_mixed(images, labels, draws)
    expected = images.astype(np.float32)
    expected[..., top:bottom, left:right] = images[perm][..., top:bottom, left:right]
    np.testing.assert_array_equal(mixed, expected)
    assert (bottom - top) * (right - left) > 0
    assert lam == pytest.approx(1.0 - (bottom - top) * (right - left) / SIZE ** 2)


def test_the_cutmix_box_is_clipped_at_the_border():
    rng = np.random.default_rng(0)
    for _ in range(1000):
        top, bottom, left, right = cutmix_box(rng, float(rng.uniform()), SIZE, SIZE)
        assert 0 <= top <= bottom <= SIZE and 0 <= left <= right <= SIZE


def test_with_both_enabled_each_batch_is_one_or_the_other_at_the_switch_probability():
    op = MixingDraws(mixup_alpha=0.2, cutmix_alpha=1.0, image_size=SIZE, seed=5)
    _, labels = batch()
    kinds = []
    for _ in range(2000):
        op(labels)
        kinds.append(op.last[0])
    assert set(kinds) == {MIXUP, CUTMIX}
    assert kinds.count(CUTMIX) / len(kinds) == pytest.approx(0.5, abs=0.05)


def test_mixup_lambda_has_the_beta_distribution_in_expectation():
    op = MixingDraws(mixup_alpha=0.2, image_size=SIZE, seed=8)
    _, labels = batch()
    lams = np.array([op(labels)[3][0] for _ in range(4000)])
    assert lams.mean() == pytest.approx(0.5, abs=0.02)          # Beta(a, a) is symmetric
    assert lams.var() == pytest.approx(1 / (4 * (2 * 0.2 + 1)), abs=0.01)  # 1 / (4 (2a + 1))


def test_the_same_seed_draws_the_same_and_another_rank_draws_otherwise():
    _, labels = batch()
    first, second = (MixingDraws(mixup_alpha=0.2, image_size=SIZE, seed=(1, 0)) for _ in range(2))
    other_rank = MixingDraws(mixup_alpha=0.2, image_size=SIZE, seed=(1, 1))
    a, b, c = first(labels), second(labels), other_rank(labels)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def test_label_smoothing_is_applied_once_by_the_loss():
    images, labels = batch(3)
    _, *draws = MixingDraws(mixup_alpha=0.2, image_size=SIZE, seed=2)(labels)
    _, soft = graph_mixed(images, labels, draws)
    assert soft.max() <= 1.0 and soft.min() >= 0.0  # the mixing itself does not smooth
    logits = np.random.default_rng(4).normal(size=(BATCH, CLASSES)).astype(np.float32)
    smoothing = 0.1
    loss = CrossEntropySmooth(CLASSES, smoothing, sparse=False)(ms.Tensor(logits), ms.Tensor(soft))
    target = soft * (1.0 - smoothing) + smoothing / CLASSES
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    assert float(loss.asnumpy()) == pytest.approx(float(-(target * log_probs).sum(axis=1).mean()), rel=1e-5)


def test_the_mixing_loss_cell_is_the_loss_of_the_network_on_the_mixed_batch():
    images, labels = batch(5)
    _, *draws = MixingDraws(mixup_alpha=0.4, image_size=SIZE, seed=6)(labels)
    network = ms.nn.Dense(CHANNELS * SIZE * SIZE, CLASSES)
    flat = ms.nn.SequentialCell([ms.nn.Flatten(), network])
    loss_fn = CrossEntropySmooth(CLASSES, 0.1, sparse=False)
    loss = MixingLossCell(flat, loss_fn, CLASSES)(*(ms.Tensor(a) for a in (images, labels) + tuple(draws)))
    mixed, soft = graph_mixed(images, labels, draws)
    expected = loss_fn(flat(ms.Tensor(mixed)), ms.Tensor(soft))
    assert float(loss.asnumpy()) == pytest.approx(float(expected.asnumpy()), rel=1e-6)


def test_no_mixing_or_a_negative_alpha_is_refused():
    with pytest.raises(ConfigError):
        MixingDraws()
    with pytest.raises(ConfigError):
        MixingDraws(mixup_alpha=-0.1)

