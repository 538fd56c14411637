"""The names of a network's classes: ImageNet's for the reference weights, a training run's own otherwise.

A training run saves its classes as `class_indexing.json` (class name -> label, the mapping MindSpore's
datasets take as `class_indexing`) beside its checkpoints; `predict.py` reads it back. The 1000 ImageNet
classes ship as `imagenet_classes.txt`: one line per class index, `<WordNet synset>\\t<description>`, the
descriptions being timm's (`timm.data.ImageNetInfo().index_to_description`), the labels its `inference.py`
prints.
"""
import json
import os
from pathlib import Path

from zoo_core.runtime.errors import ZooError

CLASS_INDEXING_FILE = 'class_indexing.json'
IMAGENET_CLASSES_FILE = Path(__file__).with_name('imagenet_classes.txt')
IMAGENET_CLASSES = 1000


class ClassNamesError(ZooError):
    """A class-name file that cannot be used."""


def class_indexing_of(classes):
    """{class name: label} for the class names `classes`, labelled in their order."""
    return {name: label for label, name in enumerate(classes)}


def save_class_indexing(classes, directory):
    """Write `<directory>/class_indexing.json` for the class names `classes` (label = position); returns its path."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, CLASS_INDEXING_FILE)
    with open(path, 'w', encoding='utf-8') as handle:
        json.dump(class_indexing_of(classes), handle, indent=2, ensure_ascii=False)
    return path


def names_from_indexing(indexing, source):
    """The class names in label order of a {name: label} mapping read from `source` (for messages)."""
    if not isinstance(indexing, dict) or sorted(indexing.values()) != list(range(len(indexing))):
        raise ClassNamesError(f"{source}: expected a mapping of class names to the labels 0..N-1")
    return [name for name, _ in sorted(indexing.items(), key=lambda item: item[1])]


def read_class_indexing(path):
    """The class names, in label order, of a `class_indexing.json` file."""
    try:
        with open(path, encoding='utf-8') as handle:
            indexing = json.load(handle)
    except (OSError, json.JSONDecodeError) as error:
        raise ClassNamesError(f"cannot read class names from {path}: {error}") from None
    return names_from_indexing(indexing, path)


def imagenet_class_names():
    """The 1000 ImageNet class descriptions, in class-index order ('tench, Tinca tinca', ...)."""
    lines = IMAGENET_CLASSES_FILE.read_text(encoding='utf-8').splitlines()
    return [line.split('\t', 1)[1] for line in lines]


def default_class_names(num_classes):
    """Names for a network that came without any: ImageNet's for 1000 classes, else the label numbers."""
    if num_classes == IMAGENET_CLASSES:
        return imagenet_class_names()
    return [str(label) for label in range(num_classes)]
