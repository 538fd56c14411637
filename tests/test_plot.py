"""The training-curve plot command."""
import json

from PIL import Image

from zoo_core.engine.plot import main

PNG_MAGIC = b'\x89PNG'


def write_metrics(run_dir, records):
    (run_dir / 'metrics.jsonl').write_text(''.join(json.dumps(r) + '\n' for r in records))


def test_curves_are_written_as_a_png(tmp_path):
    write_metrics(tmp_path, [dict(epoch=1, loss=2.0, lr=0.1, top1=0.3, top5=0.8),
                             dict(epoch=2, loss=1.5, lr=0.05), dict(epoch=3, loss=1.0, lr=0.0, top1=0.6, top5=0.9)])
    assert main([str(tmp_path)]) == 0
    png = tmp_path / 'curves.png'
    assert png.read_bytes()[:4] == PNG_MAGIC
    assert Image.open(png).size[0] > 500


def test_a_folder_without_metrics_is_a_clear_error(tmp_path, capsys):
    assert main([str(tmp_path)]) == 2
    assert 'no metrics.jsonl' in capsys.readouterr().err


def test_an_empty_metrics_log_is_a_clear_error(tmp_path, capsys):
    write_metrics(tmp_path, [])
    assert main([str(tmp_path)]) == 2
    assert 'empty' in capsys.readouterr().err
