"""The Ascend 310 inference program against the real MindSpore Lite C++ headers.

PyPI's only MindSpore Lite release (2.0.0, a Python 3.7 wheel) carries Lite's `include/api` headers but no
C++ library to link, so the program's model code (`utils/ascend310_infer/src/model.cc`) and file helpers
(`src/utils.cc`) are compiled, not linked or run. `.ci/run` downloads the wheel and names it in
ZOO_LITE_WHEEL; without it the tests skip locally and fail in CI. The dataset half of `src/main.cc` is not
covered: the wheel has no `include/dataset` headers.
"""
import os
import pathlib
import subprocess
import zipfile

import pytest

from helpers.ascend310_build import COMPILE_TIMEOUT_S, INFER_DIR, gxx_command, require_gxx

WHEEL_VARIABLE = 'ZOO_LITE_WHEEL'
WHEEL_HEADERS = 'mindspore_lite/include/'
# The calls of src/model.cc, as Lite's headers declare them.
LITE_BUILD_FROM_FILE = 'inline Status Build(const std::string &model_path, ModelType model_type,'
LITE_ASCEND_DEVICE = 'class MS_API AscendDeviceInfo : public DeviceInfoContext'


@pytest.fixture(scope='module')
def lite_headers(tmp_path_factory) -> pathlib.Path:
    """A folder whose `include/api` holds the Lite wheel's headers."""
    require_gxx()
    wheel = os.environ.get(WHEEL_VARIABLE)
    if not wheel:
        if os.environ.get('CI'):
            pytest.fail(f'{WHEEL_VARIABLE} is not set: .ci/run downloads mindspore-lite 2.0.0 and sets it')
        pytest.skip(f'{WHEEL_VARIABLE} names no MindSpore Lite wheel (see .ci/run)')
    root = tmp_path_factory.mktemp('lite')
    with zipfile.ZipFile(wheel) as archive:
        members = [name for name in archive.namelist() if name.startswith(WHEEL_HEADERS)]
        archive.extractall(root, members)
    return root / 'mindspore_lite'


def compile_only(sources, include_root, *defines):
    """g++ -fsyntax-only of `sources` with the program's own flags; the completed process."""
    command = gxx_command('-fsyntax-only', '-D_GLIBCXX_USE_CXX11_ABI=0', *[f'-D{name}' for name in defines],
                          f'-I{INFER_DIR}', f'-I{include_root}',
                          *[str(INFER_DIR / 'src' / source) for source in sources])
    return subprocess.run(command, capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S)


def test_the_wheel_declares_what_the_program_calls(lite_headers):
    assert LITE_BUILD_FROM_FILE in (lite_headers / 'include' / 'api' / 'model.h').read_text()
    assert LITE_ASCEND_DEVICE in (lite_headers / 'include' / 'api' / 'context.h').read_text()


@pytest.mark.parametrize('defines', [('ZOO_MINDSPORE_LITE',), ()], ids=['lite', 'pre-2.2-package'])
def test_the_model_code_compiles_against_lite_headers(lite_headers, defines):
    result = compile_only(['model.cc', 'utils.cc'], lite_headers, *defines)
    assert result.returncode == 0, result.stderr

