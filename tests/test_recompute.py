"""--recompute none|stage|block (MindSpore's Cell.recompute, timm's grad checkpointing): the same gradients,
graph mode, and a clear error for another level."""
import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

from zoo_core.models.backbone import RECOMPUTE_LEVELS
from zoo_resnest.models import get_network as get_resnest
from zoo_resnext.models import get_network as get_resnext

SIZE, BATCH, CLASSES = 32, 2, 3


def gradients(build, level):
    """The parameter gradients of one graph-mode backward pass on a fixed batch, with `level`."""
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        ms.set_seed(0)
        net = build()
        net.set_recompute(level)
        net.set_train(True)
        loss_fn = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction='mean')
        rng = np.random.default_rng(1)
        images = ms.Tensor(rng.standard_normal((BATCH, 3, SIZE, SIZE)).astype(np.float32))
        labels = ms.Tensor(rng.integers(0, CLASSES, BATCH).astype(np.int32))
        params = net.trainable_params()

        def loss_of(x, y):
            return loss_fn(net(x), y)

        _, grads = ms.jit(ms.value_and_grad(loss_of, None, params))(images, labels)
        return {p.name: g.asnumpy() for p, g in zip(params, grads)}
    finally:
        ms.set_context(mode=ms.PYNATIVE_MODE)


@pytest.mark.parametrize('build', [lambda: get_resnest('resnest14d', num_classes=CLASSES),
                                   lambda: get_resnext('resnext50_32x4d', num_classes=CLASSES)],
                         ids=['resnest14d', 'resnext50_32x4d'])
@pytest.mark.parametrize('level', ['stage', 'block'])
def test_recomputing_gives_the_gradients_of_keeping_the_activations(build, level):
    kept, recomputed = gradients(build, 'none'), gradients(build, level)
    assert kept.keys() == recomputed.keys()
    for name, value in kept.items():
        np.testing.assert_allclose(recomputed[name], value, rtol=1e-5, atol=1e-6, err_msg=name)
    assert max(np.abs(v).max() for v in kept.values()) > 0


def test_an_unknown_level_is_refused_and_the_levels_are_timms_choices():
    assert RECOMPUTE_LEVELS == ('none', 'stage', 'block')
    with pytest.raises(ValueError, match='recompute must be one of none, stage, block'):
        get_resnest('resnest14d', num_classes=CLASSES).set_recompute('layer')
