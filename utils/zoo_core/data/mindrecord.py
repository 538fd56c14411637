"""Datasets in MindRecord, MindSpore's own format, as `utils/to_mindrecord.py` writes them (reading side).

A converted dataset is a folder with a catalog, `mindrecord.json` (the class names, and per split its
shard files, image count and the bad files left out at conversion), and one folder per split holding
its shards: `train/train-00000-of-00008.mindrecord` (+ its `.db` index), ... Each record keeps the
encoded image file's bytes (`image`), its label (`label`, an index into the class names) and its path
relative to the source split (`file`), so that the pipelines decode and transform exactly as they do
from the ImageFolder tree. The shards are read with `mindspore.dataset.MindDataset`.
"""
import json
import os
from dataclasses import dataclass, field
from typing import List, Tuple

import mindspore.dataset as ds

from zoo_core.data.index import DatasetError

CATALOG_NAME = 'mindrecord.json'
CATALOG_FORMAT = 'zoo-imagefolder-mindrecord'
CATALOG_VERSION = 1
SCHEMA = {'image': {'type': 'bytes'}, 'label': {'type': 'int32'}, 'file': {'type': 'string'}}
COLUMNS = ['image', 'label']
FORMAT_AUTO, FORMAT_IMAGEFOLDER, FORMAT_MINDRECORD = 'auto', 'imagefolder', 'mindrecord'
DATASET_FORMATS = (FORMAT_AUTO, FORMAT_IMAGEFOLDER, FORMAT_MINDRECORD)
CONVERT_HINT = 'convert an ImageFolder tree with: python utils/to_mindrecord.py DATA_DIR OUT --shards N'


def shard_name(split, shard, shards):
    """The file name of shard `shard` of `shards` of a split: `train-00003-of-00008.mindrecord`."""
    return f'{split}-{shard:05d}-of-{shards:05d}.mindrecord'


def catalog_path(data_dir):
    """Where the catalog of a converted dataset is."""
    return os.path.join(data_dir, CATALOG_NAME)


def is_mindrecord_folder(data_dir):
    """True when `data_dir` holds a finished conversion (its catalog)."""
    return bool(data_dir) and os.path.isfile(catalog_path(data_dir))


def dataset_format(cfg):
    """'imagefolder' or 'mindrecord' for the run `cfg` (`cfg.dataset_format`; 'auto': 'mindrecord' when
    `cfg.data_dir` holds a catalog)."""
    choice = cfg.get('dataset_format', FORMAT_AUTO)
    if choice not in DATASET_FORMATS:
        raise DatasetError(f"unknown dataset_format {choice!r}; choose from {', '.join(DATASET_FORMATS)}")
    if choice == FORMAT_AUTO:
        return FORMAT_MINDRECORD if is_mindrecord_folder(cfg.data_dir) else FORMAT_IMAGEFOLDER
    return choice


def read_catalog(data_dir):
    """The catalog of the converted dataset `data_dir` (a `DatasetError` when it has none)."""
    path = catalog_path(data_dir)
    if not os.path.isfile(path):
        raise DatasetError(f"--dataset_format mindrecord: no {CATALOG_NAME} in {data_dir} (a conversion that did "
                           f"not finish has none: run it again to resume); {CONVERT_HINT}")
    with open(path, encoding='utf-8') as handle:
        catalog = json.load(handle)
    if catalog.get('format') != CATALOG_FORMAT:
        raise DatasetError(f"{path} is not a catalog of utils/to_mindrecord.py (format {catalog.get('format')!r})")
    return catalog


@dataclass
class MindRecordSplit:
    """One split of a converted dataset, standing where an ImageFolder `SplitIndex` does: its shard files,
    its class names (label i is `classes[i]`), its image count and the bad files left out at conversion."""
    split_dir: str
    classes: List[str]
    files: List[str]
    count: int
    bad_files: List[Tuple[str, str]] = field(default_factory=list)

    @property
    def samples(self):
        """Positions of the images in the shards' order (its length is the image count)."""
        return range(self.count)

    def as_json(self):
        """The files left out at conversion, for a result file: [{'file': path, 'problem': text}, ...]."""
        return [dict(file=path, problem=problem) for path, problem in self.bad_files]


def read_split(data_dir, split, classes=None):
    """The `MindRecordSplit` of split `split` of the converted dataset `data_dir`; `classes`, when given
    (the training split's), must be the catalog's."""
    catalog = read_catalog(data_dir)
    if split not in catalog['splits']:
        raise DatasetError(f"{data_dir} has no {split} split (converted: {', '.join(catalog['splits'])})")
    if classes is not None and list(classes) != catalog['classes']:
        raise DatasetError(f"{data_dir}: the {split} split is labelled with other classes than the training split")
    entry = catalog['splits'][split]
    files = [os.path.join(data_dir, name) for name in entry['files']]
    missing = [path for path in files if not os.path.isfile(path) or not os.path.isfile(path + '.db')]
    if missing:
        raise DatasetError(f"{len(missing)} shard file(s) of {data_dir} missing, e.g. {missing[0]} (and its .db)")
    return MindRecordSplit(split_dir=os.path.join(data_dir, split), classes=list(catalog['classes']), files=files,
                           count=entry['images'],
                           bad_files=[(item['file'], item['problem']) for item in entry.get('bad_files', [])])


def mindrecord_source(split, workers, shuffle=False, num_shards=None, shard_id=None, sampler=None):
    """`MindDataset` of the (image bytes, label) rows of `split` (a `MindRecordSplit`): shuffled and
    sharded by rank for training (every rank gets the same count, MindDataset pads by wrapping around),
    or read through `sampler`."""
    if sampler is not None:
        return ds.MindDataset(split.files, columns_list=COLUMNS, sampler=sampler, num_parallel_workers=workers)
    return ds.MindDataset(split.files, columns_list=COLUMNS, shuffle=shuffle, num_shards=num_shards,
                          shard_id=shard_id, num_parallel_workers=workers)
