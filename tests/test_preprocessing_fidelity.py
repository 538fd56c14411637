"""The published weights see exactly the pixels their authors evaluated them with.

Every variant of both families, on real photographs (sklearn's two and crops/resizes of them, as JPEG
files): our reference eval path (`eval_resize='pil'`) gives torchvision's uint8 crop exactly, and the
normalised tensor of timm's `create_transform` (and, for the ResNeXts, of torchvision's own weights'
transforms) within 1e-6; evaluation and exported-model inference of reference weights give the
reference's top-5 classes and probabilities.
"""
import json
import math

import numpy as np
import mindspore as ms
import pytest
from easydict import EasyDict
from PIL import Image

from helpers import REPO_ROOT, require, run_script
from helpers.real_photographs import write_photographs
from helpers.reference_models import copy_reference_weights, make_non_trivial, timm_model, torchvision_model
from zoo_core.data.dataset import (DatasetError, EVAL_RESIZE_FAST, EVAL_RESIZE_PIL, create_eval_dataset,
                                   effective_eval_resize, eval_resize_size, eval_transforms)
from zoo_core.data.reference_eval import reference_crop_ops, reference_resized_size
from zoo_core.deploy.export import export_network, mindir_preprocessing, parse_args, resolve_net
from zoo_core.deploy.infer import EvalTransform, run_mindir
from zoo_core.models.input_norm import InputNormalization
from zoo_resnest.family import FAMILY as RESNEST
from zoo_resnext.family import FAMILY as RESNEXT

torch = require('torch')
torchvision = require('torchvision')
timm_data = require('timm.data')
T = torchvision.transforms

FAMILIES = (RESNEST, RESNEXT)
VARIANTS = [(family, net) for family in FAMILIES for net in family.registry.names()]
VARIANT_IDS = [net for _, net in VARIANTS]
TV_INTERPOLATIONS = {'bilinear': T.InterpolationMode.BILINEAR, 'bicubic': T.InterpolationMode.BICUBIC}
# timm's names of the ResNeSt weights (the authors' resnest50/101/200/269 are timm's resnest50d/101e/...).
TIMM_PRETRAINED = {
    'resnest50': 'resnest50d.in1k', 'resnest101': 'resnest101e.in1k', 'resnest200': 'resnest200e.in1k',
    'resnest269': 'resnest269e.in1k', 'resnest14d': 'resnest14d.gluon_in1k', 'resnest26d': 'resnest26d.gluon_in1k',
    'resnest50d_1s4x24d': 'resnest50d_1s4x24d.in1k', 'resnest50d_4s2x40d': 'resnest50d_4s2x40d.in1k',
}
NORMALISED_ATOL = 1e-6
# Measured: up to 7.5e-6 with the reference path (logits agree to a few 1e-6), 4.6e-4 to 0.08 with the fast one.
PROBABILITY_ATOL = 2e-5
TOP_K = 5


@pytest.fixture(scope='module')
def photographs(tmp_path_factory):
    return write_photographs(tmp_path_factory.mktemp('photographs'))


def open_rgb(path):
    """The photograph as the references read it."""
    with Image.open(path) as image:
        return image.convert('RGB')


def torchvision_crop(preprocessing):
    """torchvision's Resize(floor(size / crop_pct)) + CenterCrop(size): the reference's uint8 crop."""
    return T.Compose([T.Resize(math.floor(preprocessing.input_size / preprocessing.crop_pct),
                               interpolation=TV_INTERPOLATIONS[preprocessing.interpolation]),
                      T.CenterCrop(preprocessing.input_size)])


def timm_transform(preprocessing):
    """timm's eval transform, `create_transform(**resolve_data_config(...))`, for the variant's settings."""
    pretrained_cfg = dict(input_size=(3, preprocessing.input_size, preprocessing.input_size),
                          crop_pct=preprocessing.crop_pct, interpolation=preprocessing.interpolation,
                          mean=preprocessing.mean, std=preprocessing.std)
    return timm_data.create_transform(**timm_data.resolve_data_config({}, pretrained_cfg=pretrained_cfg))


def torchvision_weights(net, preprocessing):
    """torchvision's weights enum member whose file is the variant's published file."""
    [weights] = [w for w in torchvision.models.get_model_weights(net) if w.url == preprocessing.url]
    return weights


def our_crop(path, preprocessing):
    """Our reference path's uint8 crop, before normalisation."""
    image = np.fromfile(path, dtype=np.uint8)
    for op in reference_crop_ops(eval_resize_size(preprocessing.input_size, preprocessing.crop_pct),
                                 preprocessing.input_size, preprocessing.interpolation):
        image = op(image)
    return np.asarray(image)


# --- the published settings --------------------------------------------------------------------

@pytest.mark.parametrize('net', sorted(TIMM_PRETRAINED))
def test_resnest_preprocessing_is_timms_published_config(net):
    timm_cfg = timm_data.resolve_data_config({}, pretrained_cfg=require('timm').models.get_pretrained_cfg(
        TIMM_PRETRAINED[net]).to_dict())
    ours = RESNEST.preprocessing(net)
    assert (timm_cfg['input_size'][1], timm_cfg['crop_pct'], timm_cfg['interpolation']) == \
        (ours.input_size, ours.crop_pct, ours.interpolation)
    assert (timm_cfg['mean'], timm_cfg['std']) == (ours.mean, ours.std)


def test_every_resnest_variant_has_timms_config():
    assert sorted(TIMM_PRETRAINED) == RESNEST.registry.names()


@pytest.mark.parametrize('net', RESNEXT.registry.names())
def test_resnext_preprocessing_is_torchvisions_for_the_published_file(net):
    ours = RESNEXT.preprocessing(net)
    reference = torchvision_weights(net, ours).transforms()
    assert eval_resize_size(ours.input_size, ours.crop_pct) == reference.resize_size[0]
    assert [ours.input_size] == reference.crop_size
    assert TV_INTERPOLATIONS[ours.interpolation] == reference.interpolation
    assert (list(ours.mean), list(ours.std)) == (reference.mean, reference.std)


@pytest.mark.parametrize('family, net', VARIANTS, ids=VARIANT_IDS)
def test_eval_resize_size_is_timms_floor(family, net):
    preprocessing = family.preprocessing(net)
    assert eval_resize_size(preprocessing.input_size, preprocessing.crop_pct) == \
        math.floor(preprocessing.input_size / preprocessing.crop_pct)


@pytest.mark.parametrize('width, height, size, expected', [
    (640, 427, 256, (256, 383)), (427, 640, 256, (383, 256)), (64, 93, 256, (372, 256)),
    (118, 116, 232, (232, 236)), (256, 256, 256, (256, 256))])
def test_resized_size_is_torchvisions(width, height, size, expected):
    assert reference_resized_size(width, height, size) == expected
    assert tuple(T.Resize(size)(Image.new('RGB', (width, height))).size[::-1]) == expected


# --- pixels, every variant, every photograph ---------------------------------------------------

@pytest.mark.parametrize('family, net', VARIANTS, ids=VARIANT_IDS)
def test_uint8_crop_is_torchvisions_exactly(family, net, photographs):
    preprocessing = family.preprocessing(net)
    reference = torchvision_crop(preprocessing)
    for name, path in photographs.items():
        expected = np.asarray(reference(open_rgb(path)))
        actual = our_crop(path, preprocessing)
        assert actual.shape == expected.shape, name
        assert np.array_equal(actual, expected), f"{name}: {np.abs(actual - expected.astype(int)).max()}"


@pytest.mark.parametrize('family, net', VARIANTS, ids=VARIANT_IDS)
def test_normalised_tensor_is_timms(family, net, photographs):
    preprocessing = family.preprocessing(net)
    reference = timm_transform(preprocessing)
    ours = EvalTransform(preprocessing, preprocessing.input_size)
    for name, path in photographs.items():
        expected = reference(open_rgb(path)).numpy()
        actual = ours(str(path))
        assert actual.dtype == np.float32 and actual.shape == expected.shape, name
        np.testing.assert_allclose(actual, expected, rtol=0, atol=NORMALISED_ATOL, err_msg=name)


@pytest.mark.parametrize('net', RESNEXT.registry.names())
def test_normalised_tensor_is_torchvisions_weights_transform(net, photographs):
    preprocessing = RESNEXT.preprocessing(net)
    reference = torchvision_weights(net, preprocessing).transforms()
    ours = EvalTransform(preprocessing, preprocessing.input_size)
    for name, path in photographs.items():
        np.testing.assert_allclose(ours(str(path)), reference(open_rgb(path)).numpy(), rtol=0,
                                   atol=NORMALISED_ATOL, err_msg=name)


def test_the_fast_path_is_not_the_references_pixels(photographs):
    """What the reference path fixes: the C++ ops' crop of china.jpg for resnest50 is off."""
    preprocessing = RESNEST.preprocessing('resnest50')
    expected = timm_transform(preprocessing)(open_rgb(photographs['china'])).numpy()
    fast = EvalTransform(preprocessing, preprocessing.input_size, EVAL_RESIZE_FAST)(str(photographs['china']))
    assert np.abs(fast - expected).mean() > 0.01


# --- the evaluation pipeline ------------------------------------------------------------------

def photograph_tree(root, photographs):
    """ImageFolder `root/val/<name>/<name>.jpg`: one class per photograph, so a label names its image."""
    for name, path in photographs.items():
        folder = root / 'val' / name
        folder.mkdir(parents=True)
        (folder / path.name).write_bytes(path.read_bytes())
    return root


@pytest.mark.parametrize('family, net', [(RESNEST, 'resnest50'), (RESNEST, 'resnest200'),
                                         (RESNEXT, 'resnext101_64x4d')])
def test_eval_dataset_normalised_in_the_graph_gives_timms_tensors(family, net, photographs, tmp_path):
    preprocessing = family.preprocessing(net)
    root = photograph_tree(tmp_path, photographs)
    names = sorted(photographs)
    cfg = EasyDict(data_dir=str(root), num_classes=len(names), image_size=preprocessing.input_size,
                   crop_pct=preprocessing.crop_pct, interpolation=preprocessing.interpolation,
                   mean=list(preprocessing.mean), std=list(preprocessing.std), eval_resize=EVAL_RESIZE_PIL,
                   eval_batch_size=3, num_parallel_workers=2, strict_data=False)
    reference = timm_transform(preprocessing)
    normalize = InputNormalization(preprocessing.mean, preprocessing.std)
    seen = 0
    for pixels, labels in create_eval_dataset(cfg).create_tuple_iterator(num_epochs=1, output_numpy=True):
        assert pixels.dtype == np.uint8
        images = normalize(ms.Tensor(pixels)).asnumpy()
        for image, label in zip(images, labels):
            expected = reference(open_rgb(photographs[names[label]])).numpy()
            np.testing.assert_allclose(image, expected, rtol=0, atol=NORMALISED_ATOL, err_msg=names[label])
            seen += 1
    assert seen == len(names)


@pytest.mark.parametrize('choice, published, expected', [
    ('auto', True, 'pil'), ('auto', False, 'fast'), ('pil', False, 'pil'), ('fast', True, 'fast')])
def test_auto_eval_resize_is_pil_for_published_weights_only(choice, published, expected):
    assert effective_eval_resize(choice, published) == expected


def test_eval_resize_is_a_config_key_that_defaults_to_auto():
    assert RESNEST.get_config([]).eval_resize == 'auto'
    assert RESNEXT.get_config(['--eval_resize', 'fast']).eval_resize == 'fast'


def test_exported_models_without_their_json_run_with_the_reference_preprocessing_unless_told(tmp_path):
    # A MINDIR with its <MINDIR>.json runs with its run's preprocessing (tests/test_postprocess.py).
    run = ['--run_mindir', str(tmp_path / 'net.mindir'), '--data_path', 'val']
    for flags, expected in ((run, EVAL_RESIZE_PIL), (run + ['--eval_resize', 'fast'], EVAL_RESIZE_FAST)):
        args = parse_args(RESNEST, flags)
        args.net = resolve_net(RESNEST, args)
        assert mindir_preprocessing(RESNEST, args, None)[1] == expected  # no .json beside the MINDIR


def test_an_unknown_eval_resize_is_a_clear_error():
    with pytest.raises(DatasetError, match="unknown eval_resize 'pillow'; choose from auto, pil, fast"):
        eval_transforms(EasyDict(eval_resize='pillow'))


# --- end to end: reference weights, photographs, top-5 -----------------------------------------

def top_k(logits):
    """(classes, probabilities) of the `TOP_K` most probable classes of each row."""
    logits = logits.astype(np.float64)
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    classes = np.argsort(-probabilities, axis=1, kind='stable')[:, :TOP_K]
    return classes, np.take_along_axis(probabilities, classes, axis=1)


REFERENCES = {
    # net: (family, reference network, the reference's eval transform)
    'resnest14d': (RESNEST, lambda: timm_model('resnest14d'), lambda p, net: timm_transform(p)),
    'resnest50d_1s4x24d': (RESNEST, lambda: timm_model('resnest50d_1s4x24d'), lambda p, net: timm_transform(p)),
    'resnext50_32x4d': (RESNEXT, lambda: torchvision_model('resnext50_32x4d'),
                        lambda p, net: torchvision_weights(net, p).transforms()),
}


@pytest.mark.parametrize('net', sorted(REFERENCES))
def test_exported_model_gives_the_references_top5_on_photographs(net, photographs, tmp_path):
    family, make_reference, make_transform = REFERENCES[net]
    preprocessing = family.preprocessing(net)
    reference = make_non_trivial(make_reference(), input_size=64)
    transform = make_transform(preprocessing, net)
    names = sorted(photographs)
    with torch.no_grad():
        batch = torch.stack([transform(open_rgb(photographs[name])) for name in names])
        expected_classes, expected_probabilities = top_k(reference(batch).numpy())

    ours = copy_reference_weights(reference, family.registry.build(net))
    mindir = export_network(ours, str(tmp_path / net), 'MINDIR', preprocessing.input_size, dynamic_batch=True)
    results = {}
    for mode in (EVAL_RESIZE_PIL, EVAL_RESIZE_FAST):
        result_dir = tmp_path / mode
        run_mindir(mindir, str(photograph_tree(tmp_path / f'tree_{mode}', photographs) / 'val'), str(result_dir),
                   preprocessing, eval_resize=mode)
        results[mode] = top_k(np.stack([np.fromfile(result_dir / name / f'{photographs[name].stem}_0.bin', dtype=np.float32)
                                        for name in names]))
    classes, probabilities = results[EVAL_RESIZE_PIL]
    assert np.array_equal(classes, expected_classes)
    np.testing.assert_allclose(probabilities, expected_probabilities, rtol=0, atol=PROBABILITY_ATOL)
    # The comparison is fine enough to see the fast path's pixels.
    fast_classes, fast_probabilities = results[EVAL_RESIZE_FAST]
    assert not np.array_equal(fast_classes, expected_classes) or \
        np.abs(fast_probabilities - expected_probabilities).max() > PROBABILITY_ATOL


def test_eval_of_published_weights_counts_the_references_top1_top5_on_photographs(photographs, tmp_path):
    """eval.py --pretrained, one class per photograph: the reference path is chosen, and the top-1/top-5
    counts are those of timm's network on timm's eval transform."""
    names = sorted(photographs)
    reference = make_non_trivial(timm_model('resnest14d'), input_size=64)
    reference.reset_classifier(len(names))
    weights = tmp_path / 'resnest14d_reference.pth'
    torch.save(reference.state_dict(), weights)
    transform = timm_transform(RESNEST.preprocessing('resnest14d'))
    with torch.no_grad():
        logits = reference(torch.stack([transform(open_rgb(photographs[name])) for name in names])).numpy()
    ranks = np.argsort(-logits, axis=1)
    labels = np.arange(len(names))[:, None]
    expected = (int((ranks[:, :1] == labels).sum()), int((ranks[:, :TOP_K] == labels).sum()))
    assert 0 < expected[1] < len(names), "a degenerate reference would not test the counts"

    result = run_script(REPO_ROOT / 'ResNeSt50' / 'eval.py', '--net', 'resnest14d', '--pretrained', weights,
                        '--num_classes', len(names), '--data_dir', photograph_tree(tmp_path / 'data', photographs),
                        '--output_dir', tmp_path / 'out', timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    [ours] = json.loads((tmp_path / 'out' / 'eval_result.json').read_text())
    assert ours['eval_resize'] == EVAL_RESIZE_PIL
    assert (ours['top1_correct'], ours['top5_correct'], ours['total']) == expected + (len(names),)
