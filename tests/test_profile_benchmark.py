"""benchmarks/profile_train_step.py: MindSpore's profiler read back by operator type on a real (tiny) train
step, the categories shared with PyTorch's names, the table, and the argument checks."""
import importlib.util
import sys

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

from helpers import REPO_ROOT

SCRIPT = REPO_ROOT / 'benchmarks' / 'profile_train_step.py'
sys.path.insert(0, str(SCRIPT.parent))  # the script imports its sibling benchmark.py, as `python SCRIPT` does
spec = importlib.util.spec_from_file_location('profile_benchmark', SCRIPT)
profile_benchmark = importlib.util.module_from_spec(spec)
spec.loader.exec_module(profile_benchmark)

STEPS = 2
BATCH = 2
CONVOLUTIONS = 2


def tiny_train_step():
    """A blocking train step of two convolutions, batch norm, ReLU and a classifier, in GRAPH mode."""
    ms.set_context(mode=ms.GRAPH_MODE)
    net = nn.SequentialCell([nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 3), nn.ReLU(),
                             nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dense(8, 4)])
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction='mean')
    optimizer = nn.Momentum(net.trainable_params(), learning_rate=0.01, momentum=0.9)
    train_step = nn.TrainOneStepCell(nn.WithLossCell(net, loss), optimizer)
    train_step.set_train(True)
    images = ms.Tensor(np.random.default_rng(0).standard_normal((BATCH, 3, 16, 16)).astype(np.float32))
    labels = ms.Tensor(np.array([0, 3], dtype=np.int32))
    return lambda: train_step(images, labels).asnumpy()


def test_the_profiler_gives_every_kernel_of_the_step_by_type_and_the_table_puts_them_in_categories():
    step = tiny_train_step()
    step()  # compiles, outside the profile
    op_types = profile_benchmark.mindspore_kernel_times(step, STEPS)
    for kind in ('Conv2D', 'Conv2DBackpropFilter', 'BatchNorm', 'BatchNormGrad', 'ApplyMomentum'):
        assert kind in op_types, sorted(op_types)
        assert op_types[kind][0] > 0
    assert op_types['Conv2D'][1] == CONVOLUTIONS * STEPS
    result = profile_benchmark.per_step(dict(wall_s=1.0, op_types=op_types, impl='ours', batch=BATCH), STEPS)
    assert result['ops']['Conv2D']['calls'] == CONVOLUTIONS
    categories = result['categories']
    assert categories['convolution forward'] == pytest.approx(op_types['Conv2D'][0] / STEPS)
    assert categories['batch norm backward'] == pytest.approx(op_types['BatchNormGrad'][0] / STEPS)
    assert sum(categories.values()) == pytest.approx(1000.0)  # kernels + the rest = the 1 s wall time
    table = profile_benchmark.category_table([result])
    assert table[0].split('|')[1].strip() == 'ours'
    assert any(line.startswith('img/s') and f'{BATCH / 1.0:.2f}' in line for line in table)


@pytest.mark.parametrize('name, category', [
    ('Conv2DBackpropInput', 'convolution backward (data and weights)'),
    ('aten::convolution_backward', 'convolution backward (data and weights)'),
    ('aten::mkldnn_convolution', 'convolution forward'),
    ('aten::native_batch_norm_backward', 'batch norm backward'),
    ('MaxPoolGrad', 'max pool forward and backward'),
    ('ApplyMomentum', 'optimizer (SGD momentum)'),
])
def test_both_frameworks_names_fall_in_the_same_categories(name, category):
    assert profile_benchmark.CATEGORY_OF[name] == category


@pytest.mark.parametrize('flag, value', [('--steps', '0'), ('--batch', '0'), ('--networks', 'resnet50'),
                                         ('--impls', 'ours,keras')])
def test_bad_arguments_stop_with_one_line(capsys, flag, value):
    with pytest.raises(SystemExit) as stopped:
        profile_benchmark.parse_args([flag, value])
    assert stopped.value.code == 2
    assert 'error:' in capsys.readouterr().err
