"""The ImageFolder pipelines: shapes, labels, sharding, and exactly-once evaluation over ranks."""
import os

import numpy as np
import pytest
from easydict import EasyDict
from PIL import Image

from zoo_core.data.dataset import (DatasetError, class_indexing, create_eval_dataset, create_train_dataset,
                              eval_resize_size)
from zoo_core.data.mixing import DRAW_COLUMNS
from zoo_core.data.workers import clamp_workers, workers_per_rank
from zoo_core.models.registry import IMAGENET_MEAN, IMAGENET_STD

CLASSES = ('ant', 'bee', 'cat')


def write_image_folder(root, per_class):
    """An ImageFolder with images whose red channel encodes (class, index), to trace every sample."""
    for split, counts in per_class.items():
        for label, name in enumerate(CLASSES):
            folder = root / split / name
            folder.mkdir(parents=True)
            for index in range(counts[label]):
                pixels = np.full((20, 24, 3), (label * 60 + index * 3, 10, 10), np.uint8)
                Image.fromarray(pixels).save(folder / f'{index:03d}.png')
    return root


def data_cfg(root, **overrides):
    return EasyDict(dict(data_dir=str(root), num_classes=3, image_size=16, crop_pct=0.875, interpolation='bilinear',
                         mean=list(IMAGENET_MEAN), std=list(IMAGENET_STD), batch_size=4, eval_batch_size=4,
                         num_parallel_workers=2, color_jitter=0.4, autoaugment='autoaugment', crop_scale_min=0.08,
                         mixup=0.0, cutmix=0.0, seed=1), **overrides)


@pytest.fixture
def image_folder(tmp_path):
    return write_image_folder(tmp_path, {'train': (5, 4, 3), 'val': (3, 2, 2)})


def test_train_batches_are_uint8_chw_with_integer_labels(image_folder):
    data = create_train_dataset(data_cfg(image_folder))
    images, labels = next(data.create_tuple_iterator(num_epochs=1))
    assert images.shape == (4, 3, 16, 16) and str(images.dtype) == 'UInt8'
    assert str(labels.dtype) == 'Int32' and set(labels.asnumpy()) <= {0, 1, 2}
    assert data.get_dataset_size() == 12 // 4


def test_with_mixup_batches_stay_uint8_and_carry_their_draws_for_the_train_step(image_folder):
    data = create_train_dataset(data_cfg(image_folder, mixup=0.5, cutmix=1.0, autoaugment='none'))
    assert data.get_col_names() == ['image', 'label', *DRAW_COLUMNS]
    for images, labels, perm, box, mix in data.create_tuple_iterator(num_epochs=1, output_numpy=True):
        assert images.dtype == np.uint8 and images.shape == (4, 3, 16, 16)
        assert labels.dtype == np.int32 and labels.shape == (4,)
        assert sorted(perm) == [0, 1, 2, 3] and box.shape == (4,) and mix.shape == (6,)


def test_eval_resize_keeps_the_reference_crop_ratio():
    assert eval_resize_size(224, 0.875) == 256


@pytest.mark.parametrize('ranks', [1, 2, 3, 4])
def test_every_validation_image_is_evaluated_exactly_once_over_ranks(image_folder, ranks):
    seen = []
    for rank in range(ranks):
        data = create_eval_dataset(data_cfg(image_folder), rank, ranks)
        for images, labels in data.create_tuple_iterator(num_epochs=1, output_numpy=True):
            red = images[:, 0, 0, 0] * IMAGENET_STD[0] * 255 + IMAGENET_MEAN[0] * 255
            seen += [(int(lbl), int(round(r))) for lbl, r in zip(labels, red)]
    assert len(seen) == 7 and len(set(seen)) == 7


def test_more_ranks_than_images_leaves_the_extra_ranks_empty(image_folder):
    assert create_eval_dataset(data_cfg(image_folder), 7, 8) is None


def test_labels_come_from_the_training_classes_when_val_lacks_one(tmp_path):
    root = write_image_folder(tmp_path, {'train': (2, 2, 2)})
    (root / 'val' / 'cat').mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root / 'val' / 'cat' / 'x.png')
    assert class_indexing(str(root)) == {'ant': 0, 'bee': 1, 'cat': 2}
    _, labels = next(create_eval_dataset(data_cfg(root), 0, 1).create_tuple_iterator(num_epochs=1))
    assert labels.asnumpy().tolist() == [2]


def test_a_class_count_that_differs_from_the_network_is_a_clear_error(image_folder):
    with pytest.raises(DatasetError, match='--num_classes 3'):
        create_train_dataset(data_cfg(image_folder, num_classes=10))


def test_a_missing_dataset_folder_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetError, match='not found'):
        create_train_dataset(data_cfg(tmp_path / 'nothing'))


def test_a_batch_larger_than_the_shard_is_a_clear_error(image_folder):
    with pytest.raises(DatasetError, match='batch_size'):
        create_train_dataset(data_cfg(image_folder, batch_size=64))


def test_workers_are_clamped_to_the_cores():
    assert clamp_workers(1000) == os.cpu_count()
    assert clamp_workers(0) == 1


def test_auto_workers_share_the_cores_among_the_hosts_ranks():
    cores = len(os.sched_getaffinity(0))
    assert workers_per_rank('auto', local_ranks=1) == cores
    assert workers_per_rank('auto', local_ranks=2) == max(1, cores // 2)
    assert workers_per_rank('auto', local_ranks=cores * 4) == 1


def test_a_worker_count_from_a_flag_or_a_file_is_clamped():
    assert workers_per_rank('1') == 1
    assert workers_per_rank(1000) == os.cpu_count()


def test_the_recipes_default_is_auto_workers():
    from zoo_resnest.family import FAMILY
    assert FAMILY.get_config([]).num_parallel_workers == 'auto'
    assert FAMILY.get_config(['--num_parallel_workers', '2']).num_parallel_workers == '2'


MANIFEST_PROBE = '''
import sys
from easydict import EasyDict
from zoo_core.data.dataset import create_eval_dataset, manifest_dir
from zoo_core.models.registry import IMAGENET_MEAN, IMAGENET_STD
cfg = EasyDict(data_dir=sys.argv[1], output_dir=sys.argv[2], num_classes=3, image_size=16, crop_pct=0.875,
               interpolation='bilinear', mean=list(IMAGENET_MEAN), std=list(IMAGENET_STD), eval_batch_size=4,
               num_parallel_workers=1)
sum(1 for _ in create_eval_dataset(cfg, 0, 1).create_tuple_iterator(num_epochs=1))
print(manifest_dir(sys.argv[2]))
'''
# A process id above Linux's largest (pid_max is at most 2**22): the folder of a process that is gone.
DEAD_PID = 2 ** 22 + 1


def test_manifests_live_in_the_run_folder_and_are_removed_with_their_process(image_folder, tmp_path, run_script):
    output = tmp_path / 'run'
    stale = output / '.manifests' / f'{DEAD_PID}_killed'
    stale.mkdir(parents=True)
    (stale / 'val_x.manifest').write_text('{}')
    result = run_script('-c', MANIFEST_PROBE, image_folder, output)
    assert result.returncode == 0, result.stderr
    used = result.stdout.strip().splitlines()[-1]
    assert os.path.dirname(used) == str(output / '.manifests')
    assert not os.path.exists(used) and not (output / '.manifests').exists()
