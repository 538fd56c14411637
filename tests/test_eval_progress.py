"""eval.py shows progress (img/s, ETA) while it runs, and takes a training-style --batch_size as its batch."""
import logging

import pytest

from zoo_core.engine import evaluate as evaluate_module
from zoo_core.engine.evaluate import EvalProgress, eval_batch_flags


class Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture
def logger():
    log = logging.getLogger('test_eval_progress')
    log.setLevel(logging.INFO)
    handler = Lines()
    log.addHandler(handler)
    yield log, handler.lines
    log.removeHandler(handler)


def test_the_first_batch_is_reported_with_its_rate_and_the_eta(logger):
    log, lines = logger
    EvalProgress(log, total_batches=10, interval=60.0)(1, 32, 2.0)
    assert lines == ['eval: batch 1/10 (32 images on this rank), 16.0 img/s, ETA 18s']


def test_later_batches_are_reported_at_most_once_per_interval(logger, monkeypatch):
    log, lines = logger
    clock = iter([0.0, 5.0, 9.0, 11.0])
    monkeypatch.setattr(evaluate_module.time, 'perf_counter', lambda: next(clock))
    progress = EvalProgress(log, total_batches=4, interval=10.0)
    for batch in range(1, 5):
        progress(batch, batch * 8, float(batch))
    assert [line.split(' (')[0] for line in lines] == ['eval: batch 1/4', 'eval: batch 4/4']


def test_a_training_batch_size_becomes_the_eval_batch_unless_one_is_given(capsys):
    assert eval_batch_flags(['--batch_size', '16']) == ['--batch_size', '16', '--eval_batch_size', '16']
    assert 'taken as --eval_batch_size 16' in capsys.readouterr().out
    given = ['--batch_size', '16', '--eval_batch_size', '8']
    assert eval_batch_flags(given) == given
