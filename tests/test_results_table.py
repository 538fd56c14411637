"""The results table of eval.py --results_file: timm's validate.py columns and units, appended row by row."""
import csv

import pytest
from easydict import EasyDict

from helpers import REPO_ROOT

from zoo_core.engine.metrics import Accuracy
from zoo_core.engine.results_table import RESULT_COLUMNS, ResultsFileError, append_results, result_row

SETTINGS = EasyDict(image_size=224, crop_pct=0.875, interpolation='bicubic')


def test_a_row_is_in_timms_units():
    row = result_row('resnest50', 'best.ckpt', Accuracy(7, 9, 12, seconds=4.0), 27_483_240, SETTINGS)
    assert row == dict(model='resnest50', checkpoint='best.ckpt', top1=58.3333, top1_err=41.6667, top5=75.0,
                       top5_err=25.0, param_count=27.48, img_size=224, crop_pct=0.875, interpolation='bicubic',
                       images=12, infer_samples_per_sec=3.0)
    assert tuple(row) == RESULT_COLUMNS


def test_the_columns_timm_has_carry_its_names():
    timms = ('model', 'top1', 'top1_err', 'top5', 'top5_err', 'param_count', 'img_size', 'crop_pct', 'interpolation')
    assert set(timms) <= set(RESULT_COLUMNS)


def test_rows_are_appended_under_one_header(tmp_path):
    path = tmp_path / 'tables' / 'results.csv'
    first = result_row('a', 'a.ckpt', Accuracy(1, 2, 2), 10, SETTINGS)
    second = result_row('b', 'b.ckpt', Accuracy(0, 1, 2), 10, SETTINGS)
    append_results(str(path), [first])
    append_results(str(path), [second])
    lines = path.read_text(encoding='utf-8').splitlines()
    assert lines[0] == ','.join(RESULT_COLUMNS) and len(lines) == 3
    assert [row['model'] for row in csv.DictReader(path.open(encoding='utf-8'))] == ['a', 'b']


def test_a_file_with_other_columns_is_refused_untouched(tmp_path):
    path = tmp_path / 'other.csv'
    path.write_text('name,score\nx,1\n', encoding='utf-8')
    with pytest.raises(ResultsFileError, match='other.csv has the columns name, score'):
        append_results(str(path), [result_row('a', 'a.ckpt', Accuracy(1, 2, 2), 10, SETTINGS)])
    assert path.read_text(encoding='utf-8') == 'name,score\nx,1\n'


def test_eval_refuses_a_results_file_of_other_columns_before_evaluating(run_script, tmp_path):
    path = tmp_path / 'other.csv'
    path.write_text('name,score\n', encoding='utf-8')
    weights = tmp_path / 'weights.pth'
    weights.write_bytes(b'never read: the results file is checked first')
    result = run_script(REPO_ROOT / 'ResNeSt50' / 'eval.py', '--net', 'resnest14d', '--pretrained', weights,
                        '--results_file', path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: {path} has the columns name, score")
