"""predict.py classifies photographs as timm does: for the same weights and the same real photographs, the
top-5 classes and probabilities of timm's network on timm's eval transform, from the reference weight
file, from a converted checkpoint and from the MINDIR and ONNX files exported from it; ImageNet's class
names; inputs as files, folders and globs; one-line errors for what cannot be classified."""
import csv
import dataclasses
import hashlib
import json
import os

import numpy as np
import pytest
import mindspore as ms
from PIL import Image

from helpers import REPO_ROOT, require
from helpers import run_script as run_in_subprocess
from helpers.real_photographs import write_photographs
from helpers.reference_models import copy_reference_weights, make_non_trivial, timm_model
from zoo_core.data.class_names import (IMAGENET_CLASSES, default_class_names, imagenet_class_names,
                                       read_class_indexing, save_class_indexing)
from zoo_core.deploy.model_meta import read_sidecar, sidecar_path
from zoo_core.deploy.predict import (EXIT_SOME_SKIPPED, PredictError, csv_rows, expand_inputs, pretrained_file,
                                     top_k_entries)
from zoo_core.weights.pretrained import WEIGHTS_HOME_ENV
from zoo_resnest.family import FAMILY as RESNEST

torch = require('torch')
timm_data = require('timm.data')

pytestmark = pytest.mark.slow
NET = 'resnest14d'
TOP_K = 5
# Measured: the reference path's logits agree with timm's to a few 1e-6 (tests/test_preprocessing_fidelity.py).
PROBABILITY_ATOL = 2e-5
PREDICT = REPO_ROOT / 'ResNeSt50' / 'predict.py'
EXPORT = REPO_ROOT / 'ResNeSt50' / 'export.py'


@pytest.fixture(scope='module')
def photographs(tmp_path_factory):
    return write_photographs(tmp_path_factory.mktemp('photographs'))


@pytest.fixture(scope='module')
def reference():
    return make_non_trivial(timm_model(NET), input_size=64)


@pytest.fixture(scope='module')
def timm_top5(reference, photographs):
    """{photograph path: (classes, probabilities)} of timm's network on timm's eval transform for the
    variant's published preprocessing."""
    p = RESNEST.preprocessing(NET)
    config = timm_data.resolve_data_config({}, pretrained_cfg=dict(
        input_size=(3, p.input_size, p.input_size), crop_pct=p.crop_pct, interpolation=p.interpolation,
        mean=p.mean, std=p.std))
    transform = timm_data.create_transform(**config)
    paths = sorted(str(path) for path in photographs.values())
    images = []
    for path in paths:
        with Image.open(path) as image:
            images.append(transform(image.convert('RGB')))
    with torch.no_grad():
        probabilities = torch.softmax(reference(torch.stack(images)).double(), dim=1).numpy()
    classes = np.argsort(-probabilities, axis=1, kind='stable')[:, :TOP_K]
    return {path: (row, probabilities[i, row]) for i, (path, row) in enumerate(zip(paths, classes))}


@pytest.fixture(scope='module')
def weight_files(reference, tmp_path_factory):
    """The reference weights as timm's .pth, as a converted MindSpore checkpoint, and that checkpoint
    exported by export.py to MINDIR (dynamic batch) and ONNX (batch 1), with float32 input and with uint8
    input (`--input_dtype uint8`: the model normalises the pixels itself)."""
    folder = tmp_path_factory.mktemp('weights')
    files = dict(pth=folder / f'{NET}.pth', ckpt=folder / f'{NET}.ckpt')
    torch.save(reference.state_dict(), files['pth'])
    ms.save_checkpoint(copy_reference_weights(reference, RESNEST.registry.build(NET)), str(files['ckpt']))
    size = RESNEST.preprocessing(NET).input_size
    for file_format, extra in (('MINDIR', ['--dynamic_batch']), ('ONNX', [])):
        for input_dtype, suffix in (('float32', ''), ('uint8', '_uint8')):
            name = f'{NET}{suffix}'
            result = run_in_subprocess(EXPORT, '--net', NET, '--ckpt_path', files['ckpt'], '--file_format',
                                       file_format, '--image_size', size, '--file_name', folder / name,
                                       '--input_dtype', input_dtype, *extra, cwd=folder, timeout=600)
            assert result.returncode == 0, result.stderr[-2000:]
            files[file_format + suffix] = folder / f'{name}.{file_format.lower()}'
    return files


def predicted(run_script, tmp_path, *args):
    """The JSON predictions of predict.py run with `args`."""
    output = tmp_path / 'predictions.json'
    result = run_script(PREDICT, *args, '--output', output, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return json.loads(output.read_text()), result.stdout


def assert_timms_top5(predictions, timm_top5):
    assert sorted(p['image'] for p in predictions) == sorted(timm_top5)
    names = imagenet_class_names()
    for prediction in predictions:
        classes, probabilities = timm_top5[prediction['image']]
        assert [e['index'] for e in prediction['topk']] == classes.tolist(), prediction['image']
        np.testing.assert_allclose([e['probability'] for e in prediction['topk']], probabilities, rtol=0,
                                   atol=PROBABILITY_ATOL, err_msg=prediction['image'])
        assert [e['label'] for e in prediction['topk']] == [names[i] for i in classes]


@pytest.mark.parametrize('source', ['pth', 'ckpt', 'MINDIR', 'ONNX', 'MINDIR_uint8', 'ONNX_uint8'])
def test_predict_gives_timms_top5_on_photographs(source, weight_files, photographs, timm_top5, run_script,
                                                 tmp_path):
    flag = '--model' if source.startswith(('MINDIR', 'ONNX')) else '--pretrained'
    folder = str(next(iter(photographs.values())).parent)
    predictions, _ = predicted(run_script, tmp_path, flag, weight_files[source], folder)
    assert_timms_top5(predictions, timm_top5)


def test_predict_prints_each_images_classes_with_names_and_probabilities(weight_files, photographs, timm_top5,
                                                                         run_script, tmp_path):
    china = str(photographs['china'])
    _, printed = predicted(run_script, tmp_path, '--pretrained', weight_files['pth'], '--topk', 2, china)
    classes, probabilities = timm_top5[china]
    lines = printed.splitlines()
    assert lines[0] == china
    assert lines[1].split()[:2] == ['1.', f'{probabilities[0]:.2%}']
    assert lines[1].endswith(f"{imagenet_class_names()[classes[0]]} ({classes[0]})")
    assert lines[2].startswith('  2.') and not lines[3].startswith('  3.')


def test_predict_writes_one_csv_row_per_image(weight_files, photographs, timm_top5, run_script, tmp_path):
    glob_pattern = str(photographs['china'].parent / 'flower*.jpg')
    output = tmp_path / 'out.csv'
    result = run_script(PREDICT, '--pretrained', weight_files['pth'], '--output', output, glob_pattern, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = list(csv.DictReader(output.open(encoding='utf-8')))
    flowers = sorted(path for path in timm_top5 if '/flower' in path)
    assert [row['image'] for row in rows] == flowers
    for row in rows:
        classes, probabilities = timm_top5[row['image']]
        assert [int(row[f'index_{r}']) for r in range(1, TOP_K + 1)] == classes.tolist()
        assert abs(float(row['probability_1']) - probabilities[0]) < PROBABILITY_ATOL


def test_export_writes_the_preprocessing_and_class_names_beside_the_model(weight_files):
    meta = read_sidecar(weight_files['MINDIR'])
    published = RESNEST.preprocessing(NET)
    assert (meta.net, meta.input_size, meta.crop_pct, meta.interpolation, meta.eval_resize) == \
        (NET, published.input_size, published.crop_pct, published.interpolation, 'pil')
    assert meta.class_names == imagenet_class_names()


def test_a_model_without_its_sidecar_needs_the_network_name(weight_files, photographs, run_script, tmp_path):
    bare = tmp_path / 'bare.mindir'
    bare.write_bytes(weight_files['MINDIR'].read_bytes())
    result = run_script(PREDICT, '--model', bare, photographs['china'])
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {bare} has no bare.mindir.json beside it (written by export.py): pass --net NAME to use that "
        "variant's published preprocessing"]
    predictions, _ = predicted(run_script, tmp_path, '--model', bare, '--net', NET, photographs['china'])
    assert predictions[0]['topk'][0]['label'] == imagenet_class_names()[predictions[0]['topk'][0]['index']]


def test_an_unreadable_image_is_named_and_skipped_and_the_others_are_predicted(weight_files, photographs, run_script,
                                                                              tmp_path):
    broken = tmp_path / 'broken.jpg'
    broken.write_bytes(photographs['china'].read_bytes()[:300])
    output = tmp_path / 'out.json'
    result = run_script(PREDICT, '--pretrained', weight_files['pth'], photographs['china'], broken, '--output', output)
    assert result.returncode == EXIT_SOME_SKIPPED
    assert result.stderr.strip().splitlines() == [
        f"skipped: cannot read image {broken}: JPEG without image data (cut after its headers?)"]
    assert [row['image'] for row in json.loads(output.read_text())] == [str(photographs['china'])]
    only_broken = run_script(PREDICT, '--pretrained', weight_files['pth'], broken)
    assert only_broken.returncode == 2 and only_broken.stderr.strip().splitlines()[-1] == \
        "error: none of the 1 image(s) could be read"


@pytest.mark.parametrize('args, message', [
    (['--pretrained', 'missing.pth', 'x.jpg'], "error: no image file or folder x.jpg"),
    (['--pretrained', 'missing.pth', '{image}'], "error: no weight file missing.pth, neither here nor in"),
    (['--ckpt_path', 'missing.ckpt', '{image}'], "error: checkpoint not found: missing.ckpt"),
    (['--model', 'missing.onnx', '{image}'], "error: no model file missing.onnx"),
    (['--model', 'net.pb', '{image}'], "error: net.pb: --model takes a .mindir or .onnx file"),
])
def test_missing_files_are_one_line_errors(args, message, photographs, run_script, tmp_path):
    args = [str(photographs['china']) if a == '{image}' else a for a in args]
    result = run_script(PREDICT, *args, env=dict(os.environ, ZOO_WEIGHTS_HOME=str(tmp_path)))
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(message)


# --- the parts, without a network -----------------------------------------------------------------------

def test_the_shipped_imagenet_names_are_timms():
    info = timm_data.ImageNetInfo()
    assert imagenet_class_names() == [info.index_to_description(i) for i in range(IMAGENET_CLASSES)]
    assert default_class_names(3) == ['0', '1', '2']


def test_class_indexing_round_trips_in_label_order(tmp_path):
    path = save_class_indexing(['zebra', 'apple', 'mango'], tmp_path)
    assert json.loads(open(path, encoding='utf-8').read()) == {'zebra': 0, 'apple': 1, 'mango': 2}
    assert read_class_indexing(path) == ['zebra', 'apple', 'mango']


def test_inputs_expand_folders_recursively_and_globs_once_each(tmp_path):
    (tmp_path / 'a' / 'b').mkdir(parents=True)
    for name in ('a/2.jpg', 'a/b/1.PNG', 'a/notes.txt', 'c.jpeg'):
        (tmp_path / name).write_bytes(b'x')
    found = expand_inputs([str(tmp_path / 'a'), str(tmp_path / '*.jpeg'), str(tmp_path / 'a' / '2.jpg')])
    assert found == [str(tmp_path / 'a' / '2.jpg'), str(tmp_path / 'a' / 'b' / '1.PNG'), str(tmp_path / 'c.jpeg')]
    with pytest.raises(PredictError, match='no image file matches'):
        expand_inputs([str(tmp_path / '*.bmp')])


def test_top_k_is_ranked_with_ties_in_class_order():
    entries = top_k_entries(np.array([0.1, 0.4, 0.1, 0.4]), list('abcd'), 3)
    assert [(e['index'], e['label']) for e in entries] == [(1, 'b'), (3, 'd'), (0, 'a')]
    assert csv_rows([dict(image='x.jpg', topk=entries[:1])]) == [
        ['image', 'index_1', 'label_1', 'probability_1'], ['x.jpg', 1, 'b', 0.4]]


def test_the_sidecar_is_named_after_the_model_file():
    assert sidecar_path('out/resnest50.onnx') == 'out/resnest50.onnx.json'


def test_pretrained_default_downloads_the_variants_checked_file_into_the_cache(weight_files, tmp_path, monkeypatch):
    content = weight_files['pth'].read_bytes()
    variant = RESNEST.registry.variant(NET)
    published = dataclasses.replace(variant.pretrained, url=weight_files['pth'].as_uri(),
                                    sha256=hashlib.sha256(content).hexdigest()[:8])
    monkeypatch.setitem(RESNEST.registry.variants, NET, dataclasses.replace(variant, pretrained=published))
    monkeypatch.setenv(WEIGHTS_HOME_ENV, str(tmp_path))
    path = pretrained_file(RESNEST, NET, 'default')
    assert path == tmp_path / published.file_names[0] and path.read_bytes() == content
