"""Numerical parity with the reference implementations: their weights in our networks give their logits,
and their training-step gradients.

200x200 inputs make stage 3 and 4 maps odd-sized (13x13, 7x7), where PyTorch's padded and ceil-mode
pooling differ most easily from a port.
"""
import numpy as np
import pytest

from helpers import require

from helpers.reference_models import (authors_resnest, block_inputs, copy_reference_weights, logits_of_both,
                              make_non_trivial, our_block_gradients, our_gradients, reference_block_gradients,
                              reference_gradients, timm_model, torchvision_model, training_batch)
from zoo_resnest.models import get_network as get_resnest
from zoo_resnext.models import get_network as get_resnext

torch = require('torch')

LOGIT_ATOL = 1e-4
ODD_MAP_INPUT = 200
SMALL_INPUT = 72
# Gradients of a training step go through every layer backwards, and the split attention has a hand-written
# backward pass. Each gradient is compared with the reference's in fp64 and must be as close to it as the
# reference's own fp32 gradient is (within GRAD_ERROR_FACTOR), or within GRAD_ERROR_FLOOR, both relative to
# the gradient's largest fp64 value; a wrong backward is off by O(1). The factor was 3 on MindSpore 2.10;
# 2.7's kernels round otherwise: resnest50d_4s2x40d's layer1.0.conv2.fc1.weight at 3.5x (1.70e-4 vs 4.84e-5).
GRAD_ERROR_FACTOR = 4.0
GRAD_ERROR_FLOOR = 1e-4
# The attention's fc1 bias feeds a training-mode BN, so its gradient is zero in exact arithmetic; both
# frameworks return rounding noise there, which must be as small as the reference's or negligible.
ZERO_GRADIENT_SUFFIX = 'conv2.fc1.bias'
NEGLIGIBLE_OF_LARGEST = 1e-5


def assert_same_logits(reference, ours, input_size):
    reference = make_non_trivial(reference, input_size=input_size)
    expected, actual = logits_of_both(reference, copy_reference_weights(reference, ours), input_size)
    assert expected.std() > 0.1, "reference logits are degenerate; the comparison would prove nothing"
    np.testing.assert_allclose(actual, expected, rtol=0, atol=LOGIT_ATOL)


@pytest.mark.parametrize('name', ['resnest50'])
def test_resnest_matches_the_authors_package_at_odd_map_sizes(name):
    assert_same_logits(authors_resnest(name), get_resnest(name), ODD_MAP_INPUT)


@pytest.mark.parametrize('ours, theirs', [
    ('resnest50', 'resnest50d'),
    ('resnest14d', 'resnest14d'),
    ('resnest50d_4s2x40d', 'resnest50d_4s2x40d'),
    ('resnest50d_1s4x24d', 'resnest50d_1s4x24d'),
])
def test_resnest_matches_timm_at_odd_map_sizes(ours, theirs):
    assert_same_logits(timm_model(theirs), get_resnest(ours), ODD_MAP_INPUT)


def test_resnext_matches_torchvision_at_odd_map_sizes():
    assert_same_logits(torchvision_model('resnext50_32x4d'), get_resnext('resnext50_32x4d'), ODD_MAP_INPUT)


def test_resnext_matches_timm_at_odd_map_sizes():
    assert_same_logits(timm_model('resnext50_32x4d'), get_resnext('resnext50_32x4d'), ODD_MAP_INPUT)


def assert_gradients_close(actual, expected, reference_fp32):
    """Every gradient in `actual` (name -> array) is as close to the fp64 `expected` as `reference_fp32` is."""
    assert set(actual) <= set(expected), sorted(set(actual) - set(expected))
    largest = max(np.abs(expected[name]).max() for name in actual)
    for name in actual:
        if name.endswith(ZERO_GRADIENT_SUFFIX):
            noise, reference_noise = np.abs(actual[name]).max(), np.abs(reference_fp32[name]).max()
            assert noise <= max(GRAD_ERROR_FACTOR * reference_noise, NEGLIGIBLE_OF_LARGEST * largest), \
                f"{name}: {noise:.2e} where the exact gradient is zero (reference fp32: {reference_noise:.2e})"
            continue
        scale = np.abs(expected[name]).max()
        ours = np.abs(actual[name] - expected[name]).max() / scale
        theirs = np.abs(reference_fp32[name] - expected[name]).max() / scale
        assert ours <= max(GRAD_ERROR_FACTOR * theirs, GRAD_ERROR_FLOOR), \
            f"{name}: {ours:.2e} from the fp64 reference, the reference's fp32 gradient {theirs:.2e}"


@pytest.mark.parametrize('graph_mode', [False, True], ids=['pynative', 'graph'])
def test_training_gradients_of_the_whole_network_match_the_reference(graph_mode):
    """Stem, every block type once, head and loss: resnest14d has one block per stage. (Deeper networks
    are compared block by block: with random weights, a whole-network fp32 gradient flips a ReLU somewhere
    and moves by a few percent, the reference's own fp32 one included.)"""
    reference = make_non_trivial(timm_model('resnest14d'), input_size=SMALL_INPUT)
    net = copy_reference_weights(reference, get_resnest('resnest14d'))
    images, labels = training_batch(SMALL_INPUT)
    expected_loss, expected = reference_gradients(reference, images, labels, dtype=torch.float64)
    _, reference_fp32 = reference_gradients(reference, images, labels)
    loss, actual = our_gradients(net, images, labels, graph_mode)
    assert loss == pytest.approx(expected_loss, rel=1e-5)
    assert_gradients_close(actual, expected, reference_fp32)


@pytest.mark.parametrize('graph_mode', [False, True], ids=['pynative', 'graph'])
@pytest.mark.parametrize('ours, reference', [
    ('resnest50', lambda: authors_resnest('resnest50')),
    ('resnest50d_4s2x40d', lambda: timm_model('resnest50d_4s2x40d')),
    ('resnext50_32x4d', lambda: torchvision_model('resnext50_32x4d')),
])
def test_training_gradients_of_every_block_match_the_reference(ours, reference, graph_mode):
    """Each residual block gets the input the reference's forward gives it and a random output gradient;
    its input gradient and parameter gradients must match the reference's."""
    reference = make_non_trivial(reference(), input_size=SMALL_INPUT)
    get_network = get_resnext if ours.startswith('resnext') else get_resnest
    net = copy_reference_weights(reference, get_network(ours))
    images, _ = training_batch(SMALL_INPUT)
    rng = np.random.default_rng(3)
    ours_blocks = dict(net.cells_and_names())
    for name, x in block_inputs(reference, images).items():
        block = reference.get_submodule(name)
        with torch.no_grad():
            dout = rng.standard_normal(tuple(block(torch.from_numpy(x)).shape)).astype(np.float32)
        expected_input_grad, expected = reference_block_gradients(block, name, x, dout, torch.float64)
        fp32_input_grad, reference_fp32 = reference_block_gradients(block, name, x, dout, torch.float32)
        input_grad, actual = our_block_gradients(ours_blocks[name], x, dout, graph_mode)
        assert_gradients_close({f'{name} input': input_grad}, {f'{name} input': expected_input_grad},
                               {f'{name} input': fp32_input_grad})
        assert_gradients_close(actual, expected, reference_fp32)
