"""Convert an ImageFolder dataset into MindRecord shards, MindSpore's own format, for large datasets.

    python utils/to_mindrecord.py DATA_DIR OUT --shards N [--workers W]

DATA_DIR holds train/<class>/<image> and/or val/<class>/<image>. Each split becomes N shard files in
OUT/<split>/ keeping every image file's encoded bytes and its label; OUT/mindrecord.json names the classes,
the shards and the bad image files left out (the same files training skips). train.py and eval.py read
OUT as they read DATA_DIR (--data_dir OUT; the format is detected, or --dataset_format mindrecord), with
the same transforms, each rank reading its share. W processes write the shards (default: the cores);
progress goes to stderr. An interrupted conversion (Ctrl-C, a crash) is resumed by the same command:
the shards already written are kept. Exit status 0 when done, 2 for a usage error, 130 when interrupted.
"""
import argparse
import os
import sys

from zoo_core.data.mindrecord_convert import convert
from zoo_core.runtime.errors import run_command

EXIT_INTERRUPTED = 130


def convert_command(args):
    """Run the conversion of the command line; returns the exit status."""
    try:
        convert(args.data_dir, os.path.abspath(args.out), args.shards, args.workers)
    except KeyboardInterrupt:
        print(f"error: interrupted; the shards written so far are kept in {args.out}: run the same command "
              f"again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


def main(argv=None):
    """Command line; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('data_dir', help="ImageFolder root with train/ and/or val/ (<class>/<image>)")
    parser.add_argument('out', help="output folder (new, or holding an unfinished conversion to resume)")
    parser.add_argument('--shards', type=int, required=True, help="shard files per split")
    parser.add_argument('--workers', type=int, default=os.cpu_count() or 1,
                        help="processes writing shards (default: all cores)")
    return run_command(convert_command, parser.parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
