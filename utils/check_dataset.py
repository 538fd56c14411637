"""Check every image of an ImageFolder dataset before a long run, on all cores.

    python utils/check_dataset.py DATA_DIR [--workers N] [--quick] [--list bad_files.txt]

DATA_DIR is a dataset root with train/ and val/ (each `<class>/<image>`), or one such split. Every image
is decoded with Pillow (`--quick`: only the header and end-marker checks that training itself runs). The
bad files are printed (`path: problem`), and the exit status is 1 when there is any, 0 when there is
none, 2 for a usage error. Training and evaluation skip the same files by themselves, naming each one;
this finds them all at once, before the run starts.
"""
import argparse
import os
import sys
from concurrent.futures import ProcessPoolExecutor

from zoo_core.data.image_check import check_image
from zoo_core.data.images import is_image_file
from zoo_core.runtime.errors import EXIT_RUN_FAILED, MissingFileError, ZooError, run_command

SPLITS = ('train', 'val')
# Files handed to a worker at a time: large enough to amortise the inter-process hop.
CHUNK_SIZE = 64


def image_paths(data_dir):
    """Every image file (by extension) under the splits of `data_dir`, or under `data_dir` itself."""
    if not os.path.isdir(data_dir):
        raise MissingFileError(f"dataset folder not found: {data_dir}")
    roots = [os.path.join(data_dir, s) for s in SPLITS if os.path.isdir(os.path.join(data_dir, s))] or [data_dir]
    paths = [os.path.join(folder, name) for root in roots for folder, _, names in sorted(os.walk(root))
             for name in sorted(names) if is_image_file(name)]
    if not paths:
        raise ZooError(f"no image files under {data_dir}")
    return paths


def thorough_check(path):
    """`check_image` with a full decode (a top-level function, so that worker processes can run it)."""
    return check_image(path, thorough=True)


def find_bad_files(paths, workers, quick=False):
    """(path, problem) of every bad file among `paths`, in order, checked by `workers` processes."""
    check = check_image if quick else thorough_check
    with ProcessPoolExecutor(workers) as pool:
        problems = list(pool.map(check, paths, chunksize=CHUNK_SIZE))
    return [(path, problem) for path, problem in zip(paths, problems) if problem is not None]


def check_dataset(args):
    """Check the dataset of the command line; returns the exit status (1 when a file is bad)."""
    if args.workers < 1:
        raise ZooError(f"--workers must be at least 1, got {args.workers}")
    paths = image_paths(args.data_dir)
    print(f"checking {len(paths)} image files under {args.data_dir} with {args.workers} processes"
          f"{' (quick: headers and end markers only)' if args.quick else ''}")
    bad = find_bad_files(paths, args.workers, args.quick)
    for path, problem in bad:
        print(f"{path}: {problem}")
    if args.list:
        with open(args.list, 'w', encoding='utf-8') as handle:
            handle.writelines(f"{path}\n" for path, _ in bad)
    print(f"{len(bad)} bad of {len(paths)} image files" + (f"; listed in {args.list}" if args.list else ""))
    return EXIT_RUN_FAILED if bad else 0


def main(argv=None):
    """Command line; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('data_dir', help="dataset root with train/ and val/, or one split (<class>/<image>)")
    parser.add_argument('--workers', type=int, default=os.cpu_count() or 1, help="processes (default: all cores)")
    parser.add_argument('--quick', action='store_true', help="header and end-marker checks only, no decoding")
    parser.add_argument('--list', default=None, help="also write the bad files' paths to this file")
    return run_command(check_dataset, parser.parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
