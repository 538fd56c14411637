"""The bad-input suite: each known user mistake gives one line `error: ...` and exit status 2 (a diverging
run: exit status 1), never a traceback.

Most cases run the real entry point in a subprocess and fail before any network is built; the settings
that only the config check refuses run the same `main(FAMILY)` in this process. The two divergence cases
train for a few steps and are slow.
"""
import json

import pytest

from helpers import REPO_ROOT
from zoo_core.data.demo_data import generate
from zoo_core.engine.evaluate import main as eval_main
from zoo_core.engine.train import main as train_main
from zoo_core.engine.validate import TRAIN, validate_settings
from zoo_core.runtime.config import ConfigError
from zoo_core.runtime.errors import EXIT_RUN_FAILED, EXIT_USAGE_ERROR
from zoo_resnest.family import FAMILY

TRAIN_PY = REPO_ROOT / 'ResNeSt50' / 'train.py'
EVAL_PY = REPO_ROOT / 'ResNeSt50' / 'eval.py'
EXPORT_PY = REPO_ROOT / 'ResNeSt50' / 'export.py'
TINY = ['--net', 'resnest14d']
NO_PLOTTING = ("import sys; sys.modules['matplotlib'] = None; "
               "from zoo_core.engine.plot import main; sys.exit(main(sys.argv[1:]))")


def error_line(result, status=EXIT_USAGE_ERROR):
    """The one `error: ...` line of a finished subprocess, after checking its exit status and that no
    traceback was printed."""
    assert result.returncode == status, result.stdout[-2000:] + result.stderr[-2000:]
    assert 'Traceback' not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith('error: ')]
    assert len(errors) == 1, result.stderr
    return errors[0]


def in_process_error(main, argv, capsys):
    """The one line that the engine's `main(FAMILY, argv)` printed, after checking that it returned 2."""
    assert main(FAMILY, argv) == EXIT_USAGE_ERROR
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: '), lines
    return lines[0]


@pytest.fixture
def empty_checkpoint(tmp_path):
    path = tmp_path / 'empty.ckpt'
    path.write_bytes(b'')
    return path


# --- the dataset ---
def test_a_dataset_without_val_says_that_training_evaluates_and_how_to_turn_it_off(run_script, tmp_path):
    (tmp_path / 'data' / 'train' / 'cat').mkdir(parents=True)
    line = error_line(run_script(TRAIN_PY, *TINY, '--data_dir', tmp_path / 'data'))
    assert 'has train/ but no val/' in line and 'evaluates on val/' in line and '--eval_interval 0' in line


def test_a_dataset_without_train_names_the_expected_layout(run_script, tmp_path):
    (tmp_path / 'data' / 'val' / 'cat').mkdir(parents=True)
    line = error_line(run_script(TRAIN_PY, *TINY, '--data_dir', tmp_path / 'data'))
    assert 'no train/ folder' in line and '<data_dir>/train/<class>/<image>' in line


# --- counts ---
@pytest.mark.parametrize('flag, value', [('--epochs', 0), ('--epochs', -1), ('--batch_size', 0),
                                         ('--eval_batch_size', 0)])
def test_a_count_below_one_is_refused(run_script, flag, value):
    line = error_line(run_script(TRAIN_PY, *TINY, flag, value))
    assert f'{flag} must be at least 1, got {value}' in line


# --- device, precision, mode ---
@pytest.mark.parametrize('flag, value, choices', [('--device_target', 'TPU', 'CPU, GPU, Ascend'),
                                                  ('--amp_level', 'O9', 'auto, O0, O1, O2, O3'),
                                                  ('--mode', 'foo', 'graph, pynative')])
def test_an_unknown_choice_lists_the_valid_ones(run_script, flag, value, choices):
    line = error_line(run_script(TRAIN_PY, *TINY, flag, value))
    assert f"unknown {flag[2:]} '{value}'; choose from {choices}" in line


@pytest.mark.parametrize('script, args', [(TRAIN_PY, TINY), (EXPORT_PY, ['--ckpt_path', 'any.ckpt'])],
                         ids=['train', 'export'])
def test_a_device_target_this_build_lacks_names_the_targets_it_has_and_where_to_get_one(run_script, script, args):
    line = error_line(run_script(script, *args, '--device_target', 'GPU'))
    assert 'this MindSpore build has no GPU backend (it has: CPU)' in line
    assert 'no MindSpore release after 2.2.14 has an official GPU (CUDA) build (2.3.x: Ascend only' in line
    assert 'install 2.2.14' in line


# --- weights and checkpoints ---
def test_eval_without_a_checkpoint_names_the_flags_that_give_one(run_script):
    line = error_line(run_script(EVAL_PY, *TINY))
    assert 'nothing to evaluate: pass --ckpt_path FILE_OR_DIR or --pretrained WEIGHTS' in line


@pytest.mark.parametrize('script', [TRAIN_PY, EVAL_PY], ids=['train', 'eval'])
def test_a_missing_pretrained_file_is_named(run_script, tmp_path, script):
    line = error_line(run_script(script, *TINY, '--pretrained', tmp_path / 'absent.pth'))
    assert f'no weight file {tmp_path / "absent.pth"}' in line


def test_a_missing_eval_checkpoint_is_named(run_script, tmp_path):
    line = error_line(run_script(EVAL_PY, *TINY, '--ckpt_path', tmp_path / 'absent.ckpt'))
    assert f'checkpoint not found: {tmp_path / "absent.ckpt"}' in line


def test_a_missing_resume_checkpoint_is_named(run_script, tmp_path):
    line = error_line(run_script(TRAIN_PY, *TINY, '--resume', tmp_path / 'absent.ckpt'))
    assert f'checkpoint not found: {tmp_path / "absent.ckpt"}' in line


@pytest.mark.parametrize('script, flag', [(EVAL_PY, '--ckpt_path'), (TRAIN_PY, '--resume'),
                                          (EXPORT_PY, '--ckpt_path')], ids=['eval', 'resume', 'export'])
def test_an_empty_checkpoint_is_called_empty_not_a_filter_problem(run_script, empty_checkpoint, script, flag):
    line = error_line(run_script(script, *TINY, flag, empty_checkpoint))
    assert f'checkpoint {empty_checkpoint} is empty (0 bytes)' in line and 'truncated' in line
    assert 'filter_prefix' not in line


def test_an_empty_checkpoint_in_an_eval_folder_is_named(run_script, empty_checkpoint):
    line = error_line(run_script(EVAL_PY, *TINY, '--ckpt_path', empty_checkpoint.parent))
    assert f'checkpoint {empty_checkpoint} is empty (0 bytes)' in line


# --- plotting ---
def test_plotting_without_matplotlib_says_how_to_install_it(run_script, tmp_path):
    (tmp_path / 'metrics.jsonl').write_text(json.dumps(dict(epoch=1, loss=2.0, lr=0.1)) + '\n')
    line = error_line(run_script('-c', NO_PLOTTING, tmp_path))
    assert 'plotting needs matplotlib' in line and 'pip install matplotlib' in line


# --- nonsense settings, refused by the config check before anything is built ---
@pytest.mark.parametrize('flag, value, message', [
    ('--image_size', 16, '--image_size must be at least 32'),
    ('--label_smoothing', 1.0, '--label_smoothing must be in [0, 1), got 1.0'),
    ('--label_smoothing', -0.1, '--label_smoothing must be in [0, 1), got -0.1'),
    ('--crop_pct', 0, '--crop_pct must be in (0, 1]'),
    ('--crop_pct', 1.5, '--crop_pct must be in (0, 1]'),
    ('--num_parallel_workers', 0, '--num_parallel_workers must be at least 1'),
    ('--num_parallel_workers', 'many', "--num_parallel_workers must be 'auto' or a number of workers, got 'many'"),
    ('--mixup', -0.2, "--mixup is a Beta distribution's alpha: 0 (off) or more, got -0.2"),
    ('--cutmix', -1, "--cutmix is a Beta distribution's alpha: 0 (off) or more, got -1.0"),
    ('--keep_checkpoint_max', 0, '--keep_checkpoint_max must be at least 1'),
    ('--log_every', 0, '--log_every must be at least 1'),
    ('--lr_schedule', 'linear', "unknown lr_schedule 'linear'; choose from cosine, step"),
    ('--autoaugment', 'randomaug', "unknown autoaugment 'randomaug'; choose from autoaugment, randaugment"),
    ('--autoaugment', 'rand-m9-w0', "policy 'rand-m9-w0': unknown key 'w'"),
    ('--autoaugment', 'rand-m12', "magnitudes above 10 (levels above 1) are not expressible"),
    ('--reprob', 1.5, '--reprob is a probability in [0, 1], got 1.5'),
    ('--accumulate_steps', 0, '--accumulate_steps must be at least 1'),
    ('--clip_grad', -1, '--clip_grad is the largest gradient norm: 0 (off) or more, got -1.0'),
    ('--ema_decay', 1.0, '--ema_decay must be in (0, 1), got 1.0'),
    ('--interpolation', 'lanczos', "unknown interpolation 'lanczos'; choose from bilinear, bicubic, nearest"),
])
def test_train_refuses_a_nonsense_setting(capsys, flag, value, message):
    assert message in in_process_error(train_main, [*TINY, flag, str(value)], capsys)


@pytest.mark.parametrize('flag, value, message', [
    ('--crop_pct', 0, '--crop_pct must be in (0, 1]'),
    ('--image_size', 8, '--image_size must be at least 32'),
    ('--interpolation', 'lanczos', "unknown interpolation 'lanczos'"),
    ('--eval_batch_size', 0, '--eval_batch_size must be at least 1'),
])
def test_eval_refuses_a_nonsense_setting(capsys, flag, value, message):
    assert message in in_process_error(eval_main, [*TINY, '--pretrained', 'x.pth', flag, str(value)], capsys)


def test_a_warmup_as_long_as_the_run_is_warned_about():
    config = FAMILY.get_config([*TINY, '--epochs', '5', '--warmup_epochs', '5'])
    [warning] = validate_settings(config, TRAIN)
    assert '--warmup_epochs 5 >= --epochs 5' in warning and 'only rises' in warning


def test_a_normal_recipe_passes_the_check_without_warnings():
    assert validate_settings(FAMILY.get_config([]), TRAIN) == []


def test_the_check_raises_a_config_error():
    with pytest.raises(ConfigError):
        validate_settings(FAMILY.get_config(['--epochs', '0']), TRAIN)


# --- divergence (trains a few steps) ---
DIVERGING = [*TINY, '--num_classes', '10', '--image_size', '32', '--batch_size', '8', '--eval_interval', '0',
             '--log_every', '1', '--warmup_epochs', '0']


STEPS_PER_EPOCH = 2  # 20 images in batches of 8: the checkpoint callback saves at step 2, where the loss explodes


@pytest.fixture(scope='module')
def small_dataset(tmp_path_factory):
    """2 steps of 8 images per epoch."""
    return generate(str(tmp_path_factory.mktemp('data') / 'shapes'), train_per_class=2, val_per_class=1)


def checkpoints(output_dir):
    return sorted(p.name for p in (output_dir / 'checkpoints').glob('*.ckpt'))


@pytest.mark.slow
def test_a_diverging_run_stops_at_its_step_and_saves_nothing(run_script, small_dataset, tmp_path):
    result = run_script(TRAIN_PY, *DIVERGING, '--data_dir', small_dataset, '--base_lr', '1e6', '--epochs', '2',
                        '--output_dir', tmp_path)
    line = error_line(result, EXIT_RUN_FAILED)
    assert f'at epoch 1 step {STEPS_PER_EPOCH} is above the divergence bound 230.3' in line  # 100 x ln 10
    assert 'training diverged' in line
    assert 'there is no checkpoint yet' in line and 'the diverged weights were not saved' in line
    assert checkpoints(tmp_path) == []


@pytest.mark.slow
def test_a_run_diverging_after_a_checkpoint_names_it_and_adds_none(run_script, small_dataset, tmp_path):
    result = run_script(TRAIN_PY, *DIVERGING, '--data_dir', small_dataset, '--base_lr', '0.01', '--epochs', '1',
                        '--output_dir', tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    [good] = checkpoints(tmp_path)
    result = run_script(TRAIN_PY, *DIVERGING, '--data_dir', small_dataset, '--base_lr', '1e6', '--epochs', '2',
                        '--resume', tmp_path / 'checkpoints' / good, '--output_dir', tmp_path)
    line = error_line(result, EXIT_RUN_FAILED)
    assert 'at epoch 2 step' in line and f"the last good checkpoint is {tmp_path / 'checkpoints' / good}" in line
    assert checkpoints(tmp_path) == [good]
