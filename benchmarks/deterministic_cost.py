"""What `--deterministic true` costs: the same training command with and without it, side by side.

Two cases, each run through the real `ResNeSt50/train.py` in its own subprocess, the two settings
alternating (`--repeat N` pools N pairs; absolute speed drifts between runs on a shared machine):

- `demo`: the README's demo run (the built-in dataset, the shipped demo preset), whole;
- `resnest50`: resnest50's train step at 224 px, batch `--batch`, on a `--images-per-class` subset of the
  demo dataset (10 classes), `--epochs` epochs, no evaluation.

For each run it reports the wall time of the command, the mean img/s of the epochs after the first (the
first compiles the graph) from the run's `metrics.jsonl`, and whether the two settings ended with
bit-equal weights (the last checkpoint). Everything it writes is in a temporary folder, removed at the end.

Usage: python benchmarks/deterministic_cost.py [--cases demo,resnest50] [--repeat 1] [--json out.json]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir))
TRAIN = os.path.join(REPO_ROOT, 'ResNeSt50', 'train.py')
sys.path[:0] = [os.path.join(REPO_ROOT, 'utils'), os.path.join(REPO_ROOT, 'ResNeSt50')]
CASES = ('demo', 'resnest50')
SETTINGS = (('off', []), ('on', ['--deterministic', 'true']))
RUN_TIMEOUT_S = 3600


def subset_dataset(source, destination, per_class):
    """An ImageFolder tree of the first `per_class` images of each class of `source` (symbolic links)."""
    for split in ('train', 'val'):
        for name in sorted(os.listdir(os.path.join(source, split))):
            folder = os.path.join(destination, split, name)
            os.makedirs(folder)
            for image in sorted(os.listdir(os.path.join(source, split, name)))[:per_class]:
                os.symlink(os.path.join(source, split, name, image), os.path.join(folder, image))
    return destination


def case_flags(case, args, data):
    """The flags of `case` after `train.py` (the output folder is added per run)."""
    if case == 'demo':
        return []
    return ['--data_dir', data, '--net', 'resnest50', '--num_classes', '10', '--image_size', '224',
            '--batch_size', str(args.batch), '--epochs', str(args.epochs), '--warmup_epochs', '0',
            '--eval_interval', '0', '--log_every', '1000']


def final_weights(output_dir):
    """{name: array} of the run's newest checkpoint."""
    from zoo_core.weights.checkpoint import checkpoint_files
    from zoo_core.weights.files import load_mindspore_checkpoint
    files = sorted(checkpoint_files(os.path.join(output_dir, 'checkpoints')), key=os.path.getmtime)
    return {name: value.asnumpy() for name, value in load_mindspore_checkpoint(files[-1]).items()}


def run_once(case, setting, flags, output_dir):
    """Run `train.py` once; {wall_s, img_per_s, epochs} (img/s: mean of the epochs after the first)."""
    command = [sys.executable, TRAIN, *flags, *dict(SETTINGS)[setting], '--output_dir', output_dir]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False,
                            cwd=REPO_ROOT)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f'error: {case} with --deterministic {setting} exited {result.returncode}:\n'
                         + result.stderr[-2000:])
    with open(os.path.join(output_dir, 'metrics.jsonl'), encoding='utf-8') as handle:
        records = [json.loads(line) for line in handle]
    steady = [record['images_per_second'] for record in records[1:]] or [records[0]['images_per_second']]
    row = dict(case=case, deterministic=setting, wall_s=round(wall, 1), img_per_s=round(statistics.mean(steady), 2),
               epochs=len(records), top1=records[-1].get('top1'))
    print(json.dumps(row), flush=True)
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--cases', default=','.join(CASES), help=f'comma-separated: {", ".join(CASES)}')
    parser.add_argument('--repeat', type=int, default=1, help='pairs of runs per case')
    parser.add_argument('--batch', type=int, default=8, help='resnest50: images per step')
    parser.add_argument('--epochs', type=int, default=3, help='resnest50: epochs (the first is not timed)')
    parser.add_argument('--images-per-class', type=int, default=8, help='resnest50: training images per class')
    parser.add_argument('--json', dest='json_path', default='', help='also write the rows to this file')
    args = parser.parse_args(argv)
    cases = [case.strip() for case in args.cases.split(',') if case.strip()]
    if not cases or set(cases) - set(CASES):
        parser.error(f'--cases: choose from {", ".join(CASES)}, got {args.cases!r}')
    if min(args.repeat, args.batch, args.epochs, args.images_per_class) < 1:
        parser.error('--repeat, --batch, --epochs and --images-per-class must be >= 1')

    from zoo_core.data.demo_data import ensure_demo_dataset
    from zoo_core.runtime.isa import cpu_has_avx512
    demo = ensure_demo_dataset()
    isa = 'avx512' if cpu_has_avx512() else 'no avx512'
    print(f'CPU: {os.cpu_count()} cores, {isa}; ONEDNN_MAX_CPU_ISA={os.environ.get("ONEDNN_MAX_CPU_ISA", "(zoo cap)")}',
          flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix='deterministic_cost_') as work:
        data = subset_dataset(demo, os.path.join(work, 'data'), args.images_per_class)
        for case in cases:
            flags = case_flags(case, args, data)
            for repeat in range(args.repeat):
                order = SETTINGS if repeat % 2 == 0 else SETTINGS[::-1]
                outputs = {}
                for setting, _ in order:
                    outputs[setting] = os.path.join(work, f'{case}_{setting}_{repeat}')
                    rows.append(run_once(case, setting, flags, outputs[setting]))
                weights = [final_weights(outputs[setting]) for setting, _ in SETTINGS]
                equal = weights[0].keys() == weights[1].keys() and all(
                    np.array_equal(weights[0][name], weights[1][name]) for name in weights[0])
                rows[-1]['same_weights_as_other_setting'] = rows[-2]['same_weights_as_other_setting'] = equal
                for setting, _ in SETTINGS:
                    shutil.rmtree(outputs[setting])
    print(f'\n{"case":<10} {"--deterministic":<16} {"wall s":>8} {"img/s":>8} {"top-1":>7}  same weights')
    for case in cases:
        for setting, _ in SETTINGS:
            mine = [row for row in rows if row['case'] == case and row['deterministic'] == setting]
            top1 = mine[-1]['top1']
            print(f'{case:<10} {setting:<16} {statistics.mean(r["wall_s"] for r in mine):>8.1f} '
                  f'{statistics.mean(r["img_per_s"] for r in mine):>8.2f} '
                  f'{"" if top1 is None else f"{top1:.1%}":>7}  '
                  f'{all(r["same_weights_as_other_setting"] for r in mine)}')
    if args.json_path:
        with open(args.json_path, 'w', encoding='utf-8') as handle:
            json.dump(rows, handle, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
