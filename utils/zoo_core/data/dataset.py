"""ImageFolder input pipelines (`DATA_DIR/train/<class>/*`, `DATA_DIR/val/<class>/*`) with C++ vision ops.

The images are checked first (`zoo_core.data.index`): a bad file is named and left out, never decoded.
The pipelines read the checked list through `ManifestDataset`; a file that passes the check but still
fails to decode is replaced by another sample (MindSpore's error-samples mode REPLACE, which keeps every
rank's step count; SKIP could leave ranks with different counts), unless `strict_data` is set.
Both pipelines end in uint8 CHW: the network normalises in the graph (`zoo_core.models.input_norm`), so a
sample crosses to the device in a quarter of the bytes of float32 and the host saves the Normalize op.
Training data is sharded by rank. Evaluation data is split by index (image i goes to rank i mod N), so
that every image is evaluated exactly once whatever the number of ranks: no padding, no dropped tail.
"""
import atexit
import functools
import os
import shutil
import tempfile
from types import SimpleNamespace
from typing import Any, Callable, Collection, Dict, List, Optional, Sequence, Tuple, Union

import mindspore as ms
import mindspore.dataset as ds
import mindspore.dataset.transforms as transforms
import mindspore.dataset.vision as vision
from easydict import EasyDict

from zoo_core.data.autoaug import augmentation_ops, mean_fill
from zoo_core.data.erasing import random_erasing_ops
from zoo_core.data.index import DatasetError, SplitIndex, class_names, index_split, write_manifest
from zoo_core.data.mindrecord import FORMAT_MINDRECORD, MindRecordSplit, dataset_format, mindrecord_source, read_split
from zoo_core.data.mixing import DRAW_COLUMNS, MixingDraws, mixing_enabled
from zoo_core.data.reference_eval import reference_crop_ops, reference_normalize_ops, reference_uint8_ops
from zoo_core.data.sampling import train_sampling
from zoo_core.data.workers import workers_per_rank
from zoo_core.models.input_norm import PIXEL_MAX

INTERPOLATIONS = {
    'bilinear': vision.Inter.LINEAR,
    'bicubic': vision.Inter.PILCUBIC,
    'nearest': vision.Inter.NEAREST,
}
# Eval resize (`eval_resize`): 'pil' gives the reference's pixels (`zoo_core.data.reference_eval`), 'fast' the
# C++ ops of the training recipe; 'auto' is 'pil' for published weights (`eval.py --pretrained`, resolved
# by `effective_eval_resize`) and 'fast' for checkpoints trained here.
EVAL_RESIZE_PIL = 'pil'
EVAL_RESIZE_FAST = 'fast'
EVAL_RESIZE_AUTO = 'auto'
EVAL_RESIZE_CHOICES = (EVAL_RESIZE_AUTO, EVAL_RESIZE_PIL, EVAL_RESIZE_FAST)
RANDOM_RESIZED_CROP_RATIO = (3.0 / 4.0, 4.0 / 3.0)
# For the type checker: a checked split (`index_for`), and the ops of a dataset map (MindSpore's vision ops
# and Python callables).
CheckedSplit = Union[SplitIndex, MindRecordSplit]
Operations = List[Callable[..., Any]]


def class_indexing(data_dir: str) -> Dict[str, int]:
    """Class name -> label, from `train/` when it exists (so that a val split with a missing class keeps
    the training labels), else from `val/`."""
    train_dir = os.path.join(data_dir, 'train')
    names = class_names(train_dir if os.path.isdir(train_dir) else os.path.join(data_dir, 'val'))
    return {name: index for index, name in enumerate(names)}


# The folder of a run's manifest files, inside its output folder: one sub-folder per process, `<pid>_*`.
MANIFEST_FOLDER = '.manifests'


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_manifests(parent: str) -> None:
    """Remove the manifest folders in `parent` of processes that are gone (killed before their exit)."""
    for entry in os.scandir(parent):
        pid = entry.name.split('_', 1)[0]
        if entry.is_dir() and pid.isdigit() and not _process_alive(int(pid)):
            shutil.rmtree(entry.path, ignore_errors=True)


@functools.lru_cache(maxsize=None)
def manifest_dir(output_dir: Optional[str] = None) -> str:
    """This process's folder for manifest files, removed when the process exits: `<output_dir>/.manifests/
    <pid>_*` (a killed process's is removed by the next one that runs in that folder), or a folder in the
    system's temp folder without an output folder."""
    if output_dir:
        parent = os.path.join(output_dir, MANIFEST_FOLDER)
        os.makedirs(parent, exist_ok=True)
        remove_stale_manifests(parent)
        folder = tempfile.mkdtemp(prefix=f'{os.getpid()}_', dir=parent)
    else:
        folder = tempfile.mkdtemp(prefix='zoo_manifests_')
    atexit.register(_remove_manifest_dir, folder)
    return folder


def _remove_manifest_dir(folder: str) -> None:
    """Remove `folder`, and its parent `.manifests` when no other process uses it any more."""
    shutil.rmtree(folder, ignore_errors=True)
    parent = os.path.dirname(folder)
    if os.path.basename(parent) == MANIFEST_FOLDER:
        try:
            os.rmdir(parent)
        except OSError:
            pass


def manifest_path(split: str, output_dir: Optional[str] = None) -> str:
    """A new, unique manifest file name for split `split` in `manifest_dir(output_dir)`."""
    handle, path = tempfile.mkstemp(prefix=f'{split}_', suffix='.manifest', dir=manifest_dir(output_dir))
    os.close(handle)
    return path


def set_error_samples_mode(strict: bool) -> None:
    """Decode errors of files that passed the check: an error with `strict`, else the sample is replaced."""
    mode = ds.config.ErrorSamplesMode.RETURN if strict else ds.config.ErrorSamplesMode.REPLACE
    ds.config.set_error_samples_mode(mode)


def index_for(cfg: EasyDict, split: str, classes: Optional[Sequence[str]] = None) -> CheckedSplit:
    """The checked images (`SplitIndex`) of split `split` of `cfg.data_dir`, labelled by `classes`
    (default: `class_indexing`'s, so that every split of a run shares the training labels); for a
    MindRecord dataset (`cfg.dataset_format`), its converted split (`MindRecordSplit`)."""
    if dataset_format(cfg) == FORMAT_MINDRECORD:
        return read_split(cfg.data_dir, split, classes)
    classes = list(class_indexing(cfg.data_dir)) if classes is None else classes
    return index_split(os.path.join(cfg.data_dir, split), classes, strict=strict_data(cfg))


def strict_data(cfg: EasyDict) -> bool:
    """`cfg.strict_data`; configs built by hand (tests, notebooks) may lack the key."""
    return cfg.get('strict_data', False)


def require_samples(index: CheckedSplit) -> None:
    """A split without a usable image is an error."""
    if not index.samples:
        raise DatasetError(f"no usable images in {index.split_dir}")


def checked_split(cfg: EasyDict, split: str, index: SplitIndex) -> Tuple[Dict[str, int], str]:
    """(class name -> label, manifest path) of the checked split `index`, after checking the class count;
    sets the error-samples mode for its decode errors."""
    indexing = {name: label for label, name in enumerate(index.classes)}
    check_num_classes(indexing, cfg.num_classes, index.split_dir)
    require_samples(index)
    set_error_samples_mode(strict_data(cfg))
    return indexing, write_manifest(index, manifest_path(split, cfg.get('output_dir')))


def source_dataset(cfg: EasyDict, split: str, index: CheckedSplit, workers: int, **sampling: Any) -> ds.Dataset:
    """The (encoded image, label) rows of the checked split `index`: from its MindRecord shards, or its
    ImageFolder files through a manifest; `sampling`: shuffle/num_shards/shard_id, or a sampler."""
    if isinstance(index, MindRecordSplit):
        check_num_classes(index.classes, cfg.num_classes, index.split_dir)
        set_error_samples_mode(strict_data(cfg))
        return mindrecord_source(index, workers, **sampling)
    indexing, manifest = checked_split(cfg, split, index)
    return ds.ManifestDataset(manifest, usage='train', class_indexing=indexing, num_parallel_workers=workers,
                              **sampling)


def interpolation_mode(name: str) -> vision.Inter:
    """`vision.Inter` for 'bilinear', 'bicubic' (Pillow's) or 'nearest'."""
    if name not in INTERPOLATIONS:
        raise DatasetError(f"unknown interpolation {name!r}; choose from {', '.join(INTERPOLATIONS)}")
    return INTERPOLATIONS[name]


def normalize_ops(mean: Sequence[float], std: Sequence[float]) -> Operations:
    """Normalise uint8 HWC with 0-1 statistics, then HWC -> CHW (host-side float32; `export.py --run_mindir`
    for a float-input MINDIR)."""
    return [vision.Normalize(mean=[m * PIXEL_MAX for m in mean], std=[s * PIXEL_MAX for s in std]),
            vision.HWC2CHW()]


def uint8_chw_ops() -> Operations:
    """uint8 HWC -> uint8 CHW, what the pipelines send to the device (the network normalises)."""
    return [vision.HWC2CHW()]


def train_transforms(cfg: EasyDict) -> Operations:
    """Random resized crop (decoding only the crop), flip, colour jitter, auto augmentation; uint8 CHW out
    (random erasing follows in a map of its own, `create_train_dataset`)."""
    ops = [vision.RandomCropDecodeResize(cfg.image_size, scale=(cfg.crop_scale_min, 1.0),
                                         ratio=RANDOM_RESIZED_CROP_RATIO,
                                         interpolation=interpolation_mode(cfg.interpolation)),
           vision.RandomHorizontalFlip()]
    if cfg.color_jitter > 0:
        ops.append(vision.RandomColorAdjust(brightness=cfg.color_jitter, contrast=cfg.color_jitter,
                                            saturation=cfg.color_jitter))
    return ops + augmentation_ops(cfg.autoaugment, mean_fill(cfg.mean)) + uint8_chw_ops()


def eval_resize_size(image_size: int, crop_pct: float) -> int:
    """Shorter-side resize before the center crop: `floor(image_size / crop_pct)`, timm's scale size (256 for
    224 at 0.875; `int` of a positive number is its floor)."""
    return int(image_size / crop_pct)


def effective_eval_resize(choice: str, published_weights: bool) -> str:
    """'pil' or 'fast' for config value `choice` ('auto', 'pil' or 'fast'): 'auto' is 'pil' when the
    weights evaluated are published ones, whose authors resized with Pillow, else 'fast'."""
    if choice not in EVAL_RESIZE_CHOICES:
        raise DatasetError(f"unknown eval_resize {choice!r}; choose from {', '.join(EVAL_RESIZE_CHOICES)}")
    if choice == EVAL_RESIZE_AUTO:
        return EVAL_RESIZE_PIL if published_weights else EVAL_RESIZE_FAST
    return choice


def fast_eval_transforms(cfg: Union[EasyDict, SimpleNamespace], normalize: bool = False) -> Operations:
    """C++ ops: decode, resize the shorter side (OpenCV-style bilinear, or Pillow's bicubic), center crop
    (offset floored); uint8 CHW, or normalised float32 CHW with `normalize`. Faster than the reference
    path, and not its pixels."""
    return [vision.Decode(),
            vision.Resize(eval_resize_size(cfg.image_size, cfg.crop_pct),
                          interpolation=interpolation_mode(cfg.interpolation)),
            vision.CenterCrop(cfg.image_size)] + (normalize_ops(cfg.mean, cfg.std) if normalize else uint8_chw_ops())


def reference_eval_transforms(cfg: Union[EasyDict, SimpleNamespace], normalize: bool = False) -> Operations:
    """The reference's eval preprocessing, pixel for pixel (`zoo_core.data.reference_eval`); uint8 CHW, or
    with `normalize` the reference's float32 CHW (`ToTensor` + `Normalize`)."""
    crop = reference_crop_ops(eval_resize_size(cfg.image_size, cfg.crop_pct), cfg.image_size, cfg.interpolation)
    return crop + (reference_normalize_ops(cfg.mean, cfg.std) if normalize else reference_uint8_ops())


def eval_transforms(cfg: Union[EasyDict, SimpleNamespace], normalize: bool = False) -> Operations:
    """Decode, resize the shorter side to `image_size / crop_pct`, center crop, to uint8 CHW (or, with
    `normalize`, normalised float32 CHW, for a model that takes float input): with the reference's exact
    ops when `cfg.eval_resize` is 'pil', else ('fast', and 'auto' left unresolved, as for a checkpoint
    trained here) with the C++ ops."""
    choice = effective_eval_resize(getattr(cfg, 'eval_resize', EVAL_RESIZE_AUTO), published_weights=False)
    if choice == EVAL_RESIZE_PIL:
        return reference_eval_transforms(cfg, normalize)
    return fast_eval_transforms(cfg, normalize)


def check_num_classes(indexing: Collection[str], num_classes: int, split_dir: str) -> None:
    """The dataset's class count must be the network's."""
    if len(indexing) != num_classes:
        raise DatasetError(f"{split_dir} has {len(indexing)} classes but the network has num_classes="
                           f"{num_classes}; pass --num_classes {len(indexing)}")


def create_train_dataset(cfg: EasyDict, rank: int = 0, group_size: int = 1,
                         index: Optional[CheckedSplit] = None) -> ds.Dataset:
    """Shuffled, augmented, batched training data of this rank's shard (last partial batch dropped), or
    with `aug_repeats` > 1 this rank's share of repeated augmentation (`zoo_core.data.sampling`).

    `index` is the checked train split (`index_for`), made here when not given. Rows are (uint8 CHW images,
    int32 labels); with mixup or CutMix each batch also carries its draws (`MixingDraws`, seeded by the
    run's seed and the rank), which the train step mixes with (`zoo_core.engine.batch_mixing`).
    """
    index = index_for(cfg, 'train') if index is None else index
    workers = workers_per_rank(cfg.num_parallel_workers)
    sampling = train_sampling(len(index.samples), rank, group_size, repeats=cfg.get('aug_repeats', 1),
                              seed=cfg.seed)
    data = source_dataset(cfg, 'train', index, workers, **sampling)
    data = data.map(operations=train_transforms(cfg), input_columns='image', num_parallel_workers=workers)
    erasing = random_erasing_ops(cfg.get('reprob', 0.0), mean_fill(cfg.mean), seed=(cfg.seed, rank))
    if erasing:  # one worker: its draws follow the sample order, whatever the thread timing
        data = data.map(operations=erasing, input_columns='image', num_parallel_workers=1)
    data = data.map(operations=transforms.TypeCast(ms.int32), input_columns='label',
                    num_parallel_workers=workers)
    data = data.batch(cfg.batch_size, drop_remainder=True)
    if mixing_enabled(cfg):
        # One worker: the draws follow the batch order, so a seeded run repeats whatever the thread timing.
        draws = MixingDraws(cfg.mixup, cfg.cutmix, cfg.image_size, seed=(cfg.seed, rank))
        data = data.map(operations=draws, input_columns='label', output_columns=['label', *DRAW_COLUMNS],
                        num_parallel_workers=1)
        data = data.project(['image', 'label', *DRAW_COLUMNS])  # the train step's argument order
    if data.get_dataset_size() == 0:
        raise DatasetError(f"{index.split_dir} has fewer images per rank than one batch of {cfg.batch_size}; "
                           f"lower --batch_size")
    return data


def create_eval_dataset(cfg: EasyDict, rank: int = 0, group_size: int = 1, split: str = 'val',
                        index: Optional[CheckedSplit] = None) -> Optional[ds.Dataset]:
    """Unshuffled eval data; rank r gets images r, r+N, r+2N, ... and the last batch is kept whole.

    `index` is the checked split (`index_for`), made here when not given. None when this rank has no
    image (more ranks than images).
    """
    index = index_for(cfg, split) if index is None else index
    require_samples(index)
    indices = list(range(rank, len(index.samples), group_size))
    if not indices:
        return None
    workers = workers_per_rank(cfg.num_parallel_workers)
    data = source_dataset(cfg, split, index, workers, sampler=ds.SubsetSampler(indices))
    data = data.map(operations=eval_transforms(cfg), input_columns='image', num_parallel_workers=workers)
    data = data.map(operations=transforms.TypeCast(ms.int32), input_columns='label',
                    num_parallel_workers=workers)
    return data.batch(cfg.eval_batch_size, drop_remainder=False)
