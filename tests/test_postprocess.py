"""The deploy path after export: the label file, the scoring of `<stem>_0.bin` results, and the CPU
inference (`export.py --run_mindir`, `scripts/run_infer_cpu.sh`) that writes such results from a MINDIR.
"""
import json
import re

import cv2
import numpy as np
import mindspore as ms
import mindspore.dataset as ds
import pytest
from PIL import Image

from helpers import REPO_ROOT, run_script
from test_export import make_non_trivial
from zoo_core.data.dataset import EVAL_RESIZE_FAST, eval_resize_size
from zoo_core.deploy.export import export_network, main as export_main
from zoo_core.deploy.model_meta import ModelMeta, write_sidecar
from zoo_core.deploy.infer import EvalTransform, mindir_input, run_mindir
from zoo_core.engine.metrics import Accuracy as Scores
from zoo_core.deploy.postprocess import (DeployDataError, create_label_file, image_id, list_results, load_labels,
                                        main, print_scores, score_results)
from zoo_core.models.registry import IMAGENET_MEAN, IMAGENET_STD, PretrainedConfig
from zoo_resnest.family import FAMILY
from zoo_resnest.models import get_network

NUM_CLASSES = 10
IMAGE_SIZE = 64
NET = 'resnest14d'
LOGITS_ATOL = 1e-5
# class folder -> {image file name: (height, width)}; classes are numbered in sorted folder order.
IMAGE_TREE = {
    'n02_dog': {'dog1.JPEG': (90, 120), 'dog2.png': (101, 77)},
    'n01_cat': {'cat1.jpg': (70, 70), 'cat2.JPEG': (120, 90), 'cat3.png': (80, 100)},
}
EXPECTED_LABELS = {'n01_cat/cat1.jpg': 0, 'n01_cat/cat2.JPEG': 0, 'n01_cat/cat3.png': 0, 'n02_dog/dog1.JPEG': 1,
                   'n02_dog/dog2.png': 1}
# Class folders that reuse file names, as most trees outside ImageNet do.
REPEATED_NAMES_TREE = {'blue': {'img0.jpg': (30, 40), 'img1.png': (40, 30)},
                       'green': {'img0.jpg': (36, 36), 'img1.png': (33, 45)}}
# The deployed images: the label tests' tree, with one file name in both class folders.
DEPLOY_TREE = {class_name: {**images, 'img0.jpg': (64, 80)} for class_name, images in IMAGE_TREE.items()}
DYNAMIC_RUN_BATCH = 2   # 7 images: the last batch is partial
STATIC_EXPORT_BATCH = 3  # 7 images: the last batch is padded


def write_image_tree(root, tree=None, seed=0):
    """Random-pixel images, as an ImageFolder tree; returns `root`."""
    rng = np.random.default_rng(seed)
    for class_name, images in (tree or IMAGE_TREE).items():
        (root / class_name).mkdir(parents=True)
        for file_name, (height, width) in images.items():
            pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / class_name / file_name,
                                         format='JPEG' if file_name.lower().endswith(('.jpg', '.jpeg')) else 'PNG')
    return root


def write_result(result_dir, identifier, logits):
    """The logits of image id `identifier` (`class/stem`, or a bare stem as earlier releases wrote)."""
    path = result_dir / f'{identifier}_0.bin'
    path.parent.mkdir(parents=True, exist_ok=True)
    np.asarray(logits, dtype=np.float32).tofile(path)


def ranked_logits(label, rank, num_classes=NUM_CLASSES):
    """Logits in which class `label` comes at position `rank` (0 = best), all values distinct."""
    order = [c for c in range(num_classes) if c != label]
    order.insert(rank, label)
    logits = np.empty(num_classes, dtype=np.float32)
    logits[order] = np.arange(num_classes, 0, -1)
    return logits


# --- the label file --------------------------------------------------------------------------------

def test_label_file_maps_each_image_to_its_class_in_sorted_folder_order(tmp_path):
    root = write_image_tree(tmp_path / 'val')
    (root / 'n01_cat' / 'notes.txt').write_text('not an image')
    labels = create_label_file(str(root), str(tmp_path / 'labels.json'))
    assert labels == EXPECTED_LABELS
    assert json.loads((tmp_path / 'labels.json').read_text()) == EXPECTED_LABELS


def test_label_file_numbers_classes_as_image_folder_dataset_does(tmp_path):
    root = write_image_tree(tmp_path / 'val')
    (root / 'n00_empty').mkdir()  # an empty class folder still takes an index
    labels = create_label_file(str(root), str(tmp_path / 'labels.json'))
    class_indexing = ds.ImageFolderDataset(str(root)).get_class_indexing()
    for class_name, images in IMAGE_TREE.items():
        assert all(labels[f'{class_name}/{name}'] == class_indexing[class_name] for name in images)


def test_class_folders_may_reuse_file_names(tmp_path):
    root = write_image_tree(tmp_path / 'val', REPEATED_NAMES_TREE)
    labels = create_label_file(str(root), str(tmp_path / 'labels.json'))
    assert labels == {'blue/img0.jpg': 0, 'blue/img1.png': 0, 'green/img0.jpg': 1, 'green/img1.png': 1}
    assert load_labels(str(tmp_path / 'labels.json')) == {'blue/img0': 0, 'blue/img1': 0, 'green/img0': 1,
                                                          'green/img1': 1}


def test_images_of_one_folder_differing_only_in_extension_are_refused(tmp_path):
    root = write_image_tree(tmp_path / 'val', {'a': {'x.jpg': (8, 8), 'x.png': (8, 8)}})
    with pytest.raises(DeployDataError, match=r"a/x.jpg and a/x.png differ only in their extension.*a/x_0.bin"):
        create_label_file(str(root), str(tmp_path / 'labels.json'))


def test_label_creation_fails_for_a_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match='does not exist'):
        create_label_file(str(tmp_path / 'missing'), str(tmp_path / 'labels.json'))


def test_label_creation_fails_for_a_folder_without_class_folders(tmp_path):
    with pytest.raises(DeployDataError, match='no class folders'):
        create_label_file(str(tmp_path), str(tmp_path / 'labels.json'))


def test_label_creation_fails_for_class_folders_without_images(tmp_path):
    (tmp_path / 'a').mkdir()
    with pytest.raises(DeployDataError, match='no images'):
        create_label_file(str(tmp_path), str(tmp_path / 'labels.json'))


# --- scoring -------------------------------------------------------------------------------------

def test_scores_count_top1_and_top5_hits_exactly(tmp_path):
    results = tmp_path / 'results'
    labels = {'top1': 3, 'second': 7, 'fifth': 1, 'sixth': 0, 'tie': 9}
    write_result(results, 'top1', ranked_logits(3, 0))
    write_result(results, 'second', ranked_logits(7, 1))
    write_result(results, 'fifth', ranked_logits(1, 4))
    write_result(results, 'sixth', ranked_logits(0, 5))
    tie = ranked_logits(2, 0)
    tie[9] = tie[2]  # equal best logits: the lower class index (2) wins top-1
    write_result(results, 'tie', tie)
    assert score_results(str(results), labels) == Scores(total=5, top1_correct=1, top5_correct=4)


def test_postprocess_cli_prints_and_returns_the_accuracies(tmp_path, capsys):
    results = tmp_path / 'results'
    for stem, label, rank in (('a', 0, 0), ('b', 1, 2), ('c', 2, 7), ('d', 3, 0)):
        write_result(results, stem, ranked_logits(label, rank))
    (tmp_path / 'labels.json').write_text(json.dumps({'a.JPEG': 0, 'b.JPEG': 1, 'c.JPEG': 2, 'd.JPEG': 3}))
    scores = print_scores(str(results), str(tmp_path / 'labels.json'))
    assert scores == Scores(total=4, top1_correct=2, top5_correct=3)
    out = capsys.readouterr().out
    assert 'top-1 accuracy: 0.5000 (2/4)' in out and 'top-5 accuracy: 0.7500 (3/4)' in out
    assert main(FAMILY, ['--result_path', str(results), '--label_path', str(tmp_path / 'labels.json')]) == 0
    assert capsys.readouterr().out == out


def test_scores_tell_apart_images_of_the_same_name_in_two_class_folders(tmp_path):
    results = tmp_path / 'results'
    write_result(results, 'blue/img0', ranked_logits(0, 0))
    write_result(results, 'green/img0', ranked_logits(1, 3))
    labels = {'blue/img0': 0, 'green/img0': 1}
    assert score_results(str(results), labels) == Scores(total=2, top1_correct=1, top5_correct=2)


def test_results_and_label_files_of_earlier_releases_keyed_by_file_name_are_still_scored(tmp_path, capsys):
    flat_results, class_results = tmp_path / 'flat', tmp_path / 'by_class'
    for stem, label, rank in (('a', 0, 0), ('b', 1, 2), ('c', 2, 7)):
        write_result(flat_results, stem, ranked_logits(label, rank))
        write_result(class_results, f'n0{label}/{stem}', ranked_logits(label, rank))
    (tmp_path / 'labels.json').write_text(json.dumps({'a.JPEG': 0, 'b.JPEG': 1, 'c.JPEG': 2}))
    expected = Scores(total=3, top1_correct=1, top5_correct=2)
    assert print_scores(str(flat_results), str(tmp_path / 'labels.json')) == expected
    assert print_scores(str(class_results), str(tmp_path / 'labels.json')) == expected


@pytest.mark.parametrize('model_dir', ['ResNeSt50', 'ResNeXt50'])
def test_label_and_postprocess_entry_points_score_results(tmp_path, model_dir):
    root = write_image_tree(tmp_path / 'val')
    results = tmp_path / 'results'
    for name, label in EXPECTED_LABELS.items():
        write_result(results, name.split('.')[0], ranked_logits(label, 0 if 'cat' in name else 6))
    run_script(REPO_ROOT / model_dir / 'create_imagenet2012_label.py', '--img_path', root, cwd=tmp_path,
               check=True)
    scored = run_script(REPO_ROOT / model_dir / 'postprocess.py', '--result_path', results,
                        '--label_path', 'imagenet_label.json', cwd=tmp_path, check=True)
    assert 'top-1 accuracy: 0.6000 (3/5)' in scored.stdout
    assert 'top-5 accuracy: 0.6000 (3/5)' in scored.stdout


def test_scoring_fails_for_a_missing_result_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match='result folder .* does not exist'):
        score_results(str(tmp_path / 'missing'), {'a': 0})


def test_scoring_fails_for_a_folder_without_results(tmp_path):
    (tmp_path / 'a_1.bin').write_bytes(b'')
    with pytest.raises(DeployDataError, match='no inference results'):
        score_results(str(tmp_path), {'a': 0})


def test_scoring_fails_for_a_result_without_label(tmp_path):
    write_result(tmp_path, 'a', ranked_logits(0, 0))
    write_result(tmp_path, 'stray', ranked_logits(0, 0))
    with pytest.raises(DeployDataError, match='1 results have no label.*stray'):
        score_results(str(tmp_path), {'a': 0})


def test_scoring_fails_for_a_result_of_the_wrong_size(tmp_path):
    write_result(tmp_path, 'a', ranked_logits(0, 0))
    write_result(tmp_path, 'b', ranked_logits(0, 0)[:-1])
    with pytest.raises(DeployDataError, match=r'b_0.bin holds 36 bytes, expected 40 \(10 float32 logits'):
        score_results(str(tmp_path), {'a': 0, 'b': 0})


def test_scoring_fails_for_a_label_outside_the_classes(tmp_path):
    write_result(tmp_path, 'a', ranked_logits(0, 0))
    with pytest.raises(DeployDataError, match='label 10 of a is outside the 10 classes'):
        score_results(str(tmp_path), {'a': NUM_CLASSES})


def test_postprocess_cli_reports_a_missing_label_file_without_traceback(tmp_path, capsys):
    write_result(tmp_path, 'a', ranked_logits(0, 0))
    assert main(FAMILY, ['--result_path', str(tmp_path), '--label_path', str(tmp_path / 'missing.json')]) == 2
    assert re.fullmatch(r'error: label file .* does not exist.*\n', capsys.readouterr().err)


# --- CPU inference of a MINDIR -------------------------------------------------------------------

@pytest.mark.parametrize('height, width', [(90, 120), (120, 90), (101, 77)])
def test_fast_eval_transform_matches_an_opencv_reference(tmp_path, height, width):
    pixels = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / 'image.png')
    short = eval_resize_size(IMAGE_SIZE, PretrainedConfig().crop_pct)
    if height <= width:
        new_height, new_width = short, int(width * short / height)
    else:
        new_height, new_width = int(height * short / width), short
    resized = cv2.resize(pixels, (new_width, new_height), interpolation=cv2.INTER_LINEAR)
    top, left = (new_height - IMAGE_SIZE) // 2, (new_width - IMAGE_SIZE) // 2
    crop = resized[top:top + IMAGE_SIZE, left:left + IMAGE_SIZE].astype(np.float32) / 255.0
    expected = ((crop - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)).transpose(2, 0, 1)
    actual = EvalTransform(PretrainedConfig(), IMAGE_SIZE, EVAL_RESIZE_FAST)(str(tmp_path / 'image.png'))
    assert actual.dtype == np.float32
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-5)


class Deployment:
    """A resnest14d (non-trivial weights) exported with a dynamic and with a static batch, the image tree,
    and the network's own logits on each preprocessed image."""

    def __init__(self, directory):
        net = make_non_trivial(get_network(NET, num_classes=NUM_CLASSES))
        self.dynamic_mindir = export_network(net, str(directory / 'dynamic'), 'MINDIR', IMAGE_SIZE,
                                             dynamic_batch=True)
        self.static_mindir = export_network(net, str(directory / 'static'), 'MINDIR', IMAGE_SIZE,
                                            batch_size=STATIC_EXPORT_BATCH)
        self.preprocessing = PretrainedConfig()
        self.uint8_mindir = export_network(net, str(directory / 'uint8'), 'MINDIR', IMAGE_SIZE, dynamic_batch=True,
                                           input_dtype='uint8',
                                           normalization=(self.preprocessing.mean, self.preprocessing.std))
        self.data_dir = write_image_tree(directory / 'val', DEPLOY_TREE)
        transform = EvalTransform(self.preprocessing, IMAGE_SIZE)
        paths = sorted(self.data_dir.glob('*/*'))
        logits = net(ms.Tensor(np.stack([transform(str(p)) for p in paths]))).asnumpy()
        self.expected = {image_id(str(p.relative_to(self.data_dir))): row for p, row in zip(paths, logits)}


@pytest.fixture(scope='module')
def deployment(tmp_path_factory):
    return Deployment(tmp_path_factory.mktemp('deployment'))


def assert_results_are_the_network_logits(result_dir, expected):
    written = {identifier: np.fromfile(path, dtype=np.float32)
               for identifier, path in list_results(str(result_dir)).items()}
    assert set(written) == set(expected)
    for stem, logits in expected.items():
        np.testing.assert_allclose(written[stem], logits, rtol=0, atol=LOGITS_ATOL, err_msg=stem)


def expected_scores(expected, labels):
    """Top-1/top-5 counts computed directly from the network's logits."""
    ranks = {stem: int((logits > logits[labels[stem]]).sum()) for stem, logits in expected.items()}
    return Scores(total=len(ranks), top1_correct=sum(r == 0 for r in ranks.values()),
                  top5_correct=sum(r < 5 for r in ranks.values()))


def test_mindir_input_shows_a_dynamic_or_static_batch_and_the_input_dtype(deployment):
    assert mindir_input(deployment.dynamic_mindir) == ((-1, 3, IMAGE_SIZE, IMAGE_SIZE), np.float32)
    assert mindir_input(deployment.static_mindir) == ((STATIC_EXPORT_BATCH, 3, IMAGE_SIZE, IMAGE_SIZE), np.float32)
    assert mindir_input(deployment.uint8_mindir) == ((-1, 3, IMAGE_SIZE, IMAGE_SIZE), np.uint8)


def test_cpu_inference_of_a_uint8_input_mindir_gives_the_float_networks_logits_and_scores(deployment, tmp_path):
    run_mindir(deployment.uint8_mindir, str(deployment.data_dir), str(tmp_path / 'results'),
               deployment.preprocessing, batch_size=DYNAMIC_RUN_BATCH)
    assert_results_are_the_network_logits(tmp_path / 'results', deployment.expected)
    create_label_file(str(deployment.data_dir), str(tmp_path / 'labels.json'))
    labels = load_labels(str(tmp_path / 'labels.json'))
    assert score_results(str(tmp_path / 'results'), labels) == expected_scores(deployment.expected, labels)


def test_cpu_inference_writes_the_network_logits_of_each_image(deployment, tmp_path):
    count = run_mindir(deployment.dynamic_mindir, str(deployment.data_dir), str(tmp_path / 'results'),
                       deployment.preprocessing, batch_size=DYNAMIC_RUN_BATCH)
    assert count == sum(len(images) for images in DEPLOY_TREE.values())
    assert_results_are_the_network_logits(tmp_path / 'results', deployment.expected)


def test_cpu_inference_with_a_static_batch_pads_the_last_batch(deployment, tmp_path):
    run_mindir(deployment.static_mindir, str(deployment.data_dir), str(tmp_path / 'results'),
               deployment.preprocessing)
    assert_results_are_the_network_logits(tmp_path / 'results', deployment.expected)


def test_cpu_inference_results_are_scored_by_postprocess(deployment, tmp_path):
    run_mindir(deployment.dynamic_mindir, str(deployment.data_dir), str(tmp_path / 'results'),
               deployment.preprocessing)
    create_label_file(str(deployment.data_dir), str(tmp_path / 'labels.json'))
    labels = load_labels(str(tmp_path / 'labels.json'))
    assert score_results(str(tmp_path / 'results'), labels) == expected_scores(deployment.expected, labels)


def test_run_infer_cpu_script_runs_the_deploy_path_end_to_end(deployment, tmp_path):
    result = run_script(REPO_ROOT / 'ResNeSt50' / 'scripts' / 'run_infer_cpu.sh', deployment.dynamic_mindir,
                        deployment.data_dir, NET, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert_results_are_the_network_logits(tmp_path / 'result_Files', deployment.expected)
    scores = expected_scores(deployment.expected, load_labels(str(tmp_path / 'imagenet_label.json')))
    assert f'top-1 accuracy: {scores.top1:.4f} ({scores.top1_correct}/{scores.total})' in result.stdout
    assert (tmp_path / 'acc.log').read_text() in result.stdout


# --- an exported model describes itself (<model>.json, written by export) ------------------------------

def exported_copy(deployment, tmp_path, meta):
    """The dynamic-batch MINDIR copied into `tmp_path`, with `meta` as its sidecar; returns its path."""
    mindir = tmp_path / 'model.mindir'
    mindir.write_bytes(open(deployment.dynamic_mindir, 'rb').read())
    write_sidecar(str(mindir), meta)
    return str(mindir)


SIDECAR = ModelMeta(net=NET, input_size=IMAGE_SIZE, crop_pct=0.8, interpolation='bicubic', mean=IMAGENET_MEAN,
                    std=IMAGENET_STD, eval_resize='fast', class_names=[])


def test_the_inference_scripts_read_the_preprocessing_of_an_exported_model(deployment, tmp_path, capsys):
    mindir = exported_copy(deployment, tmp_path, SIDECAR)
    assert export_main(FAMILY, ['--preprocessing', mindir]) == 0
    assert capsys.readouterr().out.split() == [str(IMAGE_SIZE), '0.8', 'bicubic']
    assert export_main(FAMILY, ['--preprocessing']) == 0  # no model: the default network's published one
    assert capsys.readouterr().out.split() == ['224', '0.875', 'bilinear']


def test_cpu_inference_of_an_exported_model_applies_its_runs_preprocessing(deployment, tmp_path):
    mindir = exported_copy(deployment, tmp_path, SIDECAR)
    results = tmp_path / 'results'
    assert export_main(FAMILY, ['--run_mindir', mindir, '--data_path', str(deployment.data_dir),
                                '--result_path', str(results)]) == 0
    run_mindir(mindir, str(deployment.data_dir), str(tmp_path / 'expected'), SIDECAR.preprocessing,
               eval_resize=SIDECAR.eval_resize)
    run_mindir(mindir, str(deployment.data_dir), str(tmp_path / 'published'), PretrainedConfig())
    logits = {name: {k: np.fromfile(p, dtype=np.float32) for k, p in list_results(str(tmp_path / name)).items()}
              for name in ('results', 'expected', 'published')}
    for identifier, row in logits['results'].items():
        np.testing.assert_allclose(row, logits['expected'][identifier], rtol=0, atol=LOGITS_ATOL, err_msg=identifier)
    assert any(not np.allclose(row, logits['published'][k], atol=LOGITS_ATOL) for k, row in logits['results'].items())


def test_a_net_that_contradicts_an_exported_model_is_one_line_naming_both(deployment, tmp_path, capsys):
    mindir = exported_copy(deployment, tmp_path, SIDECAR)
    status = export_main(FAMILY, ['--run_mindir', mindir, '--data_path', str(deployment.data_dir), '--net',
                                  'resnest50'])
    assert status == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith('error: --net resnest50 contradicts') and f'exported from {NET}' in error
    assert '\n' not in error
