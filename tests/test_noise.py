"""The stochastic layers' noise (zoo_core.models.noise): uniform, a pure function of (seed, position), streams of
two seeds unrelated, and bound layers drawing from the train step's counter."""
import mindspore as ms
import numpy as np
import pytest

from zoo_core.models.layers import Dropout, DropPath
from zoo_core.models.noise import NOISE_COUNTER_NAME, bind_noise_counter, hashed_uniform, noise_counter

SIZE = 65536


def uniform(seed, size=SIZE):
    return hashed_uniform((size,), ms.Tensor(seed, ms.int64)).asnumpy()


def test_the_noise_is_uniform_in_0_1_and_repeats_for_a_seed():
    u = uniform(7)
    assert u.min() >= 0.0 and u.max() < 1.0
    assert u.mean() == pytest.approx(0.5, abs=0.01) and u.var() == pytest.approx(1 / 12, abs=0.002)
    assert np.histogram(u, bins=10, range=(0, 1))[0].min() > SIZE / 10 * 0.95
    np.testing.assert_array_equal(u, uniform(7))


def test_neighbouring_elements_and_seeds_are_uncorrelated_and_not_shifted_copies():
    a, b = uniform(7), uniform(8)
    assert abs(np.corrcoef(a[:-1], a[1:])[0, 1]) < 0.02 and abs(np.corrcoef(a, b)[0, 1]) < 0.02
    assert len(np.intersect1d(a, b)) < SIZE // 100  # a shifted copy would share almost every value


def test_bound_layers_draw_from_the_counter_and_each_layer_its_own_stream():
    layers = ms.nn.SequentialCell([Dropout(0.5), DropPath(0.5)])
    counter = noise_counter()
    assert bind_noise_counter(layers, counter, seed=3, rank=0) == 2
    dropout, drop_path = layers[0], layers[1]
    assert dropout.noise_step is counter and drop_path.noise_step is counter and counter.name == NOISE_COUNTER_NAME
    assert dropout.noise_seed != drop_path.noise_seed
    dropout.set_train(True)
    x = ms.Tensor(np.ones((4, 256), np.float32))
    first = dropout(x).asnumpy()
    np.testing.assert_array_equal(first, dropout(x).asnumpy())  # same step, same mask
    counter.set_data(ms.Tensor(1, ms.int64))
    assert not np.array_equal(first, dropout(x).asnumpy())      # the next step, another mask
    assert set(np.unique(first)) <= {0.0, 2.0} and 0.4 < (first > 0).mean() < 0.6
