"""Every shipped recipe trains as shipped: each family's default recipe, every augmentation it ships on.

Only what a test may reduce is reduced: the network (the family's smallest variant), the image size, the
epoch count and the batch size (the lr follows the batch by the recipe's own scaling rule). Everything
else is the recipe's: ResNeSt-50's AutoAugment, colour jitter, mixup 0.2, dropout 0.2, label smoothing,
no weight decay on BN and biases, warmup and cosine; ResNeXt50's likewise. At least
`MIN_STEPS` steps on photo-like JPEGs of several sizes; the loss must fall and validation beat chance.
"""
import json

import yaml

import pytest

from helpers import REPO_ROOT
from helpers.synthetic_photos import write_photo_dataset
from zoo_resnest.family import FAMILY as RESNEST
from zoo_resnext.family import FAMILY as RESNEXT

MIN_STEPS = 300
CLASS_TINTS = ((0.9, 0.2, 0.1), (0.1, 0.8, 0.2), (0.1, 0.2, 0.9), (0.9, 0.9, 0.1))
TRAIN_PER_CLASS, VAL_PER_CLASS = 16, 8
BATCH_SIZE = 4
IMAGE_SIZE = 32
STEPS_PER_EPOCH = len(CLASS_TINTS) * TRAIN_PER_CLASS // BATCH_SIZE
EPOCHS = -(-MIN_STEPS // STEPS_PER_EPOCH)
# The mean loss of the last LOSS_WINDOW epochs must be below that of the first LOSS_WINDOW (a single
# epoch of 16 mixed batches is too noisy to compare), and validation must beat chance clearly.
LOSS_WINDOW = 5
CHANCE_MULTIPLE = 2.0
# (model folder, family, smallest variant)
RECIPES = [('ResNeSt50', RESNEST, 'resnest14d'), ('ResNeXt50', RESNEXT, 'resnext50_32x4d')]
# What a test may reduce; every other key must keep the recipe's value.
REDUCED_KEYS = {'net', 'image_size', 'epochs', 'batch_size', 'num_classes', 'eval_batch_size', 'data_dir',
                'output_dir', 'log_every'}


@pytest.fixture(scope='module')
def photo_dataset(tmp_path_factory):
    return write_photo_dataset(tmp_path_factory.mktemp('photos'), CLASS_TINTS, TRAIN_PER_CLASS, VAL_PER_CLASS)


@pytest.mark.slow
@pytest.mark.parametrize('model_dir, family, net', RECIPES, ids=[r[0] for r in RECIPES])
def test_the_default_recipe_trains_as_shipped(photo_dataset, tmp_path, run_script, model_dir, family, net):
    out = tmp_path / 'run'
    result = run_script(REPO_ROOT / model_dir / 'train.py', '--data_dir', photo_dataset, '--output_dir', out,
                        '--net', net, '--num_classes', len(CLASS_TINTS), '--image_size', IMAGE_SIZE,
                        '--epochs', EPOCHS, '--batch_size', BATCH_SIZE, '--eval_batch_size', BATCH_SIZE,
                        '--log_every', STEPS_PER_EPOCH, timeout=1500)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    effective = yaml.safe_load((out / 'config.yaml').read_text())
    shipped = family.get_config(['--data_dir', str(photo_dataset), '--net', net])
    changed = {key for key in shipped if effective[key] != (list(shipped[key]) if isinstance(shipped[key], tuple)
                                                             else shipped[key])}
    assert changed <= REDUCED_KEYS, changed
    assert effective['mixup'] == family.recipe['mixup'] and effective['autoaugment'] == family.recipe['autoaugment']

    records = [json.loads(line) for line in (out / 'metrics.jsonl').read_text().splitlines()]
    assert len(records) == EPOCHS and EPOCHS * STEPS_PER_EPOCH >= MIN_STEPS
    losses = [record['loss'] for record in records]
    assert sum(losses[-LOSS_WINDOW:]) < sum(losses[:LOSS_WINDOW]), losses
    assert max(record['top1'] for record in records) >= CHANCE_MULTIPLE / len(CLASS_TINTS), records
