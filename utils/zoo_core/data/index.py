"""The images of an ImageFolder split (`<split>/<class>/<image>`), checked before a run uses them.

`index_split` lists every image file (extension in any letter case), checks each one with
`image_check.check_image` on a thread pool, and keeps the good ones: a bad file is named once in a
warning and left out, so that it can neither kill the run (a truncated JPEG crashes MindSpore's decoder
with SIGFPE) nor change the number of steps on one rank. With `strict`, the first bad file is an error.
The result is written as a MindSpore manifest (`write_manifest`), which `ManifestDataset` reads in its
order: the pipelines read exactly the checked files.
"""
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import List, Tuple

from zoo_core.data.image_check import check_image
from zoo_core.data.images import is_image_file
from zoo_core.runtime.errors import ZooError

# File checks are I/O: more threads than cores keep a network file system busy.
CHECK_THREADS = 16
MANIFEST_USAGE = 'train'

logger = logging.getLogger('zoo_core')  # configured by `zoo_core.runtime.logging`


class DatasetError(ZooError):
    """A dataset folder that cannot be used as configured."""


@dataclass
class SplitIndex:
    """The checked images of one split: (path, class name) of the good ones, (path, problem) of the bad,
    and the class names of the labels (label i is `classes[i]`)."""
    split_dir: str
    classes: List[str] = field(default_factory=list)
    samples: List[Tuple[str, str]] = field(default_factory=list)
    bad_files: List[Tuple[str, str]] = field(default_factory=list)

    def as_json(self):
        """The skipped files, for a result file: [{'file': path, 'problem': text}, ...]."""
        return [dict(file=path, problem=problem) for path, problem in self.bad_files]


def require_folder(split_dir):
    """`split_dir` must be a folder; the error says what layout is expected."""
    if not os.path.isdir(split_dir):
        raise DatasetError(f"dataset folder not found: {split_dir} (expected <data_dir>/train/<class>/"
                           f"<image> and <data_dir>/val/<class>/<image>)")


def image_files(class_dir):
    """The image files of a class folder, sorted by name."""
    return sorted(os.path.join(class_dir, name) for name in os.listdir(class_dir)
                  if is_image_file(name) and not os.path.isdir(os.path.join(class_dir, name)))


def class_names(split_dir, warn_empty=True):
    """Sorted names of the class folders of a split that hold at least one image file.

    An empty class folder is not a class (it would add a classifier output no image trains): it is
    left out, with a warning.
    """
    require_folder(split_dir)
    folders = sorted(d for d in os.listdir(split_dir) if os.path.isdir(os.path.join(split_dir, d)))
    names = [name for name in folders if image_files(os.path.join(split_dir, name))]
    empty = sorted(set(folders) - set(names))
    if empty and warn_empty:
        logger.warning("%s: %d class folder(s) without images left out: %s", split_dir, len(empty),
                       ', '.join(empty))
    if not names:
        raise DatasetError(f"no class folders with images in {split_dir}")
    return names


def check_images(paths, thorough=False):
    """`check_image` of every path, in order, on `CHECK_THREADS` threads (one slice of the list each:
    a future per file would cost more than the check of a file on a local disk)."""
    slices = [paths[start::CHECK_THREADS] for start in range(CHECK_THREADS)]
    with ThreadPoolExecutor(CHECK_THREADS) as pool:
        checked = list(pool.map(lambda chunk: [check_image(path, thorough) for path in chunk], slices))
    problems = [None] * len(paths)
    for start, chunk in enumerate(checked):
        problems[start::CHECK_THREADS] = chunk
    return problems


def index_split(split_dir, classes, strict=False, thorough=False):
    """The checked images of `split_dir` in the class folders `classes` (others are ignored).

    Args:
        strict: raise `DatasetError` naming the first bad file instead of leaving it out.
        thorough: decode every image with Pillow (slow; `utils/check_dataset.py`).
    """
    require_folder(split_dir)
    listed = [(path, name) for name in classes if os.path.isdir(os.path.join(split_dir, name))
              for path in image_files(os.path.join(split_dir, name))]
    problems = check_images([path for path, _ in listed], thorough)
    index = SplitIndex(split_dir, list(classes))
    for (path, name), problem in zip(listed, problems):
        if problem is None:
            index.samples.append((path, name))
            continue
        if strict:
            raise DatasetError(f"bad image file {path}: {problem} (--strict_data true stops at the first one; "
                               f"python utils/check_dataset.py lists them all)")
        logger.warning("skipping bad image file %s: %s", path, problem)
        index.bad_files.append((path, problem))
    if index.bad_files:
        logger.warning("%s: %d bad image file(s) left out of %d", split_dir, len(index.bad_files), len(listed))
    return index


def write_manifest(index, path):
    """Write `index`'s good images as a MindSpore manifest file (one JSON object a line); returns `path`."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    staging = f'{path}.{os.getpid()}.tmp'
    with open(staging, 'w', encoding='utf-8') as handle:
        for image_path, name in index.samples:
            handle.write(json.dumps({'source': os.path.abspath(image_path), 'usage': MANIFEST_USAGE,
                                     'annotation': [{'type': 'label', 'name': name}]}) + '\n')
    os.replace(staging, path)
    return path
