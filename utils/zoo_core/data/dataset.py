"""ImageFolder input pipelines (`DATA_DIR/train/<class>/*`, `DATA_DIR/val/<class>/*`) with C++ vision ops.

Training data is sharded by rank. Evaluation data is split by index (image i goes to rank i mod N), so
that every image is evaluated exactly once whatever the number of ranks: no padding, no dropped tail.
"""
import os

import mindspore as ms
import mindspore.dataset as ds
import mindspore.dataset.transforms as transforms
import mindspore.dataset.vision as vision

from zoo_core.data.autoaug import augmentation_ops
from zoo_core.data.images import extension_spellings
from zoo_core.runtime.errors import ZooError

# `ImageFolderDataset` compares extensions as written: give it every spelling of the zoo's image extensions.
IMAGE_EXTENSION_SPELLINGS = extension_spellings()
INTERPOLATIONS = {
    'bilinear': vision.Inter.LINEAR,
    'bicubic': vision.Inter.PILCUBIC,
    'nearest': vision.Inter.NEAREST,
}
RANDOM_RESIZED_CROP_RATIO = (3.0 / 4.0, 4.0 / 3.0)
PIXEL_MAX = 255.0


class DatasetError(ZooError):
    """A dataset folder that cannot be used as configured."""


def class_names(split_dir):
    """Sorted class folder names of an ImageFolder split."""
    if not os.path.isdir(split_dir):
        raise DatasetError(f"dataset folder not found: {split_dir} (expected <data_dir>/train/<class>/"
                           f"<image> and <data_dir>/val/<class>/<image>)")
    names = sorted(d for d in os.listdir(split_dir) if os.path.isdir(os.path.join(split_dir, d)))
    if not names:
        raise DatasetError(f"no class folders in {split_dir}")
    return names


def class_indexing(data_dir):
    """Class name -> label, from `train/` when it exists (so that a val split with a missing class keeps
    the training labels), else from `val/`."""
    train_dir = os.path.join(data_dir, 'train')
    names = class_names(train_dir if os.path.isdir(train_dir) else os.path.join(data_dir, 'val'))
    return {name: index for index, name in enumerate(names)}


def interpolation_mode(name):
    """`vision.Inter` for 'bilinear', 'bicubic' (Pillow's) or 'nearest'."""
    if name not in INTERPOLATIONS:
        raise DatasetError(f"unknown interpolation {name!r}; choose from {', '.join(INTERPOLATIONS)}")
    return INTERPOLATIONS[name]


def clamp_workers(requested):
    """`requested` limited to the machine's cores (MindSpore rejects more)."""
    return max(1, min(int(requested), os.cpu_count() or 1))


def normalize_ops(mean, std):
    """Normalise uint8 HWC with 0-1 statistics, then HWC -> CHW."""
    return [vision.Normalize(mean=[m * PIXEL_MAX for m in mean], std=[s * PIXEL_MAX for s in std]),
            vision.HWC2CHW()]


def train_transforms(cfg):
    """Random resized crop (decoding only the crop), flip, colour jitter, auto augmentation, normalisation."""
    ops = [vision.RandomCropDecodeResize(cfg.image_size, scale=(cfg.crop_scale_min, 1.0),
                                         ratio=RANDOM_RESIZED_CROP_RATIO,
                                         interpolation=interpolation_mode(cfg.interpolation)),
           vision.RandomHorizontalFlip()]
    if cfg.color_jitter > 0:
        ops.append(vision.RandomColorAdjust(brightness=cfg.color_jitter, contrast=cfg.color_jitter,
                                            saturation=cfg.color_jitter))
    return ops + augmentation_ops(cfg.autoaugment) + normalize_ops(cfg.mean, cfg.std)


def eval_resize_size(image_size, crop_pct):
    """Shorter-side resize before the center crop: `image_size / crop_pct` (256 for 224 at 0.875)."""
    return int(image_size / crop_pct)


def eval_transforms(cfg):
    """Decode, resize the shorter side to `image_size / crop_pct`, center crop, normalise."""
    return [vision.Decode(),
            vision.Resize(eval_resize_size(cfg.image_size, cfg.crop_pct),
                          interpolation=interpolation_mode(cfg.interpolation)),
            vision.CenterCrop(cfg.image_size)] + normalize_ops(cfg.mean, cfg.std)


def check_num_classes(indexing, num_classes, split_dir):
    """The dataset's class count must be the network's."""
    if len(indexing) != num_classes:
        raise DatasetError(f"{split_dir} has {len(indexing)} classes but the network has num_classes="
                           f"{num_classes}; pass --num_classes {len(indexing)}")


def create_train_dataset(cfg, rank=0, group_size=1):
    """Shuffled, augmented, batched training data of this rank's shard (last partial batch dropped)."""
    split_dir = os.path.join(cfg.data_dir, 'train')
    indexing = class_indexing(cfg.data_dir)
    check_num_classes(indexing, cfg.num_classes, split_dir)
    workers = clamp_workers(cfg.num_parallel_workers)
    data = ds.ImageFolderDataset(split_dir, shuffle=True, class_indexing=indexing,
                                 extensions=IMAGE_EXTENSION_SPELLINGS,
                                 num_shards=group_size if group_size > 1 else None,
                                 shard_id=rank if group_size > 1 else None, num_parallel_workers=workers)
    data = data.map(operations=train_transforms(cfg), input_columns='image', num_parallel_workers=workers)
    data = data.map(operations=transforms.TypeCast(ms.int32), input_columns='label',
                    num_parallel_workers=workers)
    mixing = cfg.mixup > 0 or cfg.cutmix > 0
    if mixing:
        data = data.map(operations=transforms.OneHot(cfg.num_classes), input_columns='label')
    data = data.batch(cfg.batch_size, drop_remainder=True)
    if mixing:
        data = data.map(operations=transforms.RandomChoice(mixing_ops(cfg)), input_columns=['image', 'label'])
    if data.get_dataset_size() == 0:
        raise DatasetError(f"{split_dir} has fewer images per rank than one batch of {cfg.batch_size}; "
                           f"lower --batch_size")
    return data


def mixing_ops(cfg):
    """Batch-level MixUp and/or CutMix (labels must be one-hot)."""
    ops = []
    if cfg.mixup > 0:
        ops.append(vision.MixUpBatch(alpha=cfg.mixup))
    if cfg.cutmix > 0:
        ops.append(vision.CutMixBatch(vision.ImageBatchFormat.NCHW, alpha=cfg.cutmix))
    return ops


def create_eval_dataset(cfg, rank=0, group_size=1, split='val'):
    """Unshuffled eval data; rank r gets images r, r+N, r+2N, ... and the last batch is kept whole.

    None when this rank has no image (more ranks than images).
    """
    split_dir = os.path.join(cfg.data_dir, split)
    indexing = class_indexing(cfg.data_dir)
    check_num_classes(indexing, cfg.num_classes, split_dir)
    workers = clamp_workers(cfg.num_parallel_workers)
    total = ds.ImageFolderDataset(split_dir, shuffle=False, class_indexing=indexing,
                                  extensions=IMAGE_EXTENSION_SPELLINGS).get_dataset_size()
    if total == 0:
        raise DatasetError(f"no images in {split_dir}")
    indices = list(range(rank, total, group_size))
    if not indices:
        return None
    data = ds.ImageFolderDataset(split_dir, sampler=ds.SubsetSampler(indices), class_indexing=indexing,
                                 extensions=IMAGE_EXTENSION_SPELLINGS, num_parallel_workers=workers)
    data = data.map(operations=eval_transforms(cfg), input_columns='image', num_parallel_workers=workers)
    data = data.map(operations=transforms.TypeCast(ms.int32), input_columns='label',
                    num_parallel_workers=workers)
    return data.batch(cfg.eval_batch_size, drop_remainder=False)
