"""A newcomer's second hour, through the real entry points as subprocesses: train past the demo (a
non-default network, class count and image size), then evaluate, export, score on the CPU and predict with
nothing but the checkpoint's path, on class folders that reuse file names and a folder with a bad file, and
Ctrl-C an evaluation. Every step does what the user meant, or ends in one line; none shows a traceback."""
import json
import signal
import subprocess
import sys
import time

import pytest

from helpers import REPO_ROOT
from helpers.synthetic_photos import write_photo_dataset

pytestmark = pytest.mark.slow

MODEL = REPO_ROOT / 'ResNeSt50'
NET = 'resnest14d'  # not the family's default (resnest50)
TINTS = ((0.9, 0.1, 0.1), (0.1, 0.9, 0.1), (0.1, 0.1, 0.9))  # 3 classes, not ImageNet's 1000
IMAGE_SIZE = 48  # not the variant's 224
TRAIN_PER_CLASS, VAL_PER_CLASS = 16, 6
STEP_TIMEOUT_S = 900
# predict.py's status when some files could not be read (the others are predicted).
EXIT_SOME_SKIPPED = 3


def run(*command, cwd):
    """Run `command`; returns (exit status, stdout + stderr), after checking no traceback was printed."""
    result = subprocess.run([str(part) for part in command], capture_output=True, text=True, cwd=cwd,
                            timeout=STEP_TIMEOUT_S)
    output = result.stdout + result.stderr
    assert 'Traceback' not in output, output[-3000:]
    return result.returncode, output


@pytest.fixture(scope='module')
def walk(tmp_path_factory):
    """The trained run: (work folder, dataset, run folder)."""
    root = tmp_path_factory.mktemp('newcomer')
    # write_photo_dataset names the images 0000.jpg, 0001.jpg, ... in every class folder: repeated names.
    data = write_photo_dataset(root / 'data', TINTS, TRAIN_PER_CLASS, VAL_PER_CLASS)
    run_dir = root / 'run'
    status, output = run(sys.executable, MODEL / 'train.py', '--data_dir', data, '--net', NET, '--num_classes',
                         len(TINTS), '--image_size', IMAGE_SIZE, '--epochs', 2, '--batch_size', 8,
                         '--warmup_epochs', 0, '--output_dir', run_dir, cwd=root)
    assert status == 0, output[-3000:]
    return root, data, run_dir


def test_eval_takes_everything_but_the_data_from_the_checkpoints_run(walk):
    root, data, run_dir = walk
    status, output = run(sys.executable, MODEL / 'eval.py', '--ckpt_path', run_dir / 'best.ckpt', '--data_dir', data,
                         '--output_dir', root / 'eval', cwd=root)
    assert status == 0, output[-3000:]
    best = json.loads((run_dir / 'best.json').read_text())
    [result] = json.loads((root / 'eval' / 'eval_result.json').read_text())
    assert result['net'] == NET and result['total'] == len(TINTS) * VAL_PER_CLASS
    assert result['top1_correct'] == best['top1_correct']


def test_export_then_cpu_inference_then_scoring_need_only_the_paths(walk):
    root, data, run_dir = walk
    status, output = run(sys.executable, MODEL / 'export.py', '--ckpt_path', run_dir / 'best.ckpt', cwd=root)
    assert status == 0, output[-3000:]
    mindir = root / f'{NET}.mindir'
    assert mindir.is_file() and f'at {IMAGE_SIZE}x{IMAGE_SIZE}' in output
    status, output = run('bash', MODEL / 'scripts' / 'run_infer_cpu.sh', mindir, data / 'val', cwd=root)
    assert status == 0, output[-3000:]
    images = len(TINTS) * VAL_PER_CLASS
    assert f'images: {images}' in output  # every class's 0000.jpg scored, none overwritten
    assert sum(1 for _ in (root / 'result_Files').rglob('*_0.bin')) == images


def test_predict_names_a_bad_file_and_predicts_the_others(walk):
    root, data, run_dir = walk
    folder = root / 'photos'
    folder.mkdir()
    for path in sorted((data / 'val' / 'class0').iterdir())[:2]:
        (folder / path.name).write_bytes(path.read_bytes())
    (folder / 'broken.jpg').write_bytes(b'not a jpeg')
    status, output = run(sys.executable, MODEL / 'predict.py', '--ckpt_path', run_dir / 'best.ckpt', folder,
                         '--output', root / 'predictions.json', cwd=root)
    assert status == EXIT_SOME_SKIPPED, output[-3000:]
    assert 'broken.jpg' in output
    predicted = json.loads((root / 'predictions.json').read_text())
    assert sorted(row['image'].rsplit('/', 1)[-1] for row in predicted) == ['0000.jpg', '0001.jpg']
    # The run's class names (the folder names), not ImageNet's.
    assert all({entry['label'] for entry in row['topk']} <= {'class0', 'class1', 'class2'} for row in predicted)


def test_ctrl_c_on_eval_is_one_line_and_130(walk):
    root, data, run_dir = walk
    process = subprocess.Popen([sys.executable, str(MODEL / 'eval.py'), '--ckpt_path', str(run_dir / 'best.ckpt'),
                                '--data_dir', str(data), '--output_dir', str(root / 'eval_stopped')],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=root)
    lines = []
    deadline = time.monotonic() + STEP_TIMEOUT_S
    for line in process.stdout:
        lines.append(line)
        if 'evaluating' in line:
            process.send_signal(signal.SIGINT)
            break
        assert time.monotonic() < deadline
    rest, _ = process.communicate(timeout=STEP_TIMEOUT_S)
    output = ''.join(lines) + rest
    assert process.returncode == 130, output[-3000:]
    assert output.count('error: interrupted by SIGINT (Ctrl-C)') == 1 and 'Traceback' not in output
    assert not (root / 'eval_stopped' / 'eval_result.json').exists()
