"""Ctrl-C and SIGTERM end eval.py with one line and 128 + the signal, during graph compilation and during its
batches (zoo_core.runtime.errors.run_command), with no traceback and no result file."""
import signal
import subprocess
import sys
import time

import mindspore as ms
import pytest

from helpers import REPO_ROOT
from helpers.photos import write_photo_dataset
from zoo_resnest.family import FAMILY

NET, CLASSES = 'resnest14d', 2
VAL_PER_CLASS = 150
TIMEOUT_S = 300


@pytest.fixture(scope='module')
def evaluation(tmp_path_factory):
    """(the eval command of a resnest14d checkpoint over 300 images, one per batch, its output folder)."""
    root = tmp_path_factory.mktemp('signals')
    checkpoint = root / 'weights.ckpt'
    ms.save_checkpoint(FAMILY.registry.build(NET, num_classes=CLASSES), str(checkpoint))
    data = write_photo_dataset(root / 'data', ((0.9, 0.1, 0.1), (0.1, 0.1, 0.9)), 1, VAL_PER_CLASS, sizes=((40, 40),))
    output = root / 'eval'
    return [sys.executable, str(REPO_ROOT / 'ResNeSt50' / 'eval.py'), '--ckpt_path', str(checkpoint), '--net', NET,
            '--num_classes', str(CLASSES), '--image_size', '32', '--data_dir', str(data), '--output_dir',
            str(output), '--eval_batch_size', '1'], output


def interrupt(command, signum, marker, cwd):
    """Run `command`, send `signum` once `marker` appears in its log, return (exit status, stderr)."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=cwd)
    lines = []
    deadline = time.monotonic() + TIMEOUT_S
    for line in process.stdout:
        lines.append(line)
        if marker in line:
            process.send_signal(signum)
            break
        assert time.monotonic() < deadline, ''.join(lines[-20:])
    rest, _ = process.communicate(timeout=TIMEOUT_S)
    return process.returncode, ''.join(lines) + rest


# (signal, the log line after which it is sent, what the one error line calls it): SIGTERM while the
# batches run, Ctrl-C before the first batch (setup and graph compilation).
INTERRUPTIONS = [(signal.SIGTERM, 'eval: batch 1/', 'SIGTERM'), (signal.SIGINT, 'INFO evaluating', 'SIGINT (Ctrl-C)')]


@pytest.mark.slow
@pytest.mark.parametrize('signum, marker, name', INTERRUPTIONS, ids=['sigterm-during-batches', 'ctrl-c-before-them'])
def test_a_signal_is_one_line_and_128_plus_its_number(evaluation, tmp_path, signum, marker, name):
    command, output = evaluation
    status, log = interrupt(command, signum, marker, tmp_path)
    assert status == 128 + signum, log[-3000:]
    assert log.count(f'error: interrupted by {name}') == 1 and 'Traceback' not in log
    assert not (output / 'eval_result.json').exists()
