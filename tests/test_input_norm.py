"""uint8 to the device: the pipelines end in uint8 CHW and the network normalises in the graph
(`zoo_core.models.input_norm`). The logits, the eval counts and the checkpoints are today's: the
in-graph normalisation equals the host's float32 `Normalize` to float32 rounding, the wrapper keeps the
network's parameter names, and mixup/CutMix of uint8 batches equal those of normalised ones."""
import json

import numpy as np
import mindspore as ms
import pytest
from easydict import EasyDict

from helpers import REPO_ROOT
from helpers.synthetic_photos import write_photo_dataset
from test_export import make_non_trivial
from zoo_core.data.dataset import create_eval_dataset, normalize_ops
from zoo_core.data.mixing import MixingDraws
from zoo_core.engine.batch_mixing import BatchMixing
from zoo_core.engine.evaluate import evaluate
from zoo_core.engine.metrics import Accuracy, count_correct
from zoo_core.models.input_norm import InputNormalization, NormalizedNetwork
from zoo_core.models.registry import IMAGENET_MEAN, IMAGENET_STD
from zoo_resnest.models import get_network

NET = 'resnest14d'
IMAGE_SIZE = 64
TINTS = ((0.9, 0.2, 0.2), (0.2, 0.9, 0.2), (0.2, 0.2, 0.9), (0.8, 0.8, 0.1))
# The host's Normalize and the graph's multiply-add round differently: a few float32 ulps of values
# up to ~2.6; through the network that is a relative 1e-6 of logits up to ~10.
NORMALISED_ATOL = 1e-6
LOGITS_TOLERANCE = dict(rtol=1e-5, atol=1e-5)
NETWORK_SEED = 0


def host_normalised(pixels, mean=IMAGENET_MEAN, std=IMAGENET_STD):
    """uint8 NCHW -> float32 NCHW through today's host ops (`normalize_ops`: Normalize, HWC2CHW), per image."""
    ops = normalize_ops(mean, std)
    images = []
    for image in pixels:
        image = image.transpose(1, 2, 0)
        for op in ops:
            image = op(image)
        images.append(image)
    return np.stack(images)


@pytest.fixture(scope='module')
def network():
    """The same weights whichever tests ran before (the initialisers draw from the global generators)."""
    ms.set_seed(NETWORK_SEED)
    return make_non_trivial(get_network(NET, num_classes=len(TINTS)))


@pytest.fixture(scope='module')
def photo_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp('photos')
    return write_photo_dataset(root, TINTS, train_per_class=1, val_per_class=5,
                               sizes=((96, 72), (72, 96), (101, 77)))


def eval_cfg(root, eval_resize):
    return EasyDict(data_dir=str(root), num_classes=len(TINTS), image_size=IMAGE_SIZE, crop_pct=0.875,
                    interpolation='bilinear', mean=list(IMAGENET_MEAN), std=list(IMAGENET_STD),
                    eval_resize=eval_resize, eval_batch_size=4, num_parallel_workers=2, strict_data=False)


def test_in_graph_normalisation_equals_the_host_normalize_to_float32_rounding():
    pixels = np.random.default_rng(0).integers(0, 256, (2, 3, 8, 8), dtype=np.uint8)
    pixels[0, :, 0, 0], pixels[1, :, 0, 0] = 0, 255  # both ends of the range
    actual = InputNormalization(IMAGENET_MEAN, IMAGENET_STD)(ms.Tensor(pixels))
    assert actual.dtype == ms.float32
    np.testing.assert_allclose(actual.asnumpy(), host_normalised(pixels), rtol=0, atol=NORMALISED_ATOL)


def test_in_graph_normalisation_runs_in_the_compute_dtype_it_is_given():
    pixels = np.random.default_rng(1).integers(0, 256, (1, 3, 4, 4), dtype=np.uint8)
    actual = InputNormalization(IMAGENET_MEAN, IMAGENET_STD, ms.float16)(ms.Tensor(pixels))
    assert actual.dtype == ms.float16
    np.testing.assert_allclose(actual.asnumpy().astype(np.float32), host_normalised(pixels), rtol=0, atol=1e-2)


def test_the_wrapper_keeps_the_networks_parameter_names(network):
    wrapped = NormalizedNetwork(network, IMAGENET_MEAN, IMAGENET_STD)
    assert [p.name for p in wrapped.get_parameters()] == [p.name for p in network.get_parameters()]
    assert 'conv1.0.weight' in wrapped.parameters_dict()


def test_checkpoints_load_both_ways_between_the_wrapper_and_the_network(network, tmp_path):
    wrapped = NormalizedNetwork(network, IMAGENET_MEAN, IMAGENET_STD)
    ms.save_checkpoint(wrapped, str(tmp_path / 'wrapped.ckpt'))
    ms.save_checkpoint(network, str(tmp_path / 'plain.ckpt'))
    fresh = get_network(NET, num_classes=len(TINTS))
    not_loaded, _ = ms.load_param_into_net(fresh, ms.load_checkpoint(str(tmp_path / 'wrapped.ckpt')), strict_load=True)
    assert not not_loaded
    fresh_wrapped = NormalizedNetwork(get_network(NET, num_classes=len(TINTS)), IMAGENET_MEAN, IMAGENET_STD)
    not_loaded, _ = ms.load_param_into_net(fresh_wrapped, ms.load_checkpoint(str(tmp_path / 'plain.ckpt')),
                                           strict_load=True)
    assert not not_loaded
    for source, target in ((network, fresh), (network, fresh_wrapped)):
        for expected, actual in zip(source.get_parameters(), target.get_parameters()):
            np.testing.assert_array_equal(actual.asnumpy(), expected.asnumpy(), err_msg=actual.name)


@pytest.mark.parametrize('eval_resize', ['fast', 'pil'])
def test_eval_pipeline_sends_uint8_and_the_logits_are_the_float_pipelines(network, photo_folder, eval_resize):
    wrapped = NormalizedNetwork(network, IMAGENET_MEAN, IMAGENET_STD)
    network.set_train(False)
    batches = 0
    for pixels, _ in create_eval_dataset(eval_cfg(photo_folder, eval_resize)).create_tuple_iterator(
            num_epochs=1, output_numpy=True):
        assert pixels.dtype == np.uint8 and pixels.shape[1:] == (3, IMAGE_SIZE, IMAGE_SIZE)
        expected = network(ms.Tensor(host_normalised(pixels))).asnumpy()
        np.testing.assert_allclose(wrapped(ms.Tensor(pixels)).asnumpy(), expected, **LOGITS_TOLERANCE)
        batches += 1
    assert batches == 5  # 20 images, batch 4


def test_eval_counts_are_those_of_the_host_normalised_pipeline(network, photo_folder):
    dataset = create_eval_dataset(eval_cfg(photo_folder, 'fast'))
    after = evaluate(NormalizedNetwork(network, IMAGENET_MEAN, IMAGENET_STD), dataset)
    counts = np.zeros(3, dtype=np.int64)
    for pixels, labels in dataset.create_tuple_iterator(num_epochs=1, output_numpy=True):
        logits = network(ms.Tensor(host_normalised(pixels))).asnumpy()
        counts += (*count_correct(logits, labels), labels.shape[0])
    before = Accuracy(int(counts[0]), int(counts[1]), int(counts[2]), 0.0)
    assert (after.top1_correct, after.top5_correct, after.total) == \
        (before.top1_correct, before.top5_correct, before.total)
    assert after.total == 20 and 0 < after.top1_correct < after.total, "a degenerate network proves nothing"


@pytest.mark.parametrize('alphas', [dict(mixup_alpha=0.4), dict(cutmix_alpha=0.4)])
def test_mixing_uint8_batches_equals_mixing_normalised_ones(alphas):
    rng = np.random.default_rng(4)
    pixels = rng.integers(0, 256, (6, 3, 16, 16), dtype=np.uint8)
    labels = rng.integers(0, 3, 6).astype(np.int32)
    draws = MixingDraws(**alphas, image_size=16, seed=5)
    _, perm, box, mix = draws(labels)
    mixed, _ = BatchMixing(3)(*(ms.Tensor(a) for a in (pixels, labels, perm, box, mix)))
    mixed = mixed.asnumpy()
    assert mixed.dtype == np.float32
    normalised = host_normalised(pixels)
    kind, lam, _, cut = draws.last
    if kind == 'mixup':
        expected = lam * normalised + (1.0 - lam) * normalised[perm]
        assert not np.array_equal(mixed, np.round(mixed))  # a blend: rounding back to uint8 would lose it
    else:
        top, bottom, left, right = cut
        expected = normalised.copy()
        expected[..., top:bottom, left:right] = normalised[perm][..., top:bottom, left:right]
    in_graph = InputNormalization(IMAGENET_MEAN, IMAGENET_STD)(ms.Tensor(mixed)).asnumpy()
    np.testing.assert_allclose(in_graph, expected, rtol=0, atol=1e-5)


def test_a_uint8_pipeline_batch_goes_through_a_jitted_graph(network):
    """GRAPH mode (as train.py and eval.py run): the Cast from uint8 compiles into the network's graph."""
    wrapped = NormalizedNetwork(network, IMAGENET_MEAN, IMAGENET_STD)
    pixels = np.random.default_rng(6).integers(0, 256, (2, 3, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    graph = ms.jit(wrapped.construct)
    np.testing.assert_allclose(graph(ms.Tensor(pixels)).asnumpy(), network(ms.Tensor(host_normalised(pixels))).asnumpy(),
                               **LOGITS_TOLERANCE)


def test_evaluation_reports_the_network_alone_apart_from_the_whole_loop(network, photo_folder):
    result = evaluate(NormalizedNetwork(network, IMAGENET_MEAN, IMAGENET_STD),
                      create_eval_dataset(eval_cfg(photo_folder, 'fast')))
    assert 0 < result.network_seconds <= result.seconds
    figures = result.as_dict()
    assert figures['network_images_per_second'] >= figures['images_per_second'] > 0


@pytest.mark.slow
def test_training_with_mixup_and_cutmix_runs_the_mixed_float_batches_through_the_graph(run_script, tmp_path):
    """The recipe's mixing path end to end: uint8 crops, cast and mixed on the host, normalised in the graph."""
    data = write_photo_dataset(tmp_path / 'data', TINTS, train_per_class=4, val_per_class=2,
                               sizes=((48, 40), (40, 48)))
    result = run_script(REPO_ROOT / 'ResNeSt50' / 'train.py', '--data_dir', data, '--output_dir', tmp_path / 'out',
                        '--net', NET, '--num_classes', len(TINTS), '--image_size', 32, '--batch_size', 4,
                        '--eval_batch_size', 4, '--epochs', 1, '--warmup_epochs', 0, '--mixup', 0.2, '--cutmix', 1.0,
                        '--autoaugment', 'autoaugment', '--log_every', 1, timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    records = [json.loads(line) for line in (tmp_path / 'out' / 'metrics.jsonl').read_text().splitlines()]
    assert len(records) == 1 and np.isfinite(records[0]['loss']) and records[0]['val_images'] == 2 * len(TINTS)
