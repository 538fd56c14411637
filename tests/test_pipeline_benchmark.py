"""benchmarks/pipeline.py: a tiny real run of its rows, its JSON, its extension point and its argument checks."""
import importlib.util
import json

import numpy as np
import pytest

from helpers import REPO_ROOT, require
from helpers.synthetic_photos import write_photo_dataset

SCRIPT = REPO_ROOT / 'benchmarks' / 'pipeline.py'
spec = importlib.util.spec_from_file_location('pipeline_benchmark', SCRIPT)
pipeline = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pipeline)

CROP = 32
BATCH = 4
LABEL_BYTES = 4  # one int32 label per sample


def test_a_tiny_run_reports_every_row_with_the_bytes_each_sends(run_script, tmp_path):
    require('sklearn')
    out = tmp_path / 'pipeline.json'
    result = run_script(SCRIPT, '--images', 16, '--rounds', 2, '--passes', 1, '--batch-size', BATCH, '--image-size', CROP,
                        '--rows', 'recipe,recipe_mindrecord,recipe_host_normalize,limit,pil', '--json', out, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(out.read_text())
    rows = {row['name']: row for row in report['rows']}
    assert list(rows) == ['recipe', 'recipe_mindrecord', 'recipe_host_normalize', 'limit', 'pil']
    assert (rows['recipe_mindrecord']['dtype'], rows['recipe_mindrecord']['bytes_per_sample']) == \
        (rows['recipe']['dtype'], rows['recipe']['bytes_per_sample'])  # the same images and transforms
    assert report['images'] == 16 and report['batch_size'] == BATCH and report['workers'] >= 1
    pixels = 3 * CROP * CROP
    assert (rows['recipe']['dtype'], rows['recipe']['bytes_per_sample']) == ('uint8', pixels + LABEL_BYTES)
    assert (rows['recipe_host_normalize']['dtype'], rows['recipe_host_normalize']['bytes_per_sample']) == \
        ('float32', 4 * pixels + LABEL_BYTES)
    assert rows['limit']['ratio_to_limit'] == 1.0
    for row in rows.values():
        assert len(row['rounds_img_per_s']) == 2 and all(value > 0 for value in row['rounds_img_per_s'])
        assert row['ratio_to_limit'] == pytest.approx(row['img_per_s'] / rows['limit']['img_per_s'])
        assert row['cpu_ms_per_image'] > 0
    assert '| recipe | ' in result.stdout and 'recipe / pil: ' in result.stdout


def test_a_row_added_with_the_decorator_is_measured_like_the_others(tmp_path):
    tree = write_photo_dataset(tmp_path / 'tree', [(0.9, 0.1, 0.1), (0.1, 0.1, 0.9), (0.1, 0.9, 0.1),
                                                   (0.9, 0.9, 0.1)], train_per_class=4, val_per_class=0,
                               sizes=((120, 90),))
    calls = []

    @pipeline.pipeline_row('constant', 'a row another engineer adds')
    def constant_row(bench):
        calls.append(bench.workers)
        return ((np.zeros((BATCH, 3, CROP, CROP), np.uint8), np.zeros(BATCH, np.int32)) for _ in range(3))

    try:
        args = pipeline.parse_args(['--rows', 'limit,constant', '--rounds', '1', '--batch-size', str(BATCH),
                                    '--image-size', str(CROP), '--data-dir', str(tree)])
        report = pipeline.run(args, str(tree), str(tmp_path / 'scratch'))
    finally:
        del pipeline.PIPELINES['constant']
    rows = {row['name']: row for row in report['rows']}
    assert calls == [report['workers']] * 3  # one warm-up pass, then two passes per measurement
    assert rows['constant']['bytes_per_sample'] == 3 * CROP * CROP + LABEL_BYTES
    assert rows['constant']['description'] == 'a row another engineer adds'


@pytest.mark.parametrize('argv, message', [
    (['--rows', 'recipe,dali'], 'unknown or empty'),
    (['--rows', 'recipe,pil'], "must include 'limit'"),
    (['--rounds', '0'], 'must be >= 1'),
])
def test_bad_arguments_are_refused_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        pipeline.parse_args(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
