"""utils/imagenet_val_folders.py sorts ImageNet's flat validation folder into class folders from the devkit's
labels: every image lands in its WordNet-id folder, the archive and the unpacked devkit both work, a rerun
is harmless, and a folder that does not match the ground truth is refused before anything moves."""
import tarfile

import numpy as np
import pytest

from helpers import REPO_ROOT, require

SCRIPT = REPO_ROOT / 'utils' / 'imagenet_val_folders.py'
# Class id -> WordNet id of a tiny devkit; 9 is a non-leaf synset (num_children > 0), as meta.mat has.
LEAVES = {1: 'n01440764', 2: 'n01443537', 3: 'n01484850'}
PARENT = (9, 'n00001740')
GROUND_TRUTH = [2, 1, 3, 3, 1]  # the class id of validation image n on line n


def write_devkit(root):
    """An ILSVRC2012_devkit_t12 folder with meta.mat and the validation ground truth; returns it."""
    scipy_io = require('scipy.io')
    devkit = root / 'ILSVRC2012_devkit_t12'
    (devkit / 'data').mkdir(parents=True)
    rows = [(ident, wnid, 0) for ident, wnid in LEAVES.items()] + [(*PARENT, 3)]
    synsets = np.array(rows, dtype=[('ILSVRC2012_ID', 'O'), ('WNID', 'O'), ('num_children', 'O')])
    scipy_io.savemat(devkit / 'data' / 'meta.mat', {'synsets': synsets})
    (devkit / 'data' / 'ILSVRC2012_validation_ground_truth.txt').write_text(
        ''.join(f'{ident}\n' for ident in GROUND_TRUTH))
    return devkit


def write_flat_val(root):
    """A flat validation folder of the ground truth's images (each file holds its own name)."""
    val = root / 'val'
    val.mkdir()
    for number in range(1, len(GROUND_TRUTH) + 1):
        name = f'ILSVRC2012_val_{number:08d}.JPEG'
        (val / name).write_text(name)
    return val


def sorted_layout(val):
    """{wnid: [image names]} of a sorted validation folder, and the files left at its top."""
    return ({d.name: sorted(f.name for f in d.iterdir()) for d in val.iterdir() if d.is_dir()},
            sorted(f.name for f in val.iterdir() if f.is_file()))


EXPECTED = {'n01440764': ['ILSVRC2012_val_00000002.JPEG', 'ILSVRC2012_val_00000005.JPEG'],
            'n01443537': ['ILSVRC2012_val_00000001.JPEG'],
            'n01484850': ['ILSVRC2012_val_00000003.JPEG', 'ILSVRC2012_val_00000004.JPEG']}


def test_each_image_moves_into_its_wordnet_folder(tmp_path, run_script):
    devkit, val = write_devkit(tmp_path), write_flat_val(tmp_path)
    result = run_script(SCRIPT, val, devkit)
    assert result.returncode == 0, result.stderr
    assert 'moved 5 images into 3 class folders' in result.stdout
    assert sorted_layout(val) == (EXPECTED, [])
    assert (val / 'n01443537' / 'ILSVRC2012_val_00000001.JPEG').read_text() == 'ILSVRC2012_val_00000001.JPEG'


def test_the_devkit_archive_works_as_the_folder_does_and_copy_keeps_the_originals(tmp_path, run_script):
    devkit, val = write_devkit(tmp_path), write_flat_val(tmp_path)
    archive = tmp_path / 'ILSVRC2012_devkit_t12.tar.gz'
    with tarfile.open(archive, 'w:gz') as tar:
        tar.add(devkit, arcname=devkit.name)
    result = run_script(SCRIPT, val, archive, '--copy')
    assert result.returncode == 0, result.stderr
    folders, top = sorted_layout(val)
    assert folders == EXPECTED and len(top) == len(GROUND_TRUTH)


def test_a_second_run_after_sorting_changes_nothing(tmp_path, run_script):
    devkit, val = write_devkit(tmp_path), write_flat_val(tmp_path)
    assert run_script(SCRIPT, val, devkit).returncode == 0
    again = run_script(SCRIPT, val, devkit)
    assert again.returncode == 0 and 'moved 0 images' in again.stdout
    assert sorted_layout(val) == (EXPECTED, [])


@pytest.mark.parametrize('damage, message', [
    (lambda val: (val / 'ILSVRC2012_val_00000004.JPEG').unlink(), '1 validation image(s) neither in'),
    (lambda val: (val / 'notes.txt').write_text('x'), 'that the ground truth does not name'),
], ids=['missing image', 'stray file'])
def test_a_folder_that_does_not_match_the_ground_truth_is_refused_before_anything_moves(tmp_path, run_script,
                                                                                         damage, message):
    devkit, val = write_devkit(tmp_path), write_flat_val(tmp_path)
    damage(val)
    before = sorted_layout(val)
    result = run_script(SCRIPT, val, devkit)
    assert result.returncode == 2 and message in result.stderr and 'Traceback' not in result.stderr
    assert sorted_layout(val) == before


def test_a_path_that_is_no_devkit_is_named(tmp_path, run_script):
    val = write_flat_val(tmp_path)
    result = run_script(SCRIPT, val, tmp_path / 'nothing.tar.gz')
    assert result.returncode == 2 and 'devkit not found' in result.stderr and 'Traceback' not in result.stderr
