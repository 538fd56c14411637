"""The variants of every installed family, filtered by wildcard, with their size at an input size:
`python -m zoo_core.models [PATTERN ...] [--input_size N] [--names_only]`.

    $ python -m zoo_core.models 'resnest50*' --input_size 224
    network             family   parameters   GMACs  input  crop   interpolation
    resnest50           ResNeSt  27,483,240   5.37   224    0.875  bilinear
    ...

Patterns are shell wildcards (`fnmatch`: `resnest*`, `*32x*`); sizes are counted from the built network
(`zoo_core.models.summary`) at `--input_size`, by default each variant's published eval size.
"""
import argparse
import fnmatch

from zoo_core.models.registry import installed_registries
from zoo_core.models.summary import GIGA, summarize
from zoo_core.runtime.errors import ZooError, run_command

COLUMNS = ('network', 'family', 'parameters', 'GMACs', 'input', 'crop', 'interpolation')


def matching_variants(registries, patterns):
    """[(registry, name)] of the variants whose name matches any of the wildcard `patterns`, by name."""
    found = [(registry, name) for registry in registries for name in registry.names()
             if any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)]
    return sorted(found, key=lambda item: item[1])


def variant_row(registry, name, input_size=None):
    """The table row of variant `name`: its family, size at `input_size` (default: its published eval size)
    and published eval preprocessing."""
    published = registry.variant(name).pretrained
    summary = summarize(registry.build(name), name, input_size or published.input_size)
    return [name, registry.family, f'{summary.parameters:,}', f'{summary.macs / GIGA:.2f}', str(summary.input_size),
            f'{published.crop_pct:.3f}', published.interpolation]


def format_table(rows):
    """Rows of strings as left-aligned columns under `COLUMNS`."""
    widths = [max(len(row[i]) for row in [COLUMNS, *rows]) for i in range(len(COLUMNS))]
    return '\n'.join('  '.join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
                     for row in [COLUMNS, *rows])


def build_parser():
    """The argument parser of `python -m zoo_core.models`."""
    parser = argparse.ArgumentParser(prog='python -m zoo_core.models', description=__doc__.split('\n\n')[0])
    parser.add_argument('patterns', nargs='*', default=['*'], metavar='PATTERN',
                        help="shell wildcards on the variant names (default: every variant)")
    parser.add_argument('--input_size', type=int, default=None,
                        help="image size at which MACs are counted (default: each variant's published size)")
    parser.add_argument('--names_only', action='store_true', help="list the names only (no network is built)")
    return parser


def list_variants(args):
    """Print the variants that the parsed command line `args` asks for."""
    if args.input_size is not None and args.input_size < 1:
        raise ZooError(f"--input_size must be at least 1, got {args.input_size}")
    variants = matching_variants(installed_registries(), args.patterns)
    if not variants:
        raise ZooError(f"no network matches {' '.join(args.patterns)}")
    if args.names_only:
        print('\n'.join(name for _, name in variants))
        return
    print(format_table([variant_row(registry, name, args.input_size) for registry, name in variants]))


def main(argv=None):
    """Entry point of `python -m zoo_core.models`; returns the exit status."""
    return run_command(list_variants, build_parser().parse_args(argv))
