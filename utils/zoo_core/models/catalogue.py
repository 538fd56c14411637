"""The variants of every installed family, filtered by wildcard, with their size at an input size:
`python -m zoo_core.models [PATTERN ...] [--input_size N] [--names_only]`.

    $ python -m zoo_core.models 'resnest50*' --input_size 224
    network             family   parameters   GMACs  input  crop   interpolation
    resnest50           ResNeSt  27,483,240   5.37   224    0.875  bilinear
    ...

Patterns are shell wildcards (`fnmatch`: `resnest*`, `*32x*`). Sizes are counted from the built network
(`zoo_core.models.summary`). At each variant's published eval size they come from `variant_sizes.json`,
which this command writes with `--update_sizes` and `tests/test_summary.py` checks against the built
networks, so the whole listing answers at once; at another `--input_size` each network is built and run
once (resnest269 takes seconds), with a progress line per network.
"""
import argparse
import fnmatch
import json
import os
import sys
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from zoo_core.models.registry import Registry, installed_registries
from zoo_core.models.summary import GIGA, ModelSummary, summarize
from zoo_core.runtime.errors import ZooError, run_command

COLUMNS = ('network', 'family', 'parameters', 'GMACs', 'input', 'crop', 'interpolation')
# {variant: {"parameters": N, "macs": N, "input_size": N}} at each variant's published eval size.
SIZES_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'variant_sizes.json')


def load_sizes(path: str = SIZES_FILE) -> Dict[str, ModelSummary]:
    """The recorded sizes, by variant name ({} when the file is missing)."""
    if not os.path.isfile(path):
        return {}
    with open(path, encoding='utf-8') as f:
        return {name: ModelSummary(name, **size) for name, size in json.load(f).items()}


def measure(registry: Registry, name: str, input_size: int, position: str = '') -> ModelSummary:
    """Build variant `name` and count its size at `input_size`, saying so on stderr (`position`: '3/20')."""
    print(f"counting {name} at {input_size} px{f' ({position})' if position else ''}", file=sys.stderr, flush=True)
    return summarize(registry.build(name), name, input_size)


def write_sizes(variants: Sequence[Tuple[Registry, str]], path: str = SIZES_FILE) -> None:
    """Measure `variants` ([(registry, name)]) at their published sizes and record them in `path`, keeping
    the recorded sizes of the others."""
    sizes = load_sizes(path)
    for position, (registry, name) in enumerate(variants, 1):
        sizes[name] = measure(registry, name, registry.variant(name).pretrained.input_size,
                              f'{position}/{len(variants)}')
    recorded = {name: {'parameters': size.parameters, 'macs': size.macs, 'input_size': size.input_size}
                for name, size in sorted(sizes.items())}
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(recorded, f, indent=1)
        f.write('\n')


def matching_variants(registries: Iterable[Registry], patterns: Sequence[str]) -> List[Tuple[Registry, str]]:
    """[(registry, name)] of the variants whose name matches any of the wildcard `patterns`, by name."""
    found = [(registry, name) for registry in registries for name in registry.names()
             if any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)]
    return sorted(found, key=lambda item: item[1])


def variant_row(registry: Registry, name: str, input_size: Optional[int] = None,
                sizes: Optional[Dict[str, ModelSummary]] = None) -> List[str]:
    """The table row of variant `name`: its family, size at `input_size` (default: its published eval size;
    taken from `sizes` when recorded there at that size, else measured) and published eval preprocessing."""
    published = registry.variant(name).pretrained
    input_size = input_size or published.input_size
    summary = (sizes or {}).get(name)
    if summary is None or summary.input_size != input_size:
        summary = measure(registry, name, input_size)
    return [name, registry.family, f'{summary.parameters:,}', f'{summary.macs / GIGA:.2f}', str(summary.input_size),
            f'{published.crop_pct:.3f}', published.interpolation]


def format_table(rows: Sequence[Sequence[str]]) -> str:
    """Rows of strings as left-aligned columns under `COLUMNS`."""
    widths = [max(len(row[i]) for row in [COLUMNS, *rows]) for i in range(len(COLUMNS))]
    return '\n'.join('  '.join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
                     for row in [COLUMNS, *rows])


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `python -m zoo_core.models`."""
    parser = argparse.ArgumentParser(prog='python -m zoo_core.models', description=__doc__.split('\n\n')[0])
    parser.add_argument('patterns', nargs='*', default=['*'], metavar='PATTERN',
                        help="shell wildcards on the variant names (default: every variant)")
    parser.add_argument('--input_size', type=int, default=None,
                        help="image size at which MACs are counted (default: each variant's published size)")
    parser.add_argument('--names_only', action='store_true', help="list the names only (no network is built)")
    parser.add_argument('--update_sizes', action='store_true',
                        help=f"build the matching variants, count their sizes at their published input size "
                             f"and record them in {os.path.basename(SIZES_FILE)} (for developers)")
    return parser


def list_variants(args: argparse.Namespace) -> None:
    """Print the variants that the parsed command line `args` asks for."""
    if args.input_size is not None and args.input_size < 1:
        raise ZooError(f"--input_size must be at least 1, got {args.input_size}")
    variants = matching_variants(installed_registries(), args.patterns)
    if not variants:
        raise ZooError(f"no network matches {' '.join(args.patterns)}")
    if args.names_only:
        print('\n'.join(name for _, name in variants))
        return
    if args.update_sizes:
        write_sizes(variants)
        print(f"{len(variants)} sizes recorded in {SIZES_FILE}")
        return
    sizes = load_sizes()
    print(format_table([variant_row(registry, name, args.input_size, sizes) for registry, name in variants]))


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of `python -m zoo_core.models`; returns the exit status."""
    return run_command(list_variants, build_parser().parse_args(argv))
