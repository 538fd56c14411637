"""The file helpers of the Ascend 310 inference program (`utils/ascend310_infer/src/utils.cc`), compiled with
g++ against a stand-in for MindSpore's `include/api/types.h` (no Ascend or MindSpore C++ package here): the
program must list an ImageFolder tree and name its results exactly as the CPU path and postprocess do.
"""
import os
import subprocess

import numpy as np
import pytest

from helpers import REPO_ROOT
from helpers.ascend310_build import COMPILE_TIMEOUT_S, INFER_DIR, PROGRAM_CXX_FLAGS, gxx_command, require_gxx
from test_postprocess import write_image_tree
from zoo_core.deploy.postprocess import create_label_file, image_id, list_image_folder, list_results, load_labels

STUB_DIR = REPO_ROOT / 'tests' / 'helpers' / 'ascend310_stub'
# Class folders that reuse file names, as most trees outside ImageNet do.
REPEATED_NAMES_TREE = {
    'blue': {'img0.jpg': (20, 24), 'img1.png': (24, 20)},
    'green': {'img0.jpg': (16, 16), 'img1.JPEG': (18, 22), 'notes.bmp': (12, 12)},
    'red': {'img0.jpg': (22, 18)},
}


def test_the_tests_compile_with_the_programs_own_standard_and_warnings():
    cmake = (INFER_DIR / 'CMakeLists.txt').read_text()
    standard, *warnings = PROGRAM_CXX_FLAGS
    assert f"set(CMAKE_CXX_STANDARD {standard.removeprefix('-std=c++')})" in cmake
    compile_options = next(line for line in cmake.splitlines() if line.startswith('add_compile_options('))
    assert all(flag in compile_options.split() for flag in warnings)


@pytest.fixture(scope='module')
def list_and_write(tmp_path_factory):
    """The compiled test driver of utils.cc."""
    require_gxx()
    binary = tmp_path_factory.mktemp('ascend310') / 'list_and_write'
    subprocess.run(gxx_command(f'-I{STUB_DIR}', f'-I{INFER_DIR}', str(INFER_DIR / 'src' / 'utils.cc'),
                               str(STUB_DIR / 'list_and_write.cc'), '-o', str(binary)),
                   check=True, timeout=COMPILE_TIMEOUT_S)
    return binary


def test_the_310_program_lists_and_names_images_as_the_python_deploy_path(list_and_write, tmp_path):
    root = write_image_tree(tmp_path / 'val', REPEATED_NAMES_TREE)
    (root / 'red' / 'readme.txt').write_text('not an image')
    results = tmp_path / 'result_Files'
    results.mkdir()
    printed = subprocess.run([str(list_and_write), str(root), str(results)], check=True, capture_output=True,
                             text=True).stdout.split('\n')
    expected_ids = [image_id(os.path.relpath(path, root)) for path, _ in list_image_folder(str(root))]
    assert printed[:-1] == [f'{position} {identifier}' for position, identifier in enumerate(expected_ids)]
    assert 'blue/img0' in expected_ids and 'green/img0' in expected_ids and 'red/img0' in expected_ids

    written = list_results(str(results))
    assert list(written) == expected_ids
    for position, identifier in enumerate(expected_ids):
        assert np.fromfile(written[identifier], dtype=np.float32).tolist() == [position]
    create_label_file(str(root), str(tmp_path / 'labels.json'))
    assert set(load_labels(str(tmp_path / 'labels.json'))) == set(written)


def test_the_310_program_reports_a_result_folder_it_cannot_write(list_and_write, tmp_path):
    root = write_image_tree(tmp_path / 'val', {'a': {'x.jpg': (8, 8)}})
    result = subprocess.run([str(list_and_write), str(root), str(tmp_path / 'missing')], capture_output=True,
                            text=True)
    assert result.returncode == 1
    assert 'cannot create folder' in result.stderr and str(tmp_path / 'missing') in result.stderr
