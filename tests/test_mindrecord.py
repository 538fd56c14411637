"""MindRecord datasets: `utils/to_mindrecord.py` converts an ImageFolder tree (in parallel, resumably), and
training and evaluation read the shards with the same transforms and counts as the ImageFolder tree.

The dataset: 3 classes of photo-like JPEGs of varied sizes (tests/helpers/synthetic_photos.py), 10 training and 5
validation images per class, plus one truncated JPEG in val/ that both formats must leave out.
"""
import json
import os
import signal
import subprocess
import time

import pytest
from easydict import EasyDict

from helpers import REPO_ROOT, script_command
from helpers.synthetic_photos import photo_jpeg, write_photo_dataset
from zoo_core.data.dataset import create_eval_dataset, create_train_dataset, index_for
from zoo_core.data.mindrecord import CATALOG_NAME, read_split
from zoo_core.data.mindrecord_convert import PLAN_NAME
from zoo_core.data.recipe import DATA_DEFAULTS

TO_MINDRECORD = REPO_ROOT / 'utils' / 'to_mindrecord.py'
MODEL_DIR = REPO_ROOT / 'ResNeSt50'
CLASS_TINTS = ((1, 0, 0), (0, 1, 0), (0, 0, 1))
TRAIN_PER_CLASS, VAL_PER_CLASS = 10, 5
SHARDS = 4
INTERRUPTED_SHARDS = 12
IMAGE_SIZE = 32
TRUNCATED_BYTES = 300
RUN_TIMEOUT_SECONDS = 300
NET_FLAGS = ['--net', 'resnest14d', '--num_classes', str(len(CLASS_TINTS)), '--image_size', str(IMAGE_SIZE),
             '--eval_batch_size', '4', '--num_parallel_workers', '1']


def write_dataset(root):
    """The photo dataset, with one truncated JPEG in val/class0."""
    write_photo_dataset(root, CLASS_TINTS, TRAIN_PER_CLASS, VAL_PER_CLASS)
    (root / 'val' / 'class0' / 'truncated.jpg').write_bytes(photo_jpeg(7)[:TRUNCATED_BYTES])
    return root


def converted_records(folder):
    """{(split, file): (label, bytes)} of every record of a converted dataset, read back with FileReader."""
    from mindspore.mindrecord import FileReader

    catalog = json.loads((folder / CATALOG_NAME).read_text())
    records = {}
    for split, entry in catalog['splits'].items():
        for name in entry['files']:
            reader = FileReader(str(folder / name))
            for row in reader.get_next():
                records[(split, row['file'])] = (int(row['label']), bytes(row['image']))
            reader.close()
    return records


def convert(data_dir, out, *extra):
    """Run utils/to_mindrecord.py with `SHARDS` shards."""
    return subprocess.run(script_command(TO_MINDRECORD, data_dir, out, '--shards', SHARDS, *extra),
                          capture_output=True, text=True, timeout=RUN_TIMEOUT_SECONDS, check=False)


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp('imagefolder'))


@pytest.fixture(scope='module')
def mindrecord_dir(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp('converted') / 'mr'
    result = convert(data_dir, out, '--workers', '2')
    assert result.returncode == 0, result.stderr
    return out


def config(data_dir, **overrides):
    """A data config of the recipe for `data_dir`."""
    cfg = EasyDict(DATA_DEFAULTS)
    cfg.update(data_dir=str(data_dir), dataset_format='auto', num_classes=len(CLASS_TINTS), image_size=IMAGE_SIZE,
               batch_size=4, eval_batch_size=4, num_parallel_workers=1, autoaugment='none', seed=1)
    cfg.update(overrides)
    return cfg


def finished_shards(out):
    """The shard files in place in the split folders of `out` (not those being written in .partial/)."""
    return [path for split in ('train', 'val') for path in (out / split).glob('*.mindrecord')]


def eval_rows(cfg, rank=0, group_size=1):
    """(label, image bytes) of every image the eval pipeline gives rank `rank`, sorted."""
    rows = []
    for batch in create_eval_dataset(cfg, rank, group_size).create_dict_iterator(output_numpy=True):
        rows += [(int(label), image.tobytes()) for image, label in zip(batch['image'], batch['label'])]
    return sorted(rows)


# --- the conversion ---

def test_the_shards_hold_every_good_image_file_with_its_bytes_and_label(data_dir, mindrecord_dir):
    records = converted_records(mindrecord_dir)
    expected = {}
    for split in ('train', 'val'):
        index = index_for(config(data_dir, dataset_format='imagefolder'), split)
        for path, name in index.samples:
            expected[(split, os.path.relpath(path, data_dir / split))] = (index.classes.index(name),
                                                                          open(path, 'rb').read())
    assert len(expected) == len(CLASS_TINTS) * (TRAIN_PER_CLASS + VAL_PER_CLASS)
    assert records == expected


def test_the_catalog_names_the_classes_shards_and_left_out_files(mindrecord_dir):
    catalog = json.loads((mindrecord_dir / CATALOG_NAME).read_text())
    assert catalog['classes'] == ['class0', 'class1', 'class2']
    assert catalog['splits']['train']['images'] == len(CLASS_TINTS) * TRAIN_PER_CLASS
    assert len(catalog['splits']['val']['files']) == SHARDS
    [bad] = catalog['splits']['val']['bad_files']
    assert bad['file'].endswith('truncated.jpg')
    assert not (mindrecord_dir / PLAN_NAME).exists() and not (mindrecord_dir / '.partial').exists()


def test_converting_into_a_finished_conversion_is_refused(data_dir, mindrecord_dir):
    result = convert(data_dir, mindrecord_dir)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f'error: {mindrecord_dir} already holds a finished conversion '
                                                  f'({mindrecord_dir / CATALOG_NAME})']


@pytest.mark.slow
def test_an_interrupted_conversion_resumes_and_keeps_the_shards_written(tmp_path, data_dir, mindrecord_dir):
    out = tmp_path / 'mr'
    command = script_command(TO_MINDRECORD, data_dir, out, '--shards', INTERRUPTED_SHARDS, '--workers', 1)
    # One worker writing 2 x 12 small shards: killed once the first shard is in place, the rest still to go.
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    while time.monotonic() < deadline and process.poll() is None and not finished_shards(out):
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)  # the converter and its worker, at once, as a crash would
    process.wait()
    written = {path: path.stat().st_mtime_ns for path in finished_shards(out)}
    assert 0 < len(written) < 2 * INTERRUPTED_SHARDS, 'not interrupted mid-way'
    assert not (out / CATALOG_NAME).exists() and (out / PLAN_NAME).exists()

    result = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT_SECONDS, check=False)
    assert result.returncode == 0, result.stderr
    assert f'{len(written)} of {2 * INTERRUPTED_SHARDS} shards already written' in result.stderr
    assert {path: path.stat().st_mtime_ns for path in written} == written  # kept, not rewritten
    assert converted_records(out) == converted_records(mindrecord_dir)


def test_resuming_with_other_arguments_is_refused(tmp_path, data_dir):
    out = tmp_path / 'mr'
    out.mkdir()
    (out / PLAN_NAME).write_text(json.dumps(dict(source=str(data_dir), shards=SHARDS + 1)))
    result = convert(data_dir, out)
    assert result.returncode == 2
    assert f'unfinished conversion of {data_dir} into {SHARDS + 1} shards' in result.stderr


# --- reading: the same pipelines from both formats ---

def test_the_format_is_detected_from_the_folder(data_dir, mindrecord_dir):
    assert type(index_for(config(mindrecord_dir), 'val')).__name__ == 'MindRecordSplit'
    assert type(index_for(config(data_dir), 'val')).__name__ == 'SplitIndex'


def test_eval_pipelines_give_the_same_tensors_from_both_formats(data_dir, mindrecord_dir):
    assert eval_rows(config(mindrecord_dir)) == eval_rows(config(data_dir))


def test_each_rank_evaluates_its_share_of_the_shards_once(data_dir, mindrecord_dir):
    shares = [eval_rows(config(mindrecord_dir), rank, 2) for rank in range(2)]
    assert sorted(shares[0] + shares[1]) == eval_rows(config(data_dir))


def test_training_shards_by_rank_with_equal_steps_like_imagefolder(data_dir, mindrecord_dir):
    for group_size in (1, 2):
        steps = [create_train_dataset(config(mindrecord_dir), rank, group_size).get_dataset_size()
                 for rank in range(group_size)]
        assert steps == [create_train_dataset(config(data_dir), 0, group_size).get_dataset_size()] * group_size
    labels = [create_train_dataset(config(mindrecord_dir), rank, 2).create_dict_iterator(output_numpy=True)
              for rank in range(2)]
    seen = [[int(label) for batch in iterator for label in batch['label']] for iterator in labels]
    assert sorted(set(seen[0]) | set(seen[1])) == [0, 1, 2]


def test_a_missing_shard_is_named(tmp_path, mindrecord_dir):
    copy = tmp_path / 'copy'
    copy.mkdir()
    (copy / CATALOG_NAME).write_text((mindrecord_dir / CATALOG_NAME).read_text())
    with pytest.raises(ValueError, match='4 shard file.s. of .* missing'):
        read_split(str(copy), 'val')


@pytest.mark.slow
def test_eval_over_mindrecord_gives_exactly_the_imagefolder_counts(tmp_path, run_script, data_dir, mindrecord_dir):
    import mindspore as ms
    from zoo_resnest.models import get_network

    checkpoint = tmp_path / 'net.ckpt'
    ms.save_checkpoint(get_network('resnest14d', num_classes=len(CLASS_TINTS)), str(checkpoint))
    results = {}
    for name, folder, extra in (('imagefolder', data_dir, []), ('mindrecord', mindrecord_dir,
                                                                  ['--dataset_format', 'mindrecord'])):
        result = run_script(MODEL_DIR / 'eval.py', '--ckpt_path', checkpoint, '--data_dir', folder,
                            '--output_dir', tmp_path / name, *NET_FLAGS, *extra, timeout=RUN_TIMEOUT_SECONDS)
        assert result.returncode == 0, result.stderr[-4000:]
        [results[name]] = json.loads((tmp_path / name / 'eval_result.json').read_text())
    counts = ('top1_correct', 'top5_correct', 'total', 'skipped')
    assert {k: results['mindrecord'][k] for k in counts} == {k: results['imagefolder'][k] for k in counts}
    assert results['mindrecord']['total'] == len(CLASS_TINTS) * VAL_PER_CLASS
    assert results['mindrecord']['skipped'] == 1


def test_mindrecord_format_on_an_imagefolder_tree_is_a_one_line_error(tmp_path, run_script, data_dir):
    result = run_script(MODEL_DIR / 'eval.py', '--ckpt_path', REPO_ROOT / 'README.md', '--data_dir', data_dir,
                        '--output_dir', tmp_path / 'out', *NET_FLAGS, '--dataset_format', 'mindrecord')
    assert result.returncode == 2
    assert f'no {CATALOG_NAME} in {data_dir}' in result.stderr
    assert 'Traceback' not in result.stderr


def test_the_benchmark_call_builds_the_recipe_pipeline_from_the_shards(mindrecord_dir):
    from zoo_core.data.mindrecord_pipeline import mindrecord_pipeline

    cfg = config('', dataset_format='imagefolder')
    train = mindrecord_pipeline(cfg, mindrecord_dir)
    batch = next(train.create_dict_iterator(output_numpy=True))
    assert batch['image'].shape == (cfg.batch_size, 3, IMAGE_SIZE, IMAGE_SIZE)
    assert train.get_dataset_size() == len(CLASS_TINTS) * TRAIN_PER_CLASS // cfg.batch_size
    assert eval_rows(config(mindrecord_dir)) == sorted(
        (int(label), image.tobytes()) for batch in mindrecord_pipeline(cfg, mindrecord_dir, 'val').create_dict_iterator(
            output_numpy=True) for image, label in zip(batch['image'], batch['label']))


@pytest.mark.slow
def test_training_runs_from_the_shards_and_evaluates_every_val_image(tmp_path, run_script, mindrecord_dir):
    result = run_script(MODEL_DIR / 'train.py', '--data_dir', mindrecord_dir, '--output_dir', tmp_path / 'train',
                        *NET_FLAGS, '--epochs', '1', '--batch_size', '4', '--warmup_epochs', '0',
                        '--autoaugment', 'none', '--mixup', '0', timeout=RUN_TIMEOUT_SECONDS)
    assert result.returncode == 0, result.stderr[-4000:]
    best = json.loads((tmp_path / 'train' / 'best.json').read_text())
    # OUT holds no image file: every training and validation image came from the shards.
    assert best['total'] == len(CLASS_TINTS) * VAL_PER_CLASS
