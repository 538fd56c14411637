"""Plot a run's training curves (loss, learning rate, validation accuracy) from its metrics.jsonl to a PNG.

    python -m zoo_core.engine.plot OUTPUT_DIR [--out curves.png]
"""
import argparse
import json
import os
import sys

from zoo_core.engine.monitor import METRICS_FILE
from zoo_core.runtime.errors import MissingFileError, ZooError, run_command

DEFAULT_PLOT_NAME = 'curves.png'
FIGURE_SIZE = (12, 3.6)
DPI = 100


def read_metrics(run_dir):
    """The per-epoch records of a run in epoch order, one per epoch (the last one written wins: a log of an
    older version repeated the epochs a resumed run ran again); a clear error when there are none."""
    path = os.path.join(run_dir, METRICS_FILE)
    if not os.path.isfile(path):
        raise MissingFileError(f"no {METRICS_FILE} in {run_dir}: is it a training output folder?")
    with open(path, encoding='utf-8') as handle:
        records = [json.loads(line) for line in handle if line.strip()]
    if not records:
        raise ZooError(f"{path} is empty: no epoch has finished yet")
    return sorted({r['epoch']: r for r in records}.values(), key=lambda r: r['epoch'])


def import_pyplot():
    """`matplotlib.pyplot` on the file-only backend; a `ZooError` saying how to install matplotlib without it
    (an optional dependency: only plotting needs it)."""
    try:
        import matplotlib
    except ImportError:
        raise ZooError("plotting needs matplotlib, which is not installed: pip install matplotlib") from None
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def plot_curves(records, out_path):
    """Write loss, learning rate and top-1/top-5 (when evaluated) against the epoch to `out_path`."""
    plt = import_pyplot()
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


def plot_run(run_dir, out_path=None):
    """Plot `run_dir`'s metrics log to `out_path` (default: RUN_DIR/curves.png) and say where."""
    path = plot_curves(read_metrics(run_dir), out_path or os.path.join(run_dir, DEFAULT_PLOT_NAME))
    print(f"wrote {path}")


def main(argv=None):
    """CLI: plot OUTPUT_DIR/metrics.jsonl; returns the exit status (2 with a one-line message on a missing or
    empty log, or without matplotlib)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('run_dir', help='training output folder (holds metrics.jsonl)')
    parser.add_argument('--out', default=None, help=f'PNG to write (default: RUN_DIR/{DEFAULT_PLOT_NAME})')
    args = parser.parse_args(argv)
    return run_command(plot_run, args.run_dir, args.out)


if __name__ == '__main__':
    sys.exit(main())
