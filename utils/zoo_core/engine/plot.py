"""Plot a run's training curves (loss, learning rate, validation accuracy) from its metrics.jsonl to a PNG.

    python -m zoo_core.engine.plot OUTPUT_DIR [--out curves.png]
"""
import argparse
import json
import os
import sys

from zoo_core.engine.monitor import METRICS_FILE

DEFAULT_PLOT_NAME = 'curves.png'
FIGURE_SIZE = (12, 3.6)
DPI = 100


def read_metrics(run_dir):
    """The per-epoch records of a run, in order; a clear error when there are none."""
    path = os.path.join(run_dir, METRICS_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no {METRICS_FILE} in {run_dir}: is it a training output folder?")
    with open(path, encoding='utf-8') as handle:
        records = [json.loads(line) for line in handle if line.strip()]
    if not records:
        raise ValueError(f"{path} is empty: no epoch has finished yet")
    return records


def plot_curves(records, out_path):
    """Write loss, learning rate and top-1/top-5 (when evaluated) against the epoch to `out_path`."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    epochs = [r['epoch'] for r in records]
    figure, (loss_axis, lr_axis, acc_axis) = plt.subplots(1, 3, figsize=FIGURE_SIZE)
    loss_axis.plot(epochs, [r['loss'] for r in records], marker='o')
    loss_axis.set(title='training loss', xlabel='epoch')
    lr_axis.plot(epochs, [r['lr'] for r in records], marker='o')
    lr_axis.set(title='learning rate (end of epoch)', xlabel='epoch')
    evaluated = [r for r in records if 'top1' in r]
    for key in ('top1', 'top5'):
        acc_axis.plot([r['epoch'] for r in evaluated], [100 * r[key] for r in evaluated], marker='o', label=key)
    acc_axis.set(title='validation accuracy (%)', xlabel='epoch')
    acc_axis.legend()
    figure.tight_layout()
    figure.savefig(out_path, dpi=DPI)
    plt.close(figure)
    return out_path


def main(argv=None):
    """CLI: plot OUTPUT_DIR/metrics.jsonl; exits 2 with a message on a missing or empty log."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('run_dir', help='training output folder (holds metrics.jsonl)')
    parser.add_argument('--out', default=None, help=f'PNG to write (default: RUN_DIR/{DEFAULT_PLOT_NAME})')
    args = parser.parse_args(argv)
    try:
        path = plot_curves(read_metrics(args.run_dir), args.out or os.path.join(args.run_dir, DEFAULT_PLOT_NAME))
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
