"""Bad image files never kill a run: they are named once, left out and counted; odd but valid images train.

The bad files are real files of the kinds a scraped dataset or a 1.28 M-image copy holds: a JPEG cut after
its headers or with no scan after them (either kills MindSpore's decoder with SIGFPE when it reaches it),
a JPEG cut in half, an empty file, text and a GIF under a .jpg name, and a link to a file that is gone. The odd ones must be kept:
1x1, 16-bit, palette, CMYK, alpha, greyscale, and a PNG under a .jpg name.
"""
import json
import os
import signal

import numpy as np
import pytest
from PIL import Image

from helpers import REPO_ROOT
from helpers.synthetic_photos import encoded, photo, photo_jpeg
from zoo_core.data.image_check import check_image
from zoo_core.data.index import DatasetError, index_split

CHECK_DATASET = REPO_ROOT / 'utils' / 'check_dataset.py'
CLASSES = ('cats', 'dogs')
GOOD_PER_CLASS = 8
HEADER_ONLY_BYTES = 200
# name -> (bytes-writing function, expected problem fragment); written into the first class folder.
BAD_FILES = {
    'header_only.jpg': (lambda: photo_jpeg(7)[:HEADER_ONLY_BYTES], 'JPEG without image data'),
    'no_scan.jpg': (lambda: headers_then_end(photo_jpeg(12)), 'JPEG without image data'),
    'half.jpg': (lambda: photo_jpeg(8)[:len(photo_jpeg(8)) // 2], 'cannot be decoded'),
    'empty.jpg': (lambda: b'', 'empty file'),
    'notes.jpg': (lambda: b'these are not pixels\n' * 20, 'not a JPEG, PNG, BMP or TIFF image'),
    'animation.jpg': (lambda: encoded(photo(9), 'GIF'), 'not a JPEG, PNG, BMP or TIFF image'),
}
MISSING_TARGET = 'gone.jpg'


def headers_then_end(jpeg):
    """A JPEG's marker segments followed directly by its end marker: no scan (also SIGFPE in the decoder)."""
    return jpeg[:jpeg.index(b'\xff\xda')] + b'\xff\xd9'


ODD_FILES = {
    'one_pixel.jpg': lambda: encoded(Image.new('RGB', (1, 1), (200, 10, 10)), 'JPEG'),
    'sixteen_bit.png': lambda: encoded(Image.fromarray((np.arange(48 * 40).reshape(40, 48) * 20).astype(np.uint16)),
                                       'PNG'),
    'palette.png': lambda: encoded(photo(3).convert('P'), 'PNG'),
    'cmyk.jpg': lambda: encoded(photo(4).convert('CMYK'), 'JPEG'),
    'alpha.png': lambda: encoded(photo(5).convert('RGBA'), 'PNG'),
    'grey.jpg': lambda: encoded(photo(6).convert('L'), 'JPEG'),
    'png_named.jpg': lambda: encoded(photo(10), 'PNG'),
}


def write_tree(root, bad=True):
    """An ImageFolder dataset (train/ and val/) with good photos, odd valid images and (with `bad`) bad files;
    returns {split: [bad file paths]}."""
    bad_paths = {}
    for split in ('train', 'val'):
        for index, name in enumerate(CLASSES):
            folder = root / split / name
            folder.mkdir(parents=True)
            for k in range(GOOD_PER_CLASS):
                (folder / f'{name}_{k}.jpg').write_bytes(photo_jpeg(100 * index + k))
        odd_folder = root / split / CLASSES[1]
        for file_name, make in ODD_FILES.items():
            (odd_folder / file_name).write_bytes(make())
        if bad:
            bad_folder = root / split / CLASSES[0]
            for file_name, (make, _) in BAD_FILES.items():
                (bad_folder / file_name).write_bytes(make())
            os.symlink(bad_folder / 'does_not_exist.jpg', bad_folder / MISSING_TARGET)
            bad_paths[split] = sorted(str(bad_folder / f) for f in list(BAD_FILES) + [MISSING_TARGET])
    return bad_paths


@pytest.mark.parametrize('file_name', ['header_only.jpg', 'no_scan.jpg'])
def test_mindspores_decoder_dies_of_a_jpeg_without_scan_data(tmp_path, run_script, file_name):
    """Why the check exists: MindSpore 2.10's decoder takes the process down with SIGFPE on these files."""
    path = tmp_path / file_name
    path.write_bytes(BAD_FILES[file_name][0]())
    decode = f"import numpy, mindspore.dataset.vision as v; v.Decode()(numpy.fromfile({str(path)!r}, numpy.uint8))"
    assert run_script('-c', decode).returncode == -signal.SIGFPE


@pytest.mark.parametrize('file_name', sorted(BAD_FILES))
def test_each_kind_of_bad_file_is_found_with_its_problem(tmp_path, file_name):
    make, problem = BAD_FILES[file_name]
    path = tmp_path / file_name
    path.write_bytes(make())
    assert problem in check_image(str(path))


def test_a_link_to_a_missing_file_is_a_bad_file(tmp_path):
    os.symlink(tmp_path / 'nothing.jpg', tmp_path / 'link.jpg')
    assert 'cannot be read' in check_image(str(tmp_path / 'link.jpg'))


@pytest.mark.parametrize('file_name', sorted(ODD_FILES))
def test_odd_but_valid_images_are_kept(tmp_path, file_name):
    path = tmp_path / file_name
    path.write_bytes(ODD_FILES[file_name]())
    assert check_image(str(path)) is None and check_image(str(path), thorough=True) is None


def test_a_jpeg_with_bytes_after_its_end_marker_is_kept(tmp_path):
    path = tmp_path / 'trailer.jpg'
    path.write_bytes(photo_jpeg(11) + b'camera maker notes ' * 40)
    assert check_image(str(path)) is None


def test_the_index_leaves_each_bad_file_out_and_warns_once(tmp_path, caplog):
    bad = write_tree(tmp_path)
    with caplog.at_level('WARNING', logger='zoo_core'):
        index = index_split(str(tmp_path / 'train'), list(CLASSES))
    assert sorted(path for path, _ in index.bad_files) == bad['train']
    assert len(index.samples) == 2 * GOOD_PER_CLASS + len(ODD_FILES)
    for path in bad['train']:
        assert sum(path in record.getMessage() for record in caplog.records) == 1, path


def test_strict_data_makes_the_first_bad_file_an_error(tmp_path):
    write_tree(tmp_path)
    with pytest.raises(DatasetError, match=r'bad image file .*cats/(animation|empty|gone|half|header_only|no_scan|notes)'):
        index_split(str(tmp_path / 'train'), list(CLASSES), strict=True)


def test_an_empty_class_folder_is_not_a_class(tmp_path):
    from zoo_core.data.dataset import class_indexing
    write_tree(tmp_path, bad=False)
    (tmp_path / 'train' / 'empty_class').mkdir()
    assert class_indexing(str(tmp_path)) == {'cats': 0, 'dogs': 1}


def test_check_dataset_lists_every_bad_file_and_fails(tmp_path, run_script):
    bad = write_tree(tmp_path / 'data')
    result = run_script(CHECK_DATASET, tmp_path / 'data', '--workers', 2, '--list', tmp_path / 'bad.txt')
    assert result.returncode == 1, result.stdout + result.stderr
    listed = sorted((tmp_path / 'bad.txt').read_text().split())
    assert listed == sorted(bad['train'] + bad['val'])
    assert f"{len(listed)} bad of " in result.stdout and 'Traceback' not in result.stderr


def test_check_dataset_passes_a_clean_dataset(tmp_path, run_script):
    write_tree(tmp_path / 'data', bad=False)
    result = run_script(CHECK_DATASET, tmp_path / 'data')
    assert result.returncode == 0 and '0 bad of ' in result.stdout, result.stdout + result.stderr


def test_check_dataset_reports_a_missing_folder_in_one_line(tmp_path, run_script):
    result = run_script(CHECK_DATASET, tmp_path / 'nothing')
    assert result.returncode == 2 and result.stderr.startswith('error: dataset folder not found')


TRAIN_FLAGS = ('--net', 'resnest14d', '--num_classes', len(CLASSES), '--image_size', 32, '--batch_size', 4,
               '--eval_batch_size', 4, '--epochs', 1, '--num_parallel_workers', 2)


@pytest.mark.slow
def test_training_and_evaluation_survive_bad_files_and_count_them(tmp_path, run_script):
    bad = write_tree(tmp_path / 'data')
    (tmp_path / 'data' / 'train' / 'empty_class').mkdir()
    out = tmp_path / 'run'
    train = run_script(REPO_ROOT / 'ResNeSt50' / 'train.py', '--data_dir', tmp_path / 'data', '--output_dir', out,
                       *TRAIN_FLAGS, timeout=900)
    assert train.returncode == 0, train.stdout[-3000:] + train.stderr[-3000:]
    log = train.stdout + train.stderr
    for path in bad['train'] + bad['val']:
        assert log.count(f'skipping bad image file {path}:') == 1, path
    assert f"{len(bad['train'])} bad image file(s) skipped" in log
    assert log.count('class folder(s) without images left out: empty_class') == 1
    record = json.loads((out / 'metrics.jsonl').read_text().splitlines()[-1])
    assert record['skipped_files'] == len(bad['train'])
    assert record['val_images'] == 2 * GOOD_PER_CLASS + len(ODD_FILES)

    evaluated = run_script(REPO_ROOT / 'ResNeSt50' / 'eval.py', '--data_dir', tmp_path / 'data', '--ckpt_path',
                           out / 'best.ckpt', '--output_dir', tmp_path / 'eval', *TRAIN_FLAGS[:6], timeout=900)
    assert evaluated.returncode == 0, evaluated.stdout[-3000:] + evaluated.stderr[-3000:]
    result = json.loads((tmp_path / 'eval' / 'eval_result.json').read_text())[0]
    assert result['total'] == 2 * GOOD_PER_CLASS + len(ODD_FILES)
    assert result['skipped'] == len(bad['val'])
    assert sorted(entry['file'] for entry in result['skipped_files']) == bad['val']


@pytest.mark.slow
def test_strict_data_stops_training_with_the_files_name(tmp_path, run_script):
    write_tree(tmp_path / 'data')
    result = run_script(REPO_ROOT / 'ResNeSt50' / 'train.py', '--data_dir', tmp_path / 'data', '--output_dir',
                        tmp_path / 'run', '--strict_data', 'true', *TRAIN_FLAGS, timeout=900)
    assert result.returncode == 2
    assert result.stderr.startswith('error: bad image file ') and 'Traceback' not in result.stderr
