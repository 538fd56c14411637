"""Time to the first training step of every shipped recipe, beside a plain train step of the same network.

Each recipe of `ResNeSt50/configs` and `ResNeXt50/configs` runs through its model folder's real `train.py
--config NAME`, in its own subprocess, with every recipe feature as shipped (AMP level, loss scale, mixup and
CutMix, RandAugment, EMA, clipping, per-group lr, dataset sink) and only these changed, so that it runs on
this CPU: `--device_target CPU`, `--batch_size` (`--batch`), one epoch of a `--images-per-class` subset of
the demo dataset (10 classes), no evaluation, no pretrained file (the fine-tuning recipes' weights are not
downloaded here; a checkpoint's values do not change the graph). The recipe's image size stays.

From the run's progress lines (`--log_every 1`), timed as they arrive:

- build s: start of the command to the start of training (imports, data index, network, optimizer, model);
- first step s: start of training to the end of the first step: graph compilation and one step;
- step s: the median of the later steps.

The peer is `nn.TrainOneStepCell` (SGD with momentum on the cross-entropy, fp32) of the same network at the
same batch and image size, in its own subprocess: its first call (compilation and one step) and the median
of its later calls. `compile overhead` is (first step - step) over the peer's (first call - call): what the
recipe's own features add to the graph's compilation. Peak MB is each process's resident-set high-water mark.

Usage: python benchmarks/first_step.py [--recipes ResNeSt50/resnest50_finetune_1dev,...] [--batch 8] [--json out.json]
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchmark import (CAPPED_ISA, ISA_VARIABLES, RESULT_PREFIX, build_mindspore_network,  # noqa: E402
                       mindspore_train_step, peak_rss_mb, run_in_subprocess, split_choices, start_mindspore,
                       time_calls)
from deterministic_cost import subset_dataset  # noqa: E402  (sibling scripts, not a package)

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir))
sys.path.insert(0, os.path.join(REPO_ROOT, 'utils'))
MODEL_FOLDERS = ('ResNeSt50', 'ResNeXt50')
DEMO_CLASSES = 10
STARTED = re.compile(r'training (\S+) for epochs')
STEP_DONE = re.compile(r'epoch 1/1 step \d+/\d+ ')
PEER_THREADS = 2
BYTES_PER_KB = 1024


def shipped():
    """{'<model folder>/<recipe name>': that folder's `train.py`} of every model folder's `configs/` (both
    folders ship a `demo_cpu`)."""
    from zoo_core.runtime.recipe_files import shipped_recipes
    return {f'{folder}/{name}': os.path.join(REPO_ROOT, folder, 'train.py') for folder in MODEL_FOLDERS
            for name in shipped_recipes(os.path.join(REPO_ROOT, folder, 'configs'))}


def recipe_command(train_script, recipe, args, *, data, output_dir):
    """`train.py --config NAME` of `recipe` ('<folder>/<name>') with only what this CPU needs changed (the
    module docstring's list)."""
    return [sys.executable, train_script, '--config', recipe.split('/')[-1], '--device_target', 'CPU',
            '--data_dir', data, '--output_dir', output_dir, '--num_classes', str(DEMO_CLASSES),
            '--batch_size', str(args.batch), '--epochs', '1', '--warmup_epochs', '0', '--eval_interval', '0',
            '--log_every', '1', '--pretrained', '']


def time_recipe(name, train_script, args, *, data, work):
    """Run one recipe, timing its progress lines; {recipe, network, image_size, build_s, first_step_s, step_s,
    peak_mb}."""
    output_dir = os.path.join(work, name.replace('/', '_'))
    start = time.perf_counter()
    command = recipe_command(train_script, name, args, data=data, output_dir=output_dir)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=work)
    network, started, steps, lines = None, None, [], []
    for line in process.stdout:
        lines.append(line)
        now = time.perf_counter()
        if started is None and STARTED.search(line):
            network, started = STARTED.search(line).group(1), now
        elif STEP_DONE.search(line):
            steps.append(now)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0 or started is None or len(steps) < 2:
        raise SystemExit(f'error: recipe {name} exited {process.returncode} after {len(steps)} steps:\n'
                         + ''.join(lines[-20:]))
    with open(os.path.join(output_dir, 'config.yaml'), encoding='utf-8') as handle:
        image_size = int(re.search(r'^image_size: (\d+)', handle.read(), re.M).group(1))
    row = dict(recipe=name, network=network, image_size=image_size, build_s=started - start,
               first_step_s=steps[0] - started, step_s=statistics.median(b - a for a, b in zip(steps, steps[1:])),
               peak_mb=usage.ru_maxrss / BYTES_PER_KB)
    print(json.dumps(row), flush=True)
    return row


def run_peer(args):
    """In a worker process: the plain train step of `args.peer`; prints its result line."""
    rng = start_mindspore(PEER_THREADS)
    step = mindspore_train_step(build_mindspore_network('ours', args.peer), args.batch, args.image_size, rng)
    first, times = time_calls(step, 0, args.peer_calls)
    print(RESULT_PREFIX + json.dumps(dict(first_call_s=first, call_s=statistics.median(times),
                                          peak_mb=peak_rss_mb())), flush=True)


def time_peer(network, image_size, args):
    """The peer's {first_call_s, call_s, peak_mb} for `network` at `image_size`, from its own subprocess."""
    command = [sys.executable, os.path.abspath(__file__), '--peer', network, '--image-size', str(image_size),
               '--batch', str(args.batch), '--peer-calls', str(args.peer_calls)]
    result = run_in_subprocess(command, dict(os.environ), f'{network} TrainOneStepCell')
    if result is None:
        raise SystemExit(f'error: the plain train step of {network} failed (its output is above)')
    return result


def format_table(rows):
    """The markdown table of the rows (each with its peer's figures)."""
    lines = ['| recipe | network | px | build s | first step s | step s | peer first call s | peer step s | '
             'compile overhead | peak MB | peer peak MB |',
             '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |']
    for row in rows:
        peer = row['peer']
        overhead = (row['first_step_s'] - row['step_s']) / (peer['first_call_s'] - peer['call_s'])
        lines.append(f"| {row['recipe']} | {row['network']} | {row['image_size']} | {row['build_s']:.1f} | "
                     f"{row['first_step_s']:.1f} | {row['step_s']:.2f} | {peer['first_call_s']:.1f} | "
                     f"{peer['call_s']:.2f} | {overhead:.2f}x | {row['peak_mb']:.0f} | {peer['peak_mb']:.0f} |")
    return '\n'.join(lines)


def parse_args(argv=None):
    """The flags; a bad one stops with one `error:` line (exit 2)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--recipes', default='',
                        help='comma-separated <model folder>/<recipe name> (default: every shipped recipe)')
    parser.add_argument('--batch', type=int, default=8, help='images per step, recipes and peers alike')
    parser.add_argument('--images-per-class', type=int, default=4,
                        help='training images per class of the demo subset (10 classes)')
    parser.add_argument('--peer-calls', type=int, default=3, help='timed calls of the peer after its first')
    parser.add_argument('--json', dest='json_path', default='', help='also write the rows to this file')
    parser.add_argument('--peer', default='', help=argparse.SUPPRESS)  # a worker: the peer of this network
    parser.add_argument('--image-size', type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for flag in ('batch', 'images_per_class', 'peer_calls'):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag.replace('_', '-')} must be >= 1, got {getattr(args, flag)}")
    if not args.peer:
        recipes = shipped()
        args.recipe_list = split_choices(parser, '--recipes', args.recipes, tuple(recipes)) if args.recipes \
            else list(recipes)
        args.scripts = {name: recipes[name] for name in args.recipe_list}
        if args.images_per_class * DEMO_CLASSES < 2 * args.batch:
            parser.error(f'--images-per-class {args.images_per_class}: fewer than two steps of --batch '
                         f'{args.batch} (10 classes)')
    return args


def main(argv=None):
    args = parse_args(argv)
    for variable in ISA_VARIABLES:  # the zoo's cap, for the peers as for train.py (which sets it itself)
        os.environ.setdefault(variable, CAPPED_ISA)
    if args.peer:
        run_peer(args)
        return 0
    from zoo_core.data.demo_data import ensure_demo_dataset
    from zoo_core.runtime.isa import cpu_has_avx512
    print(f"CPU: {os.cpu_count()} cores, {'avx512' if cpu_has_avx512() else 'no avx512'}; "
          f"{ISA_VARIABLES[0]}={os.environ[ISA_VARIABLES[0]]}", flush=True)
    rows, peers = [], {}
    with tempfile.TemporaryDirectory(prefix='first_step_') as work:
        data = subset_dataset(ensure_demo_dataset(), os.path.join(work, 'data'), args.images_per_class)
        for name in args.recipe_list:
            row = time_recipe(name, args.scripts[name], args, data=data, work=work)
            key = (row['network'], row['image_size'])
            if key not in peers:
                peers[key] = time_peer(*key, args)
            rows.append(dict(row, peer=peers[key]))
    print(f'\nbatch {args.batch}, {args.images_per_class * DEMO_CLASSES} images, CPU, GRAPH mode\n')
    print(format_table(rows))
    if args.json_path:
        with open(args.json_path, 'w', encoding='utf-8') as handle:
            json.dump(rows, handle, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
