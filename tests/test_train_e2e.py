"""End to end through the real scripts: train on a tiny generated dataset, evaluate the best checkpoint,
resume, and the CLI/YAML overrides reaching the run."""
import csv
import glob
import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from helpers import REPO_ROOT
from zoo_core.data.demo_data import generate
from zoo_core.models.summary import summarize
from zoo_resnest.models import REGISTRY as RESNEST_REGISTRY

pytestmark = pytest.mark.slow

TRAIN_PER_CLASS = 12
VAL_PER_CLASS = 5  # 50 validation images: not a multiple of the eval batch below
EPOCHS = 4
RUN_ARGS = ['--net', 'resnest14d', '--num_classes', '10', '--image_size', '32', '--eval_batch_size', '16',
            '--mixup', '0', '--autoaugment', 'none', '--drop_rate', '0', '--log_every', '5']


def run_script(script, *args, output_dir, model='ResNeSt50'):
    """Run `<model>/scripts/<script>` with OUTPUT_DIR set; returns the completed process (asserted ok)."""
    env = dict(os.environ, OUTPUT_DIR=str(output_dir))
    result = subprocess.run(['bash', str(REPO_ROOT / model / 'scripts' / script), *map(str, args)],
                            capture_output=True, text=True, env=env, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def read_metrics(output_dir):
    with open(output_dir / 'metrics.jsonl', encoding='utf-8') as handle:
        return [json.loads(line) for line in handle]


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    return generate(str(tmp_path_factory.mktemp('data') / 'shapes'), TRAIN_PER_CLASS, VAL_PER_CLASS)


@pytest.fixture(scope='module')
def trained(dataset, tmp_path_factory):
    """A 4-epoch run configured partly from a YAML file and partly from flags."""
    output_dir = tmp_path_factory.mktemp('train')
    config = output_dir / 'override.yaml'
    config.write_text(yaml.safe_dump({'batch_size': 8, 'base_lr': 0.05, 'warmup_epochs': 1}))
    result = run_script('run_train_cpu.sh', dataset, '--config', config, '--epochs', EPOCHS, *RUN_ARGS,
                        output_dir=output_dir)
    return output_dir, result.stdout


def test_training_lowers_the_loss_and_beats_chance(trained):
    output_dir, _ = trained
    metrics = read_metrics(output_dir)
    assert [m['epoch'] for m in metrics] == [1, 2, 3, 4]
    assert metrics[-1]['loss'] < metrics[0]['loss']
    assert max(m['top1'] for m in metrics) > 0.3  # 10 classes: chance is 0.1


def test_progress_lines_report_loss_lr_throughput_and_eta(trained):
    _, stdout = trained
    assert 'epoch 1/4 step 5/15 loss' in stdout
    assert ' img/s ETA ' in stdout and ' lr ' in stdout


def test_checkpoints_and_the_best_checkpoint_are_written(trained):
    output_dir, _ = trained
    epochs = sorted(glob.glob(str(output_dir / 'checkpoints' / 'resnest14d-*.ckpt')))
    assert len(epochs) == EPOCHS
    best = json.loads((output_dir / 'best.json').read_text())
    assert (output_dir / 'best.ckpt').is_file()
    assert best['top1'] == max(m['top1'] for m in read_metrics(output_dir))


def test_yaml_and_flag_overrides_reach_the_run(trained):
    output_dir, _ = trained
    saved = yaml.safe_load((output_dir / 'config.yaml').read_text())
    assert (saved['batch_size'], saved['base_lr'], saved['epochs'], saved['image_size']) == (8, 0.05, 4, 32)


def test_eval_of_the_best_checkpoint_reproduces_the_logged_accuracy(trained, dataset, tmp_path):
    output_dir, _ = trained
    best = json.loads((output_dir / 'best.json').read_text())
    run_script('run_eval_cpu.sh', tmp_path, output_dir / 'best.ckpt', dataset, *RUN_ARGS, output_dir=tmp_path)
    [result] = json.loads((tmp_path / 'eval_result.json').read_text())
    assert result['total'] == VAL_PER_CLASS * 10
    assert (result['top1_correct'], result['top5_correct']) == (best['top1_correct'], best['top5_correct'])


def test_eval_of_a_folder_evaluates_every_checkpoint(trained, dataset, tmp_path):
    output_dir, _ = trained
    table = tmp_path / 'results.csv'
    run_script('run_eval_cpu.sh', tmp_path, output_dir / 'checkpoints', dataset, *RUN_ARGS, '--results_file', table,
               output_dir=tmp_path)
    results = json.loads((tmp_path / 'eval_result.json').read_text())
    assert len(results) == EPOCHS and all(r['total'] == 50 for r in results)
    rows = list(csv.DictReader(table.open(encoding='utf-8')))
    assert [row['checkpoint'] for row in rows] == [r['checkpoint'] for r in results]
    for row, result in zip(rows, results):
        assert (row['model'], row['images'], row['img_size'], row['crop_pct'], row['interpolation']) == \
            ('resnest14d', '50', '32', '0.875', 'bilinear')
        assert float(row['top1']) == round(100 * result['top1'], 4)
        assert float(row['top5']) == round(100 * result['top5'], 4)


def test_resume_continues_at_the_saved_epoch_with_the_same_learning_rate(trained, dataset, tmp_path):
    output_dir, _ = trained
    [epoch2] = glob.glob(str(output_dir / 'checkpoints' / 'resnest14d-2_*.ckpt'))
    config = output_dir / 'override.yaml'
    result = run_script('run_train_cpu.sh', dataset, '--config', config, '--epochs', EPOCHS, *RUN_ARGS,
                        '--resume', epoch2, output_dir=tmp_path)
    assert 'resumed from' in result.stdout and 'at epoch 2' in result.stdout
    resumed = read_metrics(tmp_path)
    assert [m['epoch'] for m in resumed] == [3, 4]
    uninterrupted = read_metrics(output_dir)[2:]
    assert [m['lr'] for m in resumed] == pytest.approx([m['lr'] for m in uninterrupted], rel=1e-6)


def test_a_checkpoint_of_another_network_is_refused_with_the_mismatched_names(trained, dataset, tmp_path):
    output_dir, _ = trained
    outside_its_run = tmp_path / 'copied' / 'best.ckpt'  # no config.yaml beside it: the weights themselves decide
    outside_its_run.parent.mkdir()
    shutil.copy(output_dir / 'best.ckpt', outside_its_run)
    env = dict(os.environ, OUTPUT_DIR=str(tmp_path))
    result = subprocess.run(['bash', str(REPO_ROOT / 'ResNeSt50' / 'scripts' / 'run_eval_cpu.sh'), str(tmp_path),
                             str(outside_its_run), str(dataset), *RUN_ARGS[2:], '--net', 'resnest26d'],
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode != 0
    assert 'missing' in result.stderr + result.stdout and 'layer1.1.conv1.weight' in result.stderr + result.stdout
    assert 'Traceback' not in result.stderr


def test_a_net_flag_that_contradicts_the_checkpoints_run_is_one_line_naming_both(trained, dataset, tmp_path):
    output_dir, _ = trained
    result = subprocess.run(['bash', str(REPO_ROOT / 'ResNeSt50' / 'scripts' / 'run_eval_cpu.sh'), str(tmp_path),
                             str(output_dir / 'best.ckpt'), str(dataset), *RUN_ARGS[2:], '--net', 'resnest26d'],
                            capture_output=True, text=True, env=dict(os.environ, OUTPUT_DIR=str(tmp_path)), timeout=600)
    assert result.returncode == 2 and 'Traceback' not in result.stderr
    errors = [line for line in (result.stderr + result.stdout).splitlines() if line.startswith('error:')]
    assert len(errors) == 1 and 'resnest26d contradicts the checkpoint' in errors[0] and 'resnest14d' in errors[0]


def test_the_resnext_folder_trains_and_evaluates_through_its_scripts(dataset, tmp_path):
    args = ['--net', 'resnext50_32x4d', '--num_classes', '10', '--image_size', '32', '--epochs', '1',
            '--batch_size', '16', '--eval_batch_size', '25']
    run_script('run_train_cpu.sh', dataset, *args, output_dir=tmp_path, model='ResNeXt50')
    assert (tmp_path / 'best.ckpt').is_file()
    run_script('run_eval_cpu.sh', tmp_path / 'eval', tmp_path / 'best.ckpt', dataset, *args,
               output_dir=tmp_path / 'eval', model='ResNeXt50')
    [result] = json.loads((tmp_path / 'eval' / 'eval_result.json').read_text())
    assert result['top1_correct'] == json.loads((tmp_path / 'best.json').read_text())['top1_correct']


def predictions_of(output_dir, *source, images, tmp_path):
    """The predictions of ResNeSt50/predict.py with `source` (e.g. --ckpt_path CKPT) over `images`."""
    output = tmp_path / f'predictions_{len(list(tmp_path.iterdir()))}.json'
    result = subprocess.run([sys.executable, str(REPO_ROOT / 'ResNeSt50' / 'predict.py'), *map(str, source),
                             '--topk', '1', '--output', str(output), str(images)],
                            capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return json.loads(output.read_text())


def test_the_run_saves_its_class_names_beside_the_checkpoints_and_in_best_json(trained, dataset):
    output_dir, _ = trained
    classes = sorted(os.listdir(os.path.join(dataset, 'train')))
    expected = {name: label for label, name in enumerate(classes)}
    assert json.loads((output_dir / 'checkpoints' / 'class_indexing.json').read_text()) == expected
    assert json.loads((output_dir / 'best.json').read_text())['class_indexing'] == expected


def test_predict_from_a_checkpoint_names_the_runs_classes_and_scores_as_eval(trained, dataset, tmp_path):
    """predict.py --ckpt_path best.ckpt: the run's class names, and its eval preprocessing (32 px, the fast
    path): the top-1 hits over val/ are those the run's evaluation counted."""
    output_dir, _ = trained
    predictions = predictions_of(output_dir, '--ckpt_path', output_dir / 'best.ckpt',
                                 images=os.path.join(dataset, 'val'), tmp_path=tmp_path)
    assert len(predictions) == VAL_PER_CLASS * 10
    hits = sum(os.path.basename(os.path.dirname(p['image'])) == p['topk'][0]['label'] for p in predictions)
    assert hits == json.loads((output_dir / 'best.json').read_text())['top1_correct']


def test_predict_from_the_exported_checkpoint_gives_the_checkpoints_predictions(trained, dataset, tmp_path):
    output_dir, _ = trained
    images = os.path.join(dataset, 'val', sorted(os.listdir(os.path.join(dataset, 'val')))[0])
    result = subprocess.run([sys.executable, str(REPO_ROOT / 'ResNeSt50' / 'export.py'), '--net', 'resnest14d',
                             '--ckpt_path', str(output_dir / 'best.ckpt'), '--file_name', str(tmp_path / 'best')],
                            capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    from_checkpoint = predictions_of(output_dir, '--ckpt_path', output_dir / 'best.ckpt', images=images,
                                     tmp_path=tmp_path)
    exported = predictions_of(output_dir, '--model', tmp_path / 'best.mindir', images=images, tmp_path=tmp_path)
    assert [p['topk'][0]['label'] for p in exported] == [p['topk'][0]['label'] for p in from_checkpoint]
    assert [p['topk'][0]['probability'] for p in exported] == \
        pytest.approx([p['topk'][0]['probability'] for p in from_checkpoint], abs=1e-5)


def test_the_run_starts_with_the_models_size_at_its_input_size(trained):
    _, stdout = trained
    expected = summarize(RESNEST_REGISTRY.build('resnest14d', num_classes=10), 'resnest14d', 32).describe()
    assert f"model {expected}" in stdout
    assert 'resnest14d: 8.58 M parameters' in expected
