"""The recipe files of each model folder's `configs/`: found by name, self-describing, consistent with the
recipes in code, and each one trains as shipped.

The training test reduces only what a one-step run on tiny data must: the network (the family's smallest
variant), the device (the CPU), the data and class count, the image size, the epoch count, the batch size
(the lr follows it by the recipe's own scaling rule), the pretrained file (a checkpoint of the small
network). Every other key, among them AMP, loss scaling, RandAugment strings, erasing, mixup, CutMix,
EMA and clipping, keeps the file's value, which the run's saved config.yaml must show.
"""
import json

import mindspore as ms
import pytest
import yaml

from helpers import REPO_ROOT
from helpers.synthetic_photos import write_photo_dataset
from zoo_core.engine.validate import TRAIN, validate_settings
from zoo_core.runtime.config import ConfigError
from zoo_core.runtime.recipe_files import HEADER_KEYS, recipe_header, shipped_recipes
from zoo_resnest.family import FAMILY as RESNEST
from zoo_resnest.models import get_network as get_resnest
from zoo_resnext.family import FAMILY as RESNEXT
from zoo_resnext.models import get_network as get_resnext

# (model folder, family, smallest variant, its builder)
FAMILIES = [('ResNeSt50', RESNEST, 'resnest14d', get_resnest), ('ResNeXt50', RESNEXT, 'resnext50_32x4d', get_resnext)]
# What every model folder ships: a recipe name contains one of these.
KINDS = ('paper_8dev', 'mindcv_ascend', 'finetune_1dev', 'demo_cpu')
SHIPPED = [(folder, family, net, build, name) for folder, family, net, build in FAMILIES
           for name in shipped_recipes(family.configs_dir)]
CLASS_TINTS = ((0.9, 0.2, 0.1), (0.1, 0.2, 0.9))
BATCH = 4
IMAGE_SIZE = 32
REDUCED_KEYS = {'net', 'device_target', 'num_classes', 'image_size', 'epochs', 'batch_size', 'eval_batch_size',
                'data_dir', 'output_dir', 'log_every', 'num_parallel_workers', 'pretrained'}


def test_every_model_folder_ships_each_kind_of_recipe():
    for _, family, _, _ in FAMILIES:
        names = list(shipped_recipes(family.configs_dir))
        for kind in KINDS:
            assert any(kind in name for name in names), (family.name, kind, names)


@pytest.mark.parametrize('folder, family, net, build, name', SHIPPED, ids=[f'{s[0]}/{s[4]}' for s in SHIPPED])
def test_each_recipe_names_its_source_hardware_and_expected_accuracy_and_passes_the_check(folder, family, net,
                                                                                      build, name):
    header = recipe_header(shipped_recipes(family.configs_dir)[name])
    assert set(header) == set(HEADER_KEYS) and all(len(text) > 10 for text in header.values()), header
    validate_settings(family.get_config(['--config', name, '--data_dir', '/d']), TRAIN)


def test_config_finds_a_shipped_recipe_by_name_with_or_without_its_suffix_and_a_path_still_works(tmp_path):
    by_name = RESNEST.get_config(['--config', 'resnest50_mindcv_ascend'])
    assert by_name.autoaugment == 'randaug-m9-mstd0.5-inc1' and by_name.reprob == 0.25 and by_name.mixup == 0.8
    assert RESNEST.get_config(['--config', 'resnest50_mindcv_ascend.yaml']) == by_name
    path = tmp_path / 'mine.yaml'
    path.write_text('epochs: 3\n')
    assert RESNEST.get_config(['--config', str(path)]).epochs == 3


def test_an_unknown_recipe_name_is_an_error_that_lists_the_shipped_ones():
    with pytest.raises(ConfigError, match='not found: resnest50_nope.*resnest50_mindcv_ascend'):
        RESNEST.get_config(['--config', 'resnest50_nope'])


@pytest.mark.parametrize('family', [RESNEST, RESNEXT], ids=['ResNeSt50', 'ResNeXt50'])
def test_the_demo_file_is_the_built_in_demo_run(family):
    assert family.get_config(['--config', 'demo_cpu']) == family.get_config([])


def test_the_resnest_paper_file_is_the_default_recipe_on_eight_ascend_devices():
    from_file = RESNEST.get_config(['--config', 'resnest50_paper_8dev', '--data_dir', '/d'])
    default = RESNEST.get_config(['--data_dir', '/d'])
    assert {key for key in default if from_file[key] != default[key]} == {'device_target'}


@pytest.fixture(scope='module')
def tiny_data(tmp_path_factory):
    return write_photo_dataset(tmp_path_factory.mktemp('tiny'), CLASS_TINTS, BATCH // len(CLASS_TINTS), 1)


@pytest.fixture(scope='module')
def small_weights(tmp_path_factory):
    """net -> a checkpoint of that (small) network with ImageNet's classifier, as `--pretrained` for the
    fine-tuning recipes."""
    folder = tmp_path_factory.mktemp('weights')

    def weights(net, build):
        path = folder / f'{net}.ckpt'
        if not path.exists():
            ms.save_checkpoint(build(net, num_classes=1000), str(path))
        return path
    return weights


@pytest.mark.slow
@pytest.mark.parametrize('folder, family, net, build, name', SHIPPED, ids=[f'{s[0]}/{s[4]}' for s in SHIPPED])
def test_each_shipped_recipe_trains_one_step_as_shipped(tiny_data, small_weights, tmp_path, run_script, folder,
                                                        family, net, build, name):
    out = tmp_path / 'run'
    shipped = yaml.safe_load(open(shipped_recipes(family.configs_dir)[name], encoding='utf-8'))
    reduced = ['--net', net, '--device_target', 'CPU', '--data_dir', tiny_data, '--num_classes', len(CLASS_TINTS),
               '--image_size', IMAGE_SIZE, '--epochs', 1, '--batch_size', BATCH, '--eval_batch_size', BATCH,
               '--output_dir', out, '--log_every', 1, '--num_parallel_workers', 2]
    if shipped.get('pretrained'):
        reduced += ['--pretrained', small_weights(net, build)]
    result = run_script(REPO_ROOT / folder / 'train.py', '--config', name, *reduced, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    effective = yaml.safe_load((out / 'config.yaml').read_text())
    kept = {key: value for key, value in shipped.items() if key not in REDUCED_KEYS}
    assert {key: effective[key] for key in kept} == kept
    [record] = [json.loads(line) for line in (out / 'metrics.jsonl').read_text().splitlines()]
    assert record['epoch'] == 1 and record['loss'] > 0 and 'top1' in record
    if shipped.get('ema'):
        assert 'ema_top1' in record
