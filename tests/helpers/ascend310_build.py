"""How the tests compile `utils/ascend310_infer`'s C++: the program's own standard and warnings, once."""
import shutil

import pytest

from helpers import REPO_ROOT

INFER_DIR = REPO_ROOT / 'utils' / 'ascend310_infer'
COMPILE_TIMEOUT_S = 120
# CMakeLists.txt's CMAKE_CXX_STANDARD and add_compile_options warnings (test_ascend310_utils checks both).
PROGRAM_CXX_FLAGS = ('-std=c++17', '-Wall', '-Werror')


def gxx_command(*arguments: str) -> list:
    """`g++` with the program's flags, then `arguments`."""
    return ['g++', *PROGRAM_CXX_FLAGS, *arguments]


def require_gxx() -> None:
    """Skip the calling test or fixture when g++ is not installed."""
    if shutil.which('g++') is None:
        pytest.skip('g++ is not installed')
