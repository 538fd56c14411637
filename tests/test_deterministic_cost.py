"""The benchmark of what `--deterministic true` costs: its argument checks and its subset of the demo data.

Its two real training runs per case take minutes; the figures it gave are in docs/REPRODUCIBILITY.md."""
import importlib.util

import pytest

from helpers import REPO_ROOT, run_script

SCRIPT = REPO_ROOT / 'benchmarks' / 'deterministic_cost.py'
spec = importlib.util.spec_from_file_location('deterministic_cost', SCRIPT)
deterministic_cost = importlib.util.module_from_spec(spec)
spec.loader.exec_module(deterministic_cost)


@pytest.mark.parametrize('argv, message', [
    (['--cases', 'demo,imagenet'], '--cases: choose from demo, resnest50'),
    (['--cases', ','], '--cases: choose from demo, resnest50'),
    (['--repeat', '0'], 'must be >= 1'),
    (['--images-per-class', '0'], 'must be >= 1'),
])
def test_bad_arguments_are_one_usage_error(argv, message):
    result = run_script(SCRIPT, *argv)
    assert result.returncode == 2 and message in result.stderr and 'Traceback' not in result.stderr


def test_the_subset_links_the_first_images_of_every_class(tmp_path):
    for split in ('train', 'val'):
        for name in ('a', 'b'):
            (tmp_path / 'src' / split / name).mkdir(parents=True)
            for k in range(5):
                (tmp_path / 'src' / split / name / f'{k}.jpg').write_bytes(b'x')
    subset = deterministic_cost.subset_dataset(str(tmp_path / 'src'), str(tmp_path / 'subset'), 2)
    linked = sorted(p.relative_to(subset).as_posix() for p in (tmp_path / 'subset').rglob('*.jpg'))
    assert linked == [f'{split}/{name}/{k}.jpg' for split in ('train', 'val') for name in ('a', 'b') for k in (0, 1)]
    assert all(p.is_symlink() for p in (tmp_path / 'subset').rglob('*.jpg'))


def test_the_resnest50_case_trains_resnest50_at_224_without_evaluation():
    class Args:
        batch, epochs = 8, 3
    flags = deterministic_cost.case_flags('resnest50', Args, '/data')
    assert flags[flags.index('--net') + 1] == 'resnest50' and flags[flags.index('--image_size') + 1] == '224'
    assert flags[flags.index('--eval_interval') + 1] == '0'
    assert deterministic_cost.case_flags('demo', Args, '/data') == []
