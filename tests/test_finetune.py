"""Fine-tuning from reference weights and evaluating them with `eval.py --pretrained`, through the scripts."""
import json
import os

import numpy as np
import mindspore as ms
import pytest
from PIL import Image

from helpers import REPO_ROOT, require, run_script
from helpers.reference_models import make_non_trivial, timm_model
from zoo_core.data.demo_data import generate
from zoo_core.models.registry import IMAGENET_MEAN, IMAGENET_STD
from zoo_core.weights.fit import rename_torch_state_dict

torch = require('torch')
pytestmark = pytest.mark.slow

REFERENCE_CLASSES = 3
PRETRAINED_INPUT = 224       # resnest14d's published preprocessing: resize 256, center crop 224
PRETRAINED_RESIZE = 256
IMAGES_PER_CLASS = 3


def run(script, *args, output_dir):
    env = dict(os.environ, OUTPUT_DIR=str(output_dir))
    return run_script(REPO_ROOT / 'ResNeSt50' / 'scripts' / script, *args, env=env, timeout=900)


@pytest.fixture(scope='module')
def reference(tmp_path_factory):
    """timm's resnest14d with non-trivial weights and a 3-class head, saved as a PyTorch state dict."""
    torch.manual_seed(0)
    model = make_non_trivial(timm_model('resnest14d'), input_size=64)
    model.reset_classifier(REFERENCE_CLASSES)
    model.eval()
    path = tmp_path_factory.mktemp('weights') / 'resnest14d_reference.pth'
    torch.save(model.state_dict(), path)
    return model, path


@pytest.fixture(scope='module')
def shapes(tmp_path_factory):
    return generate(str(tmp_path_factory.mktemp('data') / 'shapes'), 12, 3)


def test_eval_with_pretrained_reference_weights_gives_the_references_predictions(reference, tmp_path):
    """PNG images already at the resize size, so that decoding and resizing are exact in both frameworks:
    the top-1/top-5 counts of eval.py must be the reference's."""
    model, path = reference
    rng = np.random.default_rng(0)
    images, labels = [], []
    for label in range(REFERENCE_CLASSES):
        folder = tmp_path / 'data' / 'val' / f'class{label}'
        folder.mkdir(parents=True)
        for index in range(IMAGES_PER_CLASS):
            pixels = rng.integers(0, 256, (PRETRAINED_RESIZE, PRETRAINED_RESIZE, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f'{index}.png')
            images.append(pixels)
            labels.append(label)
    offset = (PRETRAINED_RESIZE - PRETRAINED_INPUT) // 2
    crops = np.stack(images)[:, offset:offset + PRETRAINED_INPUT, offset:offset + PRETRAINED_INPUT] / 255.0
    batch = ((crops - IMAGENET_MEAN) / IMAGENET_STD).transpose(0, 3, 1, 2).astype(np.float32)
    with torch.no_grad():
        logits = model(torch.from_numpy(batch)).numpy()
    order = np.argsort(-logits, axis=1)
    expected_top1 = int((order[:, 0] == labels).sum())
    expected_top5 = int((order[:, :5] == np.array(labels)[:, None]).any(axis=1).sum())
    assert 0 < expected_top1 < len(labels), "a degenerate reference would not test the predictions"

    result = run_script(REPO_ROOT / 'ResNeSt50' / 'eval.py', '--net', 'resnest14d', '--pretrained', path,
                        '--num_classes', REFERENCE_CLASSES, '--data_dir', tmp_path / 'data',
                        '--output_dir', tmp_path / 'out', timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    [ours] = json.loads((tmp_path / 'out' / 'eval_result.json').read_text())
    assert (ours['top1_correct'], ours['top5_correct'], ours['total']) == (expected_top1, expected_top5, 9)


def test_fine_tuning_onto_another_class_count_trains_a_new_classifier(reference, shapes, tmp_path):
    _, path = reference
    result = run('run_train_cpu.sh', shapes, '--net', 'resnest14d', '--pretrained', path, '--num_classes', 10,
                 '--image_size', 32, '--epochs', 1, '--batch_size', 8, '--base_lr', 0.05,
                 '--backbone_lr_scale', 0.1, '--mixup', 0, '--autoaugment', 'none', output_dir=tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert '3-class classifier, not 10 classes' in result.stdout
    best = json.loads((tmp_path / 'best.json').read_text())
    assert best['total'] == 30 and best['top1_correct'] > 3  # above chance (10 classes)


def test_a_frozen_backbone_keeps_the_pretrained_convolutions(reference, shapes, tmp_path):
    _, path = reference
    result = run('run_train_cpu.sh', shapes, '--net', 'resnest14d', '--pretrained', path, '--num_classes', 10,
                 '--image_size', 32, '--epochs', 1, '--batch_size', 8, '--freeze_backbone', 'True',
                 '--mixup', 0, '--autoaugment', 'none', output_dir=tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    pretrained = rename_torch_state_dict({k: v.numpy() for k, v in torch.load(path).items()})
    trained = ms.load_checkpoint(str(tmp_path / 'best.ckpt'))
    convolutions = [k for k in pretrained if k.endswith('.weight') and pretrained[k].ndim == 4]
    assert len(convolutions) > 20
    for name in convolutions:
        np.testing.assert_array_equal(trained[name].asnumpy(), pretrained[name])
    assert not np.allclose(trained['fc.weight'].asnumpy()[:REFERENCE_CLASSES], pretrained['fc.weight'])
