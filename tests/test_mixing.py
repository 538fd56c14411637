"""Batch mixup and CutMix (zoo_core.data.mixing): timm's semantics, exact mixing, and no crash at small alphas."""
import numpy as np
import mindspore as ms
import pytest

from zoo_core.data.mixing import MixupCutmix, cutmix_box
from zoo_core.engine.crossentropy import CrossEntropySmooth
from zoo_core.runtime.config import ConfigError

BATCH, CHANNELS, SIZE, CLASSES = 8, 3, 16, 5
LONG_RUN_BATCHES = 5000


def batch(seed=0):
    """Random images (N, C, H, W) float32 and one-hot labels (N, K) float32."""
    rng = np.random.default_rng(seed)
    images = rng.normal(size=(BATCH, CHANNELS, SIZE, SIZE)).astype(np.float32)
    labels = np.eye(CLASSES, dtype=np.float32)[rng.integers(0, CLASSES, BATCH)]
    return images, labels


@pytest.mark.parametrize('alpha', [0.2, 0.05])
@pytest.mark.parametrize('kind', ['mixup', 'cutmix'])
def test_thousands_of_batches_at_small_alphas_never_fail(alpha, kind):
    op = MixupCutmix(**{f'{kind}_alpha': alpha}, seed=3)
    images, labels = batch()
    for _ in range(LONG_RUN_BATCHES):
        mixed, soft = op(images, labels)
        assert np.isfinite(mixed).all() and 0.0 <= op.last[1] <= 1.0
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, rtol=1e-6)


def test_mixup_is_lam_x_plus_one_minus_lam_x_perm_exactly():
    op = MixupCutmix(mixup_alpha=0.2, seed=7)
    images, labels = batch(1)
    mixed, soft = op(images, labels)
    kind, lam, perm, box = op.last
    assert kind == 'mixup' and box is None and sorted(perm) == list(range(BATCH))
    np.testing.assert_array_equal(mixed, (lam * images + (1.0 - lam) * images[perm]).astype(np.float32))
    np.testing.assert_array_equal(soft, (lam * labels + (1.0 - lam) * labels[perm]).astype(np.float32))


def test_cutmix_pastes_the_box_and_corrects_lam_to_the_area_kept():
    op = MixupCutmix(cutmix_alpha=1.0, seed=11)
    images, labels = batch(2)
    mixed, soft = op(images, labels)
    kind, lam, perm, (top, bottom, left, right) = op.last
    expected = images.copy()
    expected[..., top:bottom, left:right] = images[perm][..., top:bottom, left:right]
    assert kind == 'cutmix'
    np.testing.assert_array_equal(mixed, expected)
    assert lam == pytest.approx(1.0 - (bottom - top) * (right - left) / SIZE ** 2)
    np.testing.assert_allclose(soft, lam * labels + (1.0 - lam) * labels[perm], rtol=1e-6)


def test_the_cutmix_box_is_clipped_at_the_border():
    rng = np.random.default_rng(0)
    for _ in range(1000):
        top, bottom, left, right = cutmix_box(rng, float(rng.uniform()), SIZE, SIZE)
        assert 0 <= top <= bottom <= SIZE and 0 <= left <= right <= SIZE


def test_with_both_enabled_each_batch_is_one_or_the_other_at_the_switch_probability():
    op = MixupCutmix(mixup_alpha=0.2, cutmix_alpha=1.0, seed=5)
    images, labels = batch()
    kinds = []
    for _ in range(2000):
        op(images, labels)
        kinds.append(op.last[0])
    assert set(kinds) == {'mixup', 'cutmix'}
    assert kinds.count('cutmix') / len(kinds) == pytest.approx(0.5, abs=0.05)


def test_the_same_seed_mixes_the_same_way():
    images, labels = batch()
    first, second = MixupCutmix(mixup_alpha=0.2, seed=(1, 0)), MixupCutmix(mixup_alpha=0.2, seed=(1, 0))
    other_rank = MixupCutmix(mixup_alpha=0.2, seed=(1, 1))
    a, b, c = first(images, labels)[0], second(images, labels)[0], other_rank(images, labels)[0]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_label_smoothing_is_applied_once_by_the_loss():
    op = MixupCutmix(mixup_alpha=0.2, seed=2)
    images, labels = batch(3)
    _, soft = op(images, labels)
    assert soft.max() <= 1.0 and soft.min() >= 0.0  # the op itself does not smooth
    logits = np.random.default_rng(4).normal(size=(BATCH, CLASSES)).astype(np.float32)
    smoothing = 0.1
    loss = CrossEntropySmooth(CLASSES, smoothing, sparse=False)(ms.Tensor(logits), ms.Tensor(soft))
    target = soft * (1.0 - smoothing) + smoothing / CLASSES
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    assert float(loss.asnumpy()) == pytest.approx(float(-(target * log_probs).sum(axis=1).mean()), rel=1e-5)


def test_no_mixing_or_a_negative_alpha_is_refused():
    with pytest.raises(ConfigError):
        MixupCutmix()
    with pytest.raises(ConfigError):
        MixupCutmix(mixup_alpha=-0.1)


@pytest.mark.parametrize('kind', ['mixup', 'cutmix'])
def test_uint8_batches_are_mixed_exactly_as_their_float32_values(kind):
    """The pipelines send uint8: the mix is the float32 one of the same pixels, not a uint8 rounding of it."""
    rng = np.random.default_rng(2)
    pixels = rng.integers(0, 256, (BATCH, CHANNELS, SIZE, SIZE), dtype=np.uint8)
    labels = np.eye(CLASSES, dtype=np.float32)[rng.integers(0, CLASSES, BATCH)]
    mixed, _ = MixupCutmix(**{f'{kind}_alpha': 0.3}, seed=9)(pixels, labels)
    expected, _ = MixupCutmix(**{f'{kind}_alpha': 0.3}, seed=9)(pixels.astype(np.float32), labels)
    assert mixed.dtype == np.float32
    np.testing.assert_array_equal(mixed, expected)
