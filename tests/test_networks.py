"""The networks: exact parameter counts, options that take effect, features, and clear errors."""
import numpy as np
import mindspore as ms
import pytest
from mindspore import nn

from zoo_core.models.layers import AvgPoolCeil, DropBlock, DropPath
from zoo_core.models.registry import UnknownNetworkError
from zoo_resnest.models import get_network as get_resnest, network_names as resnest_names
from zoo_resnest.models.splat import ScaleChannels, SplitAttnConv2d
from zoo_resnext.models import get_network as get_resnext, network_names as resnext_names

REFERENCE_PARAMETER_COUNTS = {
    'resnest14d': 10_611_688, 'resnest26d': 17_069_448, 'resnest50': 27_483_240, 'resnest101': 48_275_016,
    'resnest200': 70_201_544, 'resnest269': 110_929_480, 'resnest50d_1s4x24d': 25_677_000,
    'resnest50d_4s2x40d': 30_417_592, 'resnext50_32x4d': 25_028_904, 'resnext101_32x8d': 88_791_336,
    'resnext101_64x4d': 83_455_272,
}


def build(name, **options):
    return (get_resnest if name.startswith('resnest') else get_resnext)(name, **options)


def images(batch=2, size=64, seed=0):
    return ms.Tensor(np.random.default_rng(seed).standard_normal((batch, 3, size, size)).astype(np.float32))


def test_every_variant_is_registered():
    assert sorted(resnest_names() + resnext_names()) == sorted(REFERENCE_PARAMETER_COUNTS)


@pytest.mark.parametrize('name, count', sorted(REFERENCE_PARAMETER_COUNTS.items()))
def test_parameter_count_equals_the_reference(name, count):
    assert sum(p.size for p in build(name).trainable_params()) == count


def test_an_unknown_name_lists_the_valid_ones():
    with pytest.raises(UnknownNetworkError, match='resnest50d_4s2x40d') as error:
        get_resnest('resnest51')
    assert 'resnest51' in str(error.value)


def test_num_classes_sets_the_classifier_and_zero_removes_it():
    assert build('resnest14d', num_classes=7)(images()).shape == (2, 7)
    assert build('resnest14d', num_classes=0)(images()).shape == (2, 2048)


def test_zero_init_last_zeroes_the_last_bn_of_every_block_and_only_then():
    zeroed = {p.name: p.asnumpy() for p in build('resnest14d').get_parameters()}
    last_gammas = [n for n in zeroed if n.endswith('bn3.gamma')]
    assert len(last_gammas) == 4 and all(not zeroed[n].any() for n in last_gammas)
    kept = {p.name: p.asnumpy() for p in build('resnest14d', zero_init_last=False).get_parameters()}
    assert all(np.all(kept[n] == 1.0) for n in last_gammas)


def test_convolutions_get_kaiming_normal_fan_out_init():
    net = build('resnext50_32x4d')
    weight = {p.name: p.asnumpy() for p in net.get_parameters()}['layer3.0.conv3.weight']  # 1x1, 512->1024
    assert weight.std() == pytest.approx(np.sqrt(2.0 / 1024), rel=0.05)


def test_features_and_feature_maps_have_the_declared_channels_and_strides():
    net = build('resnest50', num_classes=10)
    net.set_train(False)
    x = images(size=64)
    maps = net.forward_feature_maps(x)
    assert [m.shape[1] for m in maps] == [info['num_chs'] for info in net.feature_info]
    assert [64 // m.shape[2] for m in maps] == [info['reduction'] for info in net.feature_info] == [2, 4, 8, 16, 32]
    features = net.forward_features(x)
    np.testing.assert_allclose(features.asnumpy(), maps[-1].asnumpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(net.forward_head(features).asnumpy(), net(x).asnumpy(), rtol=1e-6, atol=1e-6)
    assert net.forward_head(features, pre_logits=True).shape == (2, 2048)


@pytest.mark.parametrize('radix, cardinality', [(1, 1), (1, 4), (2, 1), (2, 2), (3, 2), (4, 2)])
def test_split_attention_is_one_grouped_convolution_for_any_radix_and_cardinality(radix, cardinality):
    layer = SplitAttnConv2d(24, 24, cardinality=cardinality, radix=radix)
    assert layer.conv.group == radix * cardinality
    assert layer.conv.out_channels == 24 * radix
    layer.set_train(False)
    assert layer(ms.Tensor(np.ones((2, 24, 9, 9), np.float32))).shape == (2, 24, 9, 9)


def test_radix_softmax_weights_sum_to_one_over_the_splits():
    layer = SplitAttnConv2d(24, 24, cardinality=2, radix=3)
    attention = layer.rsoftmax(ms.Tensor(np.random.default_rng(0).standard_normal((2, 72, 1, 1)).astype(np.float32)))
    np.testing.assert_allclose(attention.asnumpy().sum(axis=1), 1.0, rtol=1e-5)


def test_avg_pool_ceil_averages_only_real_values_at_odd_edges():
    x = np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3)
    pooled = AvgPoolCeil(2)(ms.Tensor(x)).asnumpy()[0, 0]
    np.testing.assert_allclose(pooled, [[(0 + 1 + 3 + 4) / 4, (2 + 5) / 2], [(6 + 7) / 2, 8]])


def test_drop_path_and_drop_block_act_in_training_only():
    # DropPath keeps or drops whole samples: 4096 of them put the mean within 0.15 of 1 at 9 sigma.
    for layer, shape in ((DropPath(0.5), (4096, 2, 3, 3)), (DropBlock(0.3, block_size=3), (64, 8, 9, 9))):
        x = ms.Tensor(np.ones(shape, np.float32))
        layer.set_train(False)
        np.testing.assert_array_equal(layer(x).asnumpy(), x.asnumpy())
        layer.set_train(True)
        out = layer(x).asnumpy()
        assert (out == 0).any() and out.mean() == pytest.approx(1.0, abs=0.15)


def test_drop_path_and_drop_block_options_reach_the_blocks():
    net = build('resnest14d', drop_path_rate=0.2, drop_block_rate=0.1)
    cells = dict(net.cells_and_names())
    assert isinstance(cells['layer4.0.drop_path'], DropPath)
    assert isinstance(cells['layer3.0.conv2.drop_block'], DropBlock)
    assert 'layer2.0.conv2.drop_block' in cells and not isinstance(cells['layer2.0.conv2.drop_block'], DropBlock)


def test_graph_mode_compiles_and_agrees_with_pynative():
    net = build('resnest14d', num_classes=5)
    net.set_train(False)
    x = images(size=40)
    eager = net(x).asnumpy()
    compiled = ms.jit(net.construct)(x).asnumpy()
    np.testing.assert_allclose(compiled, eager, rtol=1e-5, atol=1e-5)


# Feeds a training-mode BN: its exact gradient is zero and both backward passes return rounding noise.
ATTENTION_FC1_BIAS = 'conv2.fc1.bias'


def split_attention_gradients(amp_level):
    """Parameter name -> gradient of one compiled resnest14d training step under `amp_level`."""
    ms.set_seed(0)
    net = ms.amp.auto_mixed_precision(build('resnest14d', num_classes=10, zero_init_last=False), amp_level)
    net.set_train(True)
    loss_fn = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction='mean')
    params = net.trainable_params()

    def loss_of(x, y):
        return loss_fn(net(x), y)

    _, grads = ms.jit(ms.value_and_grad(loss_of, None, params))(
        images(batch=4, size=32), ms.Tensor(np.array([0, 3, 5, 9], np.int32)))
    return {p.name: g.asnumpy() for p, g in zip(params, grads)}


@pytest.mark.parametrize('amp_level, tolerance', [('O0', 1e-5), ('O2', 1e-2)])
def test_split_attention_backward_equals_autodiff_in_fp32_and_mixed_precision(amp_level, tolerance, monkeypatch):
    """ScaleChannels' hand-written backward against MindSpore's autodiff of its forward, compiled, also
    under AMP O2 (fp16 convolutions and attention, fp32 BN and parameters) as Ascend and GPU train."""
    hand_written = split_attention_gradients(amp_level)
    monkeypatch.delattr(ScaleChannels, 'bprop')
    autodiff = split_attention_gradients(amp_level)
    assert all(g.dtype == np.float32 for g in hand_written.values())
    for name, expected in autodiff.items():
        if name.endswith(ATTENTION_FC1_BIAS):
            continue
        relative = np.linalg.norm(hand_written[name] - expected) / np.linalg.norm(expected)
        assert relative < tolerance, f"{name}: {relative:.2e}"
