"""The GPU scripts need MindSpore 2.2.14, whose wheels exist for Python 3.7-3.9 only (docs/DISTRIBUTED.md,
"GPU builds"): the zoo's code must at least parse as Python 3.9."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OLDEST_PYTHON_OF_THE_LAST_GPU_BUILD = (3, 9)
SOURCES = sorted(path for folder in ('utils', 'ResNeSt50', 'ResNeXt50', 'benchmarks')
                 for path in (ROOT / folder).rglob('*.py'))


def test_the_source_list_covers_the_entry_points():
    names = {path.relative_to(ROOT).as_posix() for path in SOURCES}
    assert {'ResNeSt50/train.py', 'ResNeXt50/eval.py', 'utils/zoo_core/engine/train.py'} <= names


@pytest.mark.parametrize('path', SOURCES, ids=lambda path: path.relative_to(ROOT).as_posix())
def test_parses_as_python_3_9(path):
    ast.parse(path.read_text(encoding='utf-8'), filename=str(path), feature_version=OLDEST_PYTHON_OF_THE_LAST_GPU_BUILD)
