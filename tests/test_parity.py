"""Numerical parity with the reference implementations: their weights in our networks give their logits.

200x200 inputs make stage 3 and 4 maps odd-sized (13x13, 7x7), where PyTorch's padded and ceil-mode
pooling differ most easily from a port.
"""
import numpy as np
import pytest

from reference_models import (authors_resnest, copy_reference_weights, logits_of_both, make_non_trivial,
                              timm_model, torchvision_model)
from zoo_resnest.models import get_network as get_resnest
from zoo_resnext.models import get_network as get_resnext

LOGIT_ATOL = 1e-4
ODD_MAP_INPUT = 200
SMALL_INPUT = 72


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
