"""Scoring of offline inference results, and the label file that goes with them (the deploy path).

An image is known by its path relative to the ImageFolder tree, without its extension: its *image id*,
e.g. `n01440764/ILSVRC2012_val_00000001` or `blue/img0`, so that class folders may reuse file names.
An inference program (the Ascend 310 one in `utils/ascend310_infer/`, or `zoo_core.deploy.infer` on the
CPU) writes the logits of image `<class>/<stem>.<ext>` as raw float32 to `<result_dir>/<class>/<stem>_0.bin`.
`create_label_file` maps the relative path of every image of a tree (`<root>/<class>/<image>`) to its
class index, classes numbered in sorted folder order as `mindspore.dataset.ImageFolderDataset` numbers
them; `score_results` reads both and counts top-1 and top-5 hits. Label files and result folders of
earlier releases, keyed by file name alone (`ILSVRC2012_val_00000001.JPEG`, a flat folder of
`<stem>_0.bin`), are still scored.

Only numpy is needed here, so scoring starts fast and runs on a machine without MindSpore.
"""
from __future__ import annotations

import argparse
import json
import os
from typing import TYPE_CHECKING, Dict, List, Mapping, Optional, Sequence, Tuple, cast

import numpy as np

from zoo_core.data.images import IMAGE_EXTENSIONS, is_image_file
from zoo_core.engine.metrics import Accuracy, top_k_classes
from zoo_core.runtime.errors import MissingFileError, ZooError, run_command

if TYPE_CHECKING:  # names used in annotations only (importing the family would import more than numpy)
    from zoo_core.models.family import ModelFamily

# The network's first (and only) output for image `<class>/<stem>.<ext>` is written to `<class>/<stem>_0.bin`.
RESULT_SUFFIX = '_0.bin'
LOGIT_DTYPE = np.dtype(np.float32)
LABEL_FILE_NAME = 'imagenet_label.json'
# How many offending names an error message lists.
LISTED_NAMES = 5


class DeployDataError(ZooError):
    """Inference inputs or results that cannot be scored: the message says which file and why."""


def _listing(names: Sequence[str]) -> str:
    shown = ', '.join(names[:LISTED_NAMES])
    return shown + (f', ... ({len(names) - LISTED_NAMES} more)' if len(names) > LISTED_NAMES else '')


# Separator of the parts of an image id, whatever the operating system's.
ID_SEPARATOR = '/'


def image_id(relative_path: str) -> str:
    """`n01440764/ILSVRC2012_val_00000001` for `n01440764/ILSVRC2012_val_00000001.JPEG` (a path relative to
    the tree): the id its result is written and scored under."""
    return os.path.splitext(relative_path)[0].replace(os.sep, ID_SEPARATOR)


def result_file(result_dir: str, identifier: str) -> str:
    """Where the logits of the image with id `identifier` are written: `<result_dir>/<id>_0.bin`."""
    return os.path.join(result_dir, *identifier.split(ID_SEPARATOR)) + RESULT_SUFFIX


def list_image_folder(root: str) -> List[Tuple[str, int]]:
    """(image path, class index) of every image of an ImageFolder tree `root/<class>/<image>`, sorted.

    Every sub-folder of `root` is a class, numbered in sorted name order (empty ones too), as
    `ImageFolderDataset` numbers them. Files without an image extension are skipped. Class folders may
    reuse file names; two images of one folder that differ only in their extension (`x.jpg`, `x.png`) are
    an error: their results (`<class>/x_0.bin`) would overwrite each other.
    """
    if not os.path.isdir(root):
        raise MissingFileError(f"image folder {root!r} does not exist or is not a directory")
    classes = sorted(entry.name for entry in os.scandir(root) if entry.is_dir())
    if not classes:
        raise DeployDataError(f"{root!r} holds no class folders; expected an ImageFolder tree "
                              "<root>/<class>/<image>, e.g. the ImageNet val/ folder")
    images = []
    first_seen: Dict[str, str] = {}
    for index, class_name in enumerate(classes):
        class_dir = os.path.join(root, class_name)
        for file_name in sorted(os.listdir(class_dir)):
            if not is_image_file(file_name):
                continue
            relative = os.path.join(class_name, file_name)
            identifier = image_id(relative)
            if identifier in first_seen:
                raise DeployDataError(f"images {first_seen[identifier]} and {relative} differ only in their "
                                      f"extension: their results ({identifier}{RESULT_SUFFIX}) would "
                                      "overwrite each other")
            first_seen[identifier] = relative
            images.append((os.path.join(class_dir, file_name), index))
    if not images:
        raise DeployDataError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) in the class folders of {root!r}")
    return images


def create_label_file(img_path: str, output: str = LABEL_FILE_NAME) -> Dict[str, int]:
    """Write `{image path relative to the tree: class index}` of the ImageFolder tree `img_path` (e.g.
    `{"n01440764/ILSVRC2012_val_00000001.JPEG": 0}`) as JSON to `output`; returns the mapping."""
    labels = {os.path.relpath(path, img_path).replace(os.sep, ID_SEPARATOR): index
              for path, index in list_image_folder(img_path)}
    with open(output, 'w', encoding='utf-8') as f:
        json.dump(labels, f, indent=0, sort_keys=True)
    return labels


def load_labels(label_path: str) -> Dict[str, int]:
    """{image id: class index} from a label file written by `create_label_file` (or by an earlier release,
    keyed by file name alone: the id is then the file's stem)."""
    if not os.path.isfile(label_path):
        raise MissingFileError(f"label file {label_path!r} does not exist; "
                                "write it with create_imagenet2012_label.py --img_path VAL_DIR")
    with open(label_path, encoding='utf-8') as f:
        labels = json.load(f)
    if not isinstance(labels, dict) or not labels:
        raise DeployDataError(f"{label_path!r} holds no labels; expected a JSON object "
                              "{image path: class index}")
    return {image_id(name): int(index) for name, index in labels.items()}


def list_results(result_path: str) -> Dict[str, str]:
    """{image id: path} of the `<id>_0.bin` files in `result_path` and its class folders, sorted."""
    if not os.path.isdir(result_path):
        raise MissingFileError(f"result folder {result_path!r} does not exist or is not a directory")
    results = {}
    for folder, subfolders, names in os.walk(result_path):
        subfolders.sort()
        for name in sorted(names):
            if name.endswith(RESULT_SUFFIX):
                relative = os.path.relpath(os.path.join(folder, name), result_path)
                results[image_id(relative[:-len(RESULT_SUFFIX)])] = os.path.join(folder, name)
    if not results:
        raise DeployDataError(f"no inference results (*{RESULT_SUFFIX}) in {result_path!r}; "
                              "run the inference first")
    return results


def read_logits(path: str, num_classes: int) -> np.ndarray:
    """The `num_classes` float32 logits stored in `path`; any other size is an error."""
    size = os.path.getsize(path)
    expected = num_classes * LOGIT_DTYPE.itemsize
    if size != expected:
        raise DeployDataError(f"{path} holds {size} bytes, expected {expected} "
                              f"({num_classes} float32 logits of one image)")
    return np.fromfile(path, dtype=LOGIT_DTYPE)


def infer_num_classes(path: str) -> int:
    """The number of float32 logits in result file `path`."""
    size = os.path.getsize(path)
    if size == 0 or size % LOGIT_DTYPE.itemsize:
        raise DeployDataError(f"{path} holds {size} bytes, not a whole number of float32 logits")
    return size // LOGIT_DTYPE.itemsize


def label_of(identifier: str, labels: Mapping[str, int]) -> Optional[int]:
    """The class index of image id `identifier` in `labels`, or None. A label file of an earlier release
    names images by file name alone: `n01/x` then takes the label of `x`."""
    if identifier in labels:
        return labels[identifier]
    return labels.get(identifier.rsplit(ID_SEPARATOR, 1)[-1])


def score_results(result_path: str, labels: Mapping[str, int], num_classes: Optional[int] = None) -> Accuracy:
    """Top-1/top-5 hit counts of the results in `result_path` against `labels` ({image id: class index}).

    Every result must have a label and hold `num_classes` logits (default: as many as the first result).
    Ties between logits go to the lower class index.
    """
    results = list_results(result_path)
    unlabelled = sorted(identifier for identifier in results if label_of(identifier, labels) is None)
    if unlabelled:
        raise DeployDataError(f"{len(unlabelled)} results have no label in the label file: "
                              f"{_listing(unlabelled)}; was the label file made from the same images?")
    if num_classes is None:
        num_classes = infer_num_classes(next(iter(results.values())))
    top1 = top5 = 0
    for identifier, path in results.items():
        label = cast(int, label_of(identifier, labels))  # not None: every result has a label (checked above)
        if not 0 <= label < num_classes:
            raise DeployDataError(f"label {label} of {identifier} is outside the {num_classes} classes of the "
                                  "results; the label file does not belong to this model's classes")
        best = top_k_classes(read_logits(path, num_classes))
        top1 += int(best[0] == label)
        top5 += int(label in best)
    return Accuracy(top1_correct=top1, top5_correct=top5, total=len(results))


def label_main(family: ModelFamily, argv: Optional[List[str]] = None) -> int:
    """Command line of `create_imagenet2012_label.py` for a model `family`; returns the exit status."""
    parser = argparse.ArgumentParser(description=f"Map each image of an ImageFolder tree (its path in the tree) to its "
                                                 f"class index (sorted class folders), as JSON, for scoring "
                                                 f"{family.name} inference results.")
    parser.add_argument('--img_path', required=True, help="ImageFolder tree: <img_path>/<class>/<image>")
    parser.add_argument('--output', default=LABEL_FILE_NAME, help="label file to write")
    args = parser.parse_args(argv)

    def write_labels() -> None:
        labels = create_label_file(args.img_path, args.output)
        print(f"{len(labels)} images in {len(set(labels.values()))} classes -> {args.output}")
    return run_command(write_labels)


def print_scores(result_path: str, label_path: str, num_classes: Optional[int] = None) -> Accuracy:
    """Score a result folder against a label file and print the accuracies; returns the `Accuracy`."""
    labels = load_labels(label_path)
    scores = score_results(result_path, labels, num_classes)
    if scores.total < len(labels):
        print(f"note: {len(labels) - scores.total} of the {len(labels)} labelled images have no result")
    print(f"images: {scores.total}")
    print(f"top-1 accuracy: {scores.top1:.4f} ({scores.top1_correct}/{scores.total})")
    print(f"top-5 accuracy: {scores.top5:.4f} ({scores.top5_correct}/{scores.total})")
    return scores


def main(family: ModelFamily, argv: Optional[List[str]] = None) -> int:
    """Command line of a model's `postprocess.py`; returns the exit status."""
    parser = argparse.ArgumentParser(description=f"Top-1/top-5 accuracy of {family.name} offline inference "
                                                 f"results (<class>/<image stem>{RESULT_SUFFIX}, float32 logits).")
    parser.add_argument('--result_path', required=True, help="folder of the inference results")
    parser.add_argument('--label_path', required=True, help="label file of create_imagenet2012_label.py")
    parser.add_argument('--num_classes', type=int, default=None,
                        help="logits per result (default: as many as the first result holds)")
    args = parser.parse_args(argv)
    return run_command(print_scores, args.result_path, args.label_path, args.num_classes)
