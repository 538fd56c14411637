"""Export for deployment: an exported graph computes what the network computes, in MindSpore and in
onnxruntime; the formats' limits fail with clear messages; `export.py` exports a training checkpoint.

Networks run at 64x64 with random BatchNorm affines and statistics measured on random images (numpy,
no reference framework), so that every layer's numerics reach the logits. Graph compilation is slow here, so each export is made once per
module and shared by the tests that read it.
"""
import re

import numpy as np
import mindspore as ms
import onnxruntime
import pytest
from mindspore import nn

from helpers import REPO_ROOT, run_script
from zoo_core.deploy.export import ExportError, export_network, main, num_classes_of
from zoo_core.models.registry import IMAGENET_MEAN, IMAGENET_STD
from zoo_resnest.models import get_network as get_resnest
from zoo_resnest.family import FAMILY as RESNEST
from zoo_resnext.family import FAMILY as RESNEXT
from zoo_resnext.models import get_network as get_resnext

IMAGE_SIZE = 64
NUM_CLASSES = 10
# Exports are made for BATCH images; a dynamic batch is also run on the first image alone.
BATCH = 3
MINDIR_ATOL = 1e-5
ONNX_ATOL = 1e-4
# Gamma ranges of the random BN affines: the last BN of a residual branch smaller, as in trained
# networks, so that activations stay well scaled through the blocks.
BN_GAMMA_RANGE = (0.5, 1.5)
LAST_BN_GAMMA_RANGE = (0.1, 0.3)
BN_BETA_STD = 0.2
BN_VARIANCE_SCALE_RANGE = (0.8, 1.25)
CALIBRATION_BATCH = 4
# What `ModelCheckpoint` stores besides the network (Momentum optimizer, `append_info`).
TRAINING_SCALARS = ('global_step', 'learning_rate', 'momentum', 'epoch_num', 'step_num')
NETWORKS = {
    'resnest50': get_resnest,
    'resnext50_32x4d': get_resnext,
    'resnest14d': get_resnest,
}
# resnest50 takes about a minute to build, calibrate and export here; resnest14d runs the same
# ResNeSt code (deep stem, avg-down, split attention) in the fast runs.
SLOW_NETWORKS = ('resnest50',)
NETWORK_PARAMS = [pytest.param(name, marks=pytest.mark.slow) if name in SLOW_NETWORKS else name
                  for name in NETWORKS]


def random_images(batch, seed=1, size=IMAGE_SIZE):
    """A batch of standard-normal images."""
    return np.random.default_rng(seed).standard_normal((batch, 3, size, size)).astype(np.float32)


def make_non_trivial(net, seed=0, input_size=IMAGE_SIZE):
    """Random BN affines, and BN statistics measured on random images (each BN's moving mean and
    variance set from its own input, just before it runs, in one forward pass), so that every layer
    matters and activations stay well scaled; eval mode. Returns `net`."""
    rng = np.random.default_rng(seed)

    def set_statistics(cell, inputs):
        x = inputs[0].asnumpy()
        variance = x.var(axis=(0, 2, 3)) * rng.uniform(*BN_VARIANCE_SCALE_RANGE, x.shape[1])
        cell.moving_mean.set_data(ms.Tensor(x.mean(axis=(0, 2, 3))))
        cell.moving_variance.set_data(ms.Tensor(variance.astype(np.float32)))

    hooks = []
    for name, cell in net.cells_and_names():
        if isinstance(cell, nn.BatchNorm2d):
            low, high = LAST_BN_GAMMA_RANGE if name.endswith('bn3') else BN_GAMMA_RANGE
            cell.gamma.set_data(ms.Tensor(rng.uniform(low, high, cell.num_features).astype(np.float32)))
            cell.beta.set_data(ms.Tensor(rng.normal(0.0, BN_BETA_STD, cell.num_features).astype(np.float32)))
            hooks.append(cell.register_forward_pre_hook(set_statistics))
    net.set_train(False)
    net(ms.Tensor(random_images(CALIBRATION_BATCH, seed=seed, size=input_size)))
    for hook in hooks:
        hook.remove()
    return net


def network_weights(net):
    """Name -> numpy array of every parameter of `net`."""
    return {p.name: p.asnumpy() for p in net.get_parameters()}


def save_training_checkpoint(net, path):
    """A checkpoint as training writes it: the network, Momentum's `moments.*` and training scalars."""
    entries = [{'name': name, 'data': ms.Tensor(value)} for name, value in network_weights(net).items()]
    entries += [{'name': f'moments.{p.name}', 'data': ms.Tensor(np.ones(p.shape, np.float32))}
                for p in net.trainable_params()]
    entries += [{'name': name, 'data': ms.Tensor(np.array([1.0], np.float32))} for name in TRAINING_SCALARS]
    ms.save_checkpoint(entries, str(path))
    return path


def run_export_cli(model_dir, *args):
    """`python <model_dir>/export.py args...` in a subprocess; returns the completed process."""
    return run_script(REPO_ROOT / model_dir / 'export.py', *args, cwd=REPO_ROOT)


class Exports:
    """Each network (non-trivial weights), its logits on IMAGES and each of its exports, made on first use."""

    def __init__(self, directory):
        self.directory = directory
        self.networks = {}
        self.logits = {}
        self.files = {}

    def network(self, name):
        if name not in self.networks:
            net = make_non_trivial(NETWORKS[name](name, num_classes=NUM_CLASSES))
            logits = net(ms.Tensor(IMAGES)).asnumpy()
            assert logits.std() > 0.1 and np.abs(logits[0] - logits[1]).max() > 0.1, \
                "degenerate logits: the comparisons would prove nothing"
            self.networks[name], self.logits[name] = net, logits
        return self.networks[name]

    def expected(self, name):
        """The network's eval-mode logits on IMAGES."""
        self.network(name)
        return self.logits[name]

    def file(self, name, file_format, dynamic_batch=False):
        key = (name, file_format, dynamic_batch)
        if key not in self.files:
            suffix = '_dynamic' if dynamic_batch else ''
            self.files[key] = export_network(self.network(name), str(self.directory / f'{name}{suffix}'),
                                             file_format, IMAGE_SIZE, batch_size=BATCH,
                                             dynamic_batch=dynamic_batch)
        return self.files[key]


IMAGES = random_images(BATCH)


@pytest.fixture(scope='module')
def exports(tmp_path_factory):
    return Exports(tmp_path_factory.mktemp('exports'))


def onnx_logits(path, images):
    session = onnxruntime.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    return session.run(None, {session.get_inputs()[0].name: images})[0]


def mindir_logits(path, images):
    return nn.GraphCell(ms.load(str(path)))(ms.Tensor(images)).asnumpy()


@pytest.mark.parametrize('name', NETWORK_PARAMS)
def test_mindir_export_reproduces_the_network(exports, name):
    np.testing.assert_allclose(mindir_logits(exports.file(name, 'MINDIR'), IMAGES), exports.expected(name),
                               rtol=0, atol=MINDIR_ATOL)


@pytest.mark.parametrize('name', NETWORK_PARAMS)
def test_dynamic_batch_mindir_runs_at_two_batch_sizes(exports, name):
    graph = nn.GraphCell(ms.load(exports.file(name, 'MINDIR', dynamic_batch=True)))
    for batch in (1, BATCH):
        actual = graph(ms.Tensor(IMAGES[:batch])).asnumpy()
        assert actual.shape == (batch, NUM_CLASSES)
        np.testing.assert_allclose(actual, exports.expected(name)[:batch], rtol=0, atol=MINDIR_ATOL)


@pytest.mark.parametrize('name', NETWORK_PARAMS)
def test_onnx_export_matches_the_network_in_onnxruntime(exports, name):
    np.testing.assert_allclose(onnx_logits(exports.file(name, 'ONNX'), IMAGES), exports.expected(name),
                               rtol=0, atol=ONNX_ATOL)


def test_onnx_with_a_dynamic_batch_is_refused_with_a_clear_message(exports, tmp_path):
    with pytest.raises(ExportError, match='dynamic batch can only be exported to MINDIR'):
        export_network(exports.network('resnest14d'), str(tmp_path / 'net'), 'ONNX', IMAGE_SIZE,
                       dynamic_batch=True)


def test_air_export_on_cpu_fails_with_a_clear_message(exports, tmp_path):
    with pytest.raises(ExportError, match='AIR export needs the Ascend backend.*device target is CPU'):
        export_network(exports.network('resnest14d'), str(tmp_path / 'net'), 'AIR', IMAGE_SIZE)
    assert not list(tmp_path.iterdir())


def test_unknown_file_format_is_refused(exports, tmp_path):
    with pytest.raises(ExportError, match="unknown file format 'TFLITE'"):
        export_network(exports.network('resnest14d'), str(tmp_path / 'net'), 'TFLITE', IMAGE_SIZE)


def test_export_cli_reports_an_unreadable_checkpoint_without_traceback(tmp_path, capsys):
    (tmp_path / 'broken.ckpt').write_bytes(bytes(range(256)) * 4)
    assert main(RESNEST, ['--net', 'resnest14d', '--ckpt_file', str(tmp_path / 'broken.ckpt')]) == 2
    assert re.match(r'error: cannot read checkpoint .*broken.ckpt', capsys.readouterr().err)


def test_export_cli_reports_a_missing_checkpoint_without_traceback(tmp_path, capsys):
    assert main(RESNEST, ['--net', 'resnest14d', '--ckpt_file', str(tmp_path / 'missing.ckpt')]) == 2
    assert re.match(r'error: checkpoint not found: .*missing.ckpt', capsys.readouterr().err)


@pytest.mark.parametrize('family, net', [(RESNEST, 'resnest200'), (RESNEXT, 'resnext101_64x4d')])
def test_export_cli_prints_a_variants_preprocessing_for_the_inference_scripts(family, net, capsys):
    assert main(family, ['--preprocessing', '--net', net]) == 0
    config = family.preprocessing(net)
    assert capsys.readouterr().out == f'{config.input_size} {config.crop_pct} {config.interpolation}\n'
    assert main(family, ['--preprocessing']) == 0
    assert capsys.readouterr().out.split() == [str(family.preprocessing(family.default_net).input_size),
                                               str(family.preprocessing(family.default_net).crop_pct),
                                               family.preprocessing(family.default_net).interpolation]


def test_number_of_classes_cannot_be_taken_from_a_checkpoint_without_classifier():
    with pytest.raises(ExportError, match='no .fc.weight.*pass --num_classes'):
        num_classes_of({'conv1.weight': np.zeros((64, 3, 7, 7), np.float32)})


def test_export_cli_exports_a_training_checkpoint_to_mindir(exports, tmp_path):
    checkpoint = save_training_checkpoint(exports.network('resnest14d'), tmp_path / 'train.ckpt')
    result = run_export_cli('ResNeSt50', '--net', 'resnest14d', '--ckpt_file', checkpoint,
                            '--image_size', IMAGE_SIZE, '--file_name', tmp_path / 'exported')
    assert result.returncode == 0, result.stderr
    assert f'{NUM_CLASSES} classes' in result.stdout
    np.testing.assert_allclose(mindir_logits(tmp_path / 'exported.mindir', IMAGES[:1]),
                               exports.expected('resnest14d')[:1], rtol=0, atol=MINDIR_ATOL)


def test_export_cli_exports_a_training_checkpoint_to_onnx(exports, tmp_path):
    checkpoint = save_training_checkpoint(exports.network('resnext50_32x4d'), tmp_path / 'train.ckpt')
    result = run_export_cli('ResNeXt50', '--ckpt_file', checkpoint, '--file_format', 'ONNX',
                            '--batch_size', BATCH, '--image_size', IMAGE_SIZE, '--file_name', tmp_path / 'exported')
    assert result.returncode == 0, result.stderr
    np.testing.assert_allclose(onnx_logits(tmp_path / 'exported.onnx', IMAGES), exports.expected('resnext50_32x4d'),
                               rtol=0, atol=ONNX_ATOL)


def test_export_cli_names_the_missing_tensors_of_a_checkpoint_of_another_network(exports, tmp_path):
    checkpoint = save_training_checkpoint(exports.network('resnest14d'), tmp_path / 'train.ckpt')
    result = run_export_cli('ResNeSt50', '--net', 'resnest26d', '--ckpt_file', checkpoint,
                            '--image_size', IMAGE_SIZE, '--file_name', tmp_path / 'exported')
    assert result.returncode != 0
    assert 'does not fit resnest26d' in result.stderr
    assert 'missing' in result.stderr and 'layer1.1.conv1.weight' in result.stderr
    assert not (tmp_path / 'exported.mindir').exists()


def test_export_cli_names_the_misshaped_classifier_for_a_wrong_number_of_classes(exports, tmp_path):
    checkpoint = save_training_checkpoint(exports.network('resnest14d'), tmp_path / 'train.ckpt')
    result = run_export_cli('ResNeSt50', '--net', 'resnest14d', '--ckpt_file', checkpoint, '--num_classes', 5,
                            '--image_size', IMAGE_SIZE, '--file_name', tmp_path / 'exported')
    assert result.returncode != 0
    assert f'fc.weight ({NUM_CLASSES}, 2048) vs (5, 2048)' in result.stderr


# --- uint8 input: the graph normalises (export.py --input_dtype uint8) ----------------------------

PIXELS = np.random.default_rng(2).integers(0, 256, (BATCH, 3, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)


def host_normalised(pixels, mean=IMAGENET_MEAN, std=IMAGENET_STD):
    """uint8 NCHW -> float32 `(x / 255 - mean) / std`, as the float-input path's host pipeline makes it."""
    scale = (np.asarray(std, np.float32) * np.float32(255)).reshape(1, -1, 1, 1)
    return (pixels.astype(np.float32) - np.asarray(mean, np.float32).reshape(1, -1, 1, 1) * 255) / scale


@pytest.mark.parametrize('file_format, logits_of, atol', [('MINDIR', mindir_logits, MINDIR_ATOL),
                                                          ('ONNX', onnx_logits, ONNX_ATOL)])
def test_uint8_input_export_gives_the_logits_of_the_network_on_host_normalised_images(exports, tmp_path, file_format,
                                                                                      logits_of, atol):
    net = exports.network('resnest14d')
    path = export_network(net, str(tmp_path / 'uint8'), file_format, IMAGE_SIZE, batch_size=BATCH,
                          input_dtype='uint8', normalization=(IMAGENET_MEAN, IMAGENET_STD))
    expected = net(ms.Tensor(host_normalised(PIXELS))).asnumpy()
    np.testing.assert_allclose(logits_of(path, PIXELS), expected, rtol=0, atol=atol)


def test_a_uint8_export_is_refused_without_the_statistics_to_normalise_with(exports, tmp_path):
    with pytest.raises(ExportError, match='needs the \\(mean, std\\)'):
        export_network(exports.network('resnest14d'), str(tmp_path / 'net'), 'MINDIR', IMAGE_SIZE, input_dtype='uint8')


def test_export_cli_input_dtype_uint8_exports_a_model_that_takes_pixels(exports, tmp_path):
    checkpoint = save_training_checkpoint(exports.network('resnest14d'), tmp_path / 'train.ckpt')
    result = run_export_cli('ResNeSt50', '--net', 'resnest14d', '--ckpt_file', checkpoint, '--input_dtype', 'uint8',
                            '--image_size', IMAGE_SIZE, '--file_name', tmp_path / 'exported')
    assert result.returncode == 0, result.stderr
    assert 'input uint8' in result.stdout
    preprocessing = RESNEST.preprocessing('resnest14d')
    expected = exports.network('resnest14d')(ms.Tensor(host_normalised(PIXELS[:1], preprocessing.mean,
                                                                       preprocessing.std))).asnumpy()
    np.testing.assert_allclose(mindir_logits(tmp_path / 'exported.mindir', PIXELS[:1]), expected,
                               rtol=0, atol=MINDIR_ATOL)
