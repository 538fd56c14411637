"""The recipe's pipelines read from MindRecord shards, in one call (for benchmarks and notebooks)."""
from easydict import EasyDict

from zoo_core.data.dataset import create_eval_dataset, create_train_dataset
from zoo_core.data.mindrecord import FORMAT_MINDRECORD

TRAIN_SPLIT = 'train'


def mindrecord_pipeline(cfg, shards_dir, split=TRAIN_SPLIT, rank=0, group_size=1):
    """The pipeline of `cfg`'s recipe over the converted dataset `shards_dir` (utils/to_mindrecord.py):
    the augmented, batched training data of rank `rank` of `group_size` for split 'train', else the eval
    data of that split; the same transforms as from the ImageFolder tree."""
    cfg = EasyDict({**cfg, 'data_dir': str(shards_dir), 'dataset_format': FORMAT_MINDRECORD})
    if split == TRAIN_SPLIT:
        return create_train_dataset(cfg, rank, group_size)
    return create_eval_dataset(cfg, rank, group_size, split=split)
