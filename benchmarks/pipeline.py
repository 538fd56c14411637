"""Training input pipelines, side by side in one run: img/s, the ratio to the decode-and-crop limit, and the
bytes per sample that reach the device.

Rows (`--rows`, in this order by default):
- `recipe`: our ResNeSt-50 training pipeline as `train.py` builds it (`create_train_dataset` with the
  ResNeSt-50 recipe: crop-decode, flip, colour jitter 0.4, AutoAugment; uint8 CHW out), mixup off;
- `recipe_mindrecord`: the same pipeline reading the images from MindRecord shards of the tree
  (`utils/to_mindrecord.py`, converted once into the scratch folder);
- `recipe_host_normalize`: the same ending in the host's Normalize + HWC2CHW (float32 out), the pipeline
  before the network normalised in the graph;
- `recipe_mixup`: the recipe with its batch mixup (alpha 0.2) as it trains now: uint8 batches with the
  per-batch draws (perm, box, weights); the train step mixes (`zoo_core.engine.batch_mixing`);
- `limit`: decode + random resized crop + flip alone, on the same workers: what the recipe cannot beat;
- `pil`: a ModelZoo-style pipeline, Python ops on Pillow images (decode to PIL, RandomResizedCrop, flip,
  a Python RandAugment, ToTensor, Normalize);
- `timm`: timm's training DataLoader (torchvision `ImageFolder`, `create_transform(auto_augment='original',
  color_jitter=0.4)`), skipped without torch/timm;
- with `--sweep`, the recipe again under other pipeline settings (prefetch size, autotune, one worker
  fewer), to see which settings help, and without AutoAugment or without colour jitter, to see what each costs.

The images are JPEG crops of sklearn's two photographs at 500x375, written once to a temporary
ImageFolder tree (or `--data-dir`). Every round runs every row once, alternating the order between
rounds. A measurement runs `--passes` pipelines through the tree, each timed from its first batch to
its last (start-up and worker spawning left out), and also counts the CPU time per image of every core
(start-up included), which other jobs on a shared machine disturb much less than img/s. A row's figures
are the medians over rounds.

Adding a row: write a function `(bench) -> iterator of batches` (tuples of numpy arrays, images first),
decorate it with `@pipeline_row(name, description)`, and it is measured, printed and written to the JSON
like the others. `bench` (`Bench`) holds the tree, the checked train split (`bench.index`), the recipe
config (`bench.config()`), the workers, and `bench.scratch`, a folder for files a row converts the tree to
(a MindRecord row writes its files there once and reads them in every round).

Usage: python benchmarks/pipeline.py [--images 512] [--rounds 3] [--rows recipe,limit,pil,timm] [--json out.json]
"""
import argparse
import importlib.util
import io
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field

import numpy as np
from easydict import EasyDict
from PIL import Image, ImageEnhance, ImageOps

import mindspore as ms
import mindspore.dataset as ds
import mindspore.dataset.transforms as transforms
import mindspore.dataset.vision as vision

from zoo_core.data.dataset import (RANDOM_RESIZED_CROP_RATIO, checked_split, create_train_dataset, index_for,
                                   interpolation_mode, normalize_ops, train_transforms)
from zoo_core.data.workers import AUTO_WORKERS, workers_per_rank
from zoo_core.data.mindrecord import is_mindrecord_folder
from zoo_core.data.mindrecord_convert import convert
from zoo_core.data.mindrecord_pipeline import mindrecord_pipeline
from zoo_resnest.config import RECIPE

IMAGE_WIDTH, IMAGE_HEIGHT = 500, 375
JPEG_QUALITY = 90
# Shards of the MindRecord row: one per pipeline worker of this machine is what a user would write.
MINDRECORD_SHARDS = 2
CLASSES = 4
SEED = 0
PHOTO_CROP_SCALE = (0.6, 1.0)   # share of the photograph's width each image is cut from
LIMIT_ROW = 'limit'
# The ModelZoo-style Python RandAugment: two ops per image at magnitude 9 of 10.
RANDAUGMENT_OPS = 2
RANDAUGMENT_MAGNITUDE = 9
MAX_MAGNITUDE = 10
# What the `--sweep` rows change in the recipe: MindSpore's pipeline settings (its default prefetch size is
# 16), the workers, or one augmentation left out (what each costs).
SWEEP = {
    'recipe_prefetch_2': dict(prefetch_size=2),
    'recipe_prefetch_64': dict(prefetch_size=64),
    'recipe_autotune': dict(autotune=True),
    'recipe_one_worker_less': dict(worker_delta=-1),
    'recipe_without_autoaugment': dict(config=dict(autoaugment='none')),
    'recipe_without_jitter': dict(config=dict(color_jitter=0.0)),
}


@dataclass
class Bench:
    """What a row builds its pipeline from: the ImageFolder tree `root` (`train/<class>/*.jpg`), its checked
    train split `index`, the batch, crop and workers of the run, and `scratch`, a folder for converted data."""
    root: str
    scratch: str
    batch_size: int
    image_size: int
    workers: int
    index: object = None
    settings: dict = field(default_factory=dict)

    def config(self, **overrides):
        """The ResNeSt-50 training recipe on this tree, mixup off, with `overrides`."""
        cfg = EasyDict(RECIPE)
        cfg.update(data_dir=self.root, num_classes=CLASSES, batch_size=self.batch_size, image_size=self.image_size,
                   num_parallel_workers=self.workers, mixup=0.0, cutmix=0.0, seed=SEED)
        cfg.update(overrides)
        return cfg

    def manifest_dataset(self, operations, cfg=None):
        """The recipe's source (the checked split's manifest, shuffled) mapped with `operations`, batched."""
        cfg = cfg or self.config()
        indexing, manifest = checked_split(cfg, 'train', self.index)
        data = ds.ManifestDataset(manifest, usage='train', shuffle=True, class_indexing=indexing,
                                  num_parallel_workers=self.workers)
        data = data.map(operations=operations, input_columns='image', num_parallel_workers=self.workers)
        data = data.map(operations=transforms.TypeCast(ms.int32), input_columns='label',
                        num_parallel_workers=self.workers)
        return data.batch(self.batch_size, drop_remainder=True)


PIPELINES = {}


def pipeline_row(name, description):
    """Register `function(bench) -> iterator of batches` as the row `name` (the extension point)."""
    def register(function):
        PIPELINES[name] = (description, function)
        return function
    return register


def numpy_batches(dataset):
    """The batches of a MindSpore dataset, one epoch, as numpy arrays."""
    return dataset.create_tuple_iterator(num_epochs=1, output_numpy=True)


@pipeline_row('recipe', 'ours, ResNeSt-50 recipe (crop-decode, flip, jitter 0.4, AutoAugment; uint8 CHW out)')
def recipe_row(bench):
    """`train.py`'s pipeline: `create_train_dataset` with the ResNeSt-50 recipe, mixup off."""
    return numpy_batches(create_train_dataset(bench.config(), index=bench.index))


@pipeline_row('recipe_mindrecord', 'the recipe read from MindRecord shards (utils/to_mindrecord.py) of the same images')
def recipe_mindrecord_row(bench):
    """The recipe's pipeline over the tree converted to MindRecord (`MINDRECORD_SHARDS` shards, written into
    `bench.scratch` once, before the first measurement of the row)."""
    shards_dir = os.path.join(bench.scratch, 'mindrecord')
    if not is_mindrecord_folder(shards_dir):
        convert(bench.root, shards_dir, MINDRECORD_SHARDS, bench.workers, log=lambda message: None)
    return numpy_batches(mindrecord_pipeline(bench.config(), shards_dir))


@pipeline_row('recipe_host_normalize', 'the same ending in Normalize + HWC2CHW on the host (float32 out)')
def recipe_host_normalize_row(bench):
    """The recipe's ops with the host's float32 normalisation in place of the uint8 CHW tail."""
    cfg = bench.config()
    return numpy_batches(bench.manifest_dataset(train_transforms(cfg)[:-1] + normalize_ops(cfg.mean, cfg.std)))


@pipeline_row('recipe_mixup', 'the recipe with its batch mixup 0.2 (uint8 batches and their draws; mixed in the train step)')
def recipe_mixup_row(bench):
    """The ResNeSt-50 recipe as it trains: mixup 0.2's draws on the host, the mixing left to the train step."""
    return numpy_batches(create_train_dataset(bench.config(mixup=RECIPE.mixup), index=bench.index))


@pipeline_row(LIMIT_ROW, 'decode + random crop + flip alone (what the recipe cannot beat)')
def limit_row(bench):
    """Crop-decode and flip only, uint8 CHW out, on the recipe's source and workers."""
    cfg = bench.config()
    return numpy_batches(bench.manifest_dataset([
        vision.RandomCropDecodeResize(cfg.image_size, scale=(cfg.crop_scale_min, 1.0), ratio=RANDOM_RESIZED_CROP_RATIO,
                                      interpolation=interpolation_mode(cfg.interpolation)),
        vision.RandomHorizontalFlip(), vision.HWC2CHW()]))


def pil_operations():
    """(name, function(image, magnitude 0-1) -> image) of the Python RandAugment, Pillow ops."""
    return [
        ('identity', lambda image, m: image),
        ('autocontrast', lambda image, m: ImageOps.autocontrast(image)),
        ('equalize', lambda image, m: ImageOps.equalize(image)),
        ('rotate', lambda image, m: image.rotate(30 * m)),
        ('solarize', lambda image, m: ImageOps.solarize(image, int(256 - 256 * m))),
        ('color', lambda image, m: ImageEnhance.Color(image).enhance(1 + 0.9 * m)),
        ('posterize', lambda image, m: ImageOps.posterize(image, max(1, int(8 - 4 * m)))),
        ('contrast', lambda image, m: ImageEnhance.Contrast(image).enhance(1 + 0.9 * m)),
        ('brightness', lambda image, m: ImageEnhance.Brightness(image).enhance(1 + 0.9 * m)),
        ('sharpness', lambda image, m: ImageEnhance.Sharpness(image).enhance(1 + 0.9 * m)),
        ('shear_x', lambda image, m: image.transform(image.size, Image.AFFINE, (1, 0.3 * m, 0, 0, 1, 0))),
        ('translate_y', lambda image, m: image.transform(image.size, Image.AFFINE,
                                                         (1, 0, 0, 0, 1, 0.45 * m * image.size[1]))),
    ]


class PilTrainTransform:
    """Encoded image -> normalised float32 CHW, all in Python on Pillow images: the ModelZoo's way."""

    def __init__(self, image_size, crop_scale_min, mean, std, seed=SEED):
        self.image_size = image_size
        self.crop_scale_min = crop_scale_min
        self.mean = np.asarray(mean, np.float32)
        self.std = np.asarray(std, np.float32)
        self.operations = pil_operations()
        self.rng = np.random.default_rng(seed)

    def crop_box(self, width, height):
        """torchvision's RandomResizedCrop box (10 tries, then the whole image)."""
        for _ in range(10):
            area = width * height * self.rng.uniform(self.crop_scale_min, 1.0)
            aspect = np.exp(self.rng.uniform(*np.log(RANDOM_RESIZED_CROP_RATIO)))
            w, h = int(round(np.sqrt(area * aspect))), int(round(np.sqrt(area / aspect)))
            if 0 < w <= width and 0 < h <= height:
                left, top = self.rng.integers(0, width - w + 1), self.rng.integers(0, height - h + 1)
                return left, top, left + w, top + h
        return 0, 0, width, height

    def __call__(self, encoded):
        image = Image.open(io.BytesIO(encoded.tobytes())).convert('RGB')
        image = image.resize((self.image_size, self.image_size), Image.BILINEAR, box=self.crop_box(*image.size))
        if self.rng.random() < 0.5:
            image = image.transpose(Image.FLIP_LEFT_RIGHT)
        for index in self.rng.choice(len(self.operations), RANDAUGMENT_OPS):
            image = self.operations[index][1](image, RANDAUGMENT_MAGNITUDE / MAX_MAGNITUDE)
        pixels = np.asarray(image, np.float32) / 255.0
        return ((pixels - self.mean) / self.std).transpose(2, 0, 1)


@pipeline_row('pil', 'ModelZoo-style PIL pipeline (PIL decode, RandomResizedCrop, flip, Python RandAugment, '
                     'ToTensor, Normalize)')
def pil_row(bench):
    """Python ops on the recipe's source and workers (threads: the ModelZoo's default)."""
    cfg = bench.config()
    return numpy_batches(bench.manifest_dataset(
        [PilTrainTransform(cfg.image_size, cfg.crop_scale_min, cfg.mean, cfg.std)]))


@pipeline_row('timm', "timm's DataLoader (torchvision ImageFolder, create_transform(auto_augment='original', "
                      "color_jitter=0.4))")
def timm_row(bench):
    """timm's training transform in a PyTorch DataLoader with the same workers and batch."""
    import torch
    import torchvision
    from timm.data import create_transform
    transform = create_transform(bench.image_size, is_training=True, auto_augment='original', color_jitter=0.4)
    folder = torchvision.datasets.ImageFolder(os.path.join(bench.root, 'train'), transform=transform)
    loader = torch.utils.data.DataLoader(folder, batch_size=bench.batch_size, shuffle=True, drop_last=True,
                                         num_workers=bench.workers)
    return ((images.numpy(), labels.numpy()) for images, labels in loader)


def sweep_row(name, settings):
    """The recipe row under other `settings`: prefetch_size, autotune, worker_delta, config (recipe keys)."""
    def row(bench):
        workers = max(1, bench.workers + settings.get('worker_delta', 0))
        cfg = bench.config(num_parallel_workers=workers, **settings.get('config', {}))
        return numpy_batches(create_train_dataset(cfg, index=bench.index))
    row.settings = settings
    return pipeline_row(name, f"recipe with {settings}")(row)


def timm_available():
    """torch, torchvision and timm are installed."""
    return all(importlib.util.find_spec(name) for name in ('torch', 'torchvision', 'timm'))


def parse_args(argv=None):
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--images', type=int, default=512, help='JPEG images in the tree')
    parser.add_argument('--rounds', type=int, default=5, help='measurements of every row, alternating the order')
    parser.add_argument('--passes', type=int, default=2, help='runs through the tree per measurement')
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--image-size', type=int, default=224, help='crop size')
    parser.add_argument('--workers', default=AUTO_WORKERS, help="pipeline workers: 'auto' (train.py's default) or N")
    parser.add_argument('--rows', default='recipe,recipe_mindrecord,recipe_host_normalize,recipe_mixup,limit,pil,timm',
                        help='comma-separated rows (timm is skipped without torch)')
    parser.add_argument('--sweep', action='store_true', help='add the recipe under other pipeline settings')
    parser.add_argument('--data-dir', default='', help='an ImageFolder tree with train/ to use instead')
    parser.add_argument('--json', dest='json_path', default='', help='also write the results to this file')
    args = parser.parse_args(argv)
    if min(args.images, args.rounds, args.passes, args.batch_size, args.image_size) < 1:
        parser.error('--images, --rounds, --passes, --batch-size and --image-size must be >= 1')
    if args.sweep:
        for name, settings in SWEEP.items():
            sweep_row(name, settings)
    args.row_list = [row.strip() for row in args.rows.split(',') if row.strip()] + (list(SWEEP) if args.sweep else [])
    unknown = [row for row in args.row_list if row not in PIPELINES]
    if unknown or not args.row_list:
        parser.error(f"--rows: unknown or empty {unknown or args.rows!r}; choose from {', '.join(PIPELINES)}")
    if LIMIT_ROW not in args.row_list:
        parser.error(f"--rows must include {LIMIT_ROW!r}: every other row is given as a ratio to it")
    if 'timm' in args.row_list and not timm_available():
        print('timm row skipped: torch, torchvision or timm is not installed', file=sys.stderr)
        args.row_list.remove('timm')
    return args


def sample_photographs():
    """sklearn's two sample photographs (Pillow images, 640x427)."""
    try:
        from sklearn.datasets import load_sample_images
    except ImportError:
        raise SystemExit('error: the photographs come from scikit-learn: pip install scikit-learn') from None
    return [Image.fromarray(pixels) for pixels in load_sample_images().images]


def write_tree(root, count):
    """ImageFolder `root/train/class<k>/<i>.jpg`: `count` 500x375 JPEGs cut from the photographs at random
    places and scales, some mirrored, so that no two files are alike."""
    rng = np.random.default_rng(SEED)
    photographs = sample_photographs()
    for index in range(count):
        photo = photographs[index % len(photographs)]
        width = int(photo.width * rng.uniform(*PHOTO_CROP_SCALE))
        height = min(photo.height, int(width * IMAGE_HEIGHT / IMAGE_WIDTH))
        left, top = rng.integers(0, photo.width - width + 1), rng.integers(0, photo.height - height + 1)
        image = photo.crop((left, top, left + width, top + height)).resize((IMAGE_WIDTH, IMAGE_HEIGHT), Image.BICUBIC)
        if rng.random() < 0.5:
            image = image.transpose(Image.FLIP_LEFT_RIGHT)
        folder = os.path.join(root, 'train', f'class{index % CLASSES}')
        os.makedirs(folder, exist_ok=True)
        image.save(os.path.join(folder, f'{index:05d}.jpg'), quality=JPEG_QUALITY)
    return root


def apply_settings(settings):
    """Set MindSpore's global pipeline settings of a row; returns the previous values, for `apply_settings`."""
    previous = dict(prefetch_size=ds.config.get_prefetch_size(), autotune=ds.config.get_enable_autotune())
    if 'prefetch_size' in settings:
        ds.config.set_prefetch_size(settings['prefetch_size'])
    if 'autotune' in settings:
        ds.config.set_enable_autotune(settings['autotune'])
    return previous


def cpu_seconds():
    """CPU time (user + system) of this process's threads and of its children that have ended (a
    DataLoader's worker processes, once it has joined them)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def measure(function, bench, passes):
    """One measurement of a row: `passes` pipelines built and run through, each timed from its first batch
    to its last. Returns a dict: img/s, CPU ms per image (over whole passes, start-up included: every
    core's work, so less sensitive to other jobs than img/s), bytes per sample of a batch, image dtype."""
    previous = apply_settings(getattr(function, 'settings', {}))
    count = timed = seconds = 0.0
    cpu_start = cpu_seconds()
    try:
        for _ in range(passes):
            batches = iter(function(bench))
            first = next(batches)
            count += first[0].shape[0]
            start = time.perf_counter()
            images = sum(batch[0].shape[0] for batch in batches)
            seconds += time.perf_counter() - start
            timed += images
            count += images
            del batches  # a DataLoader joins its workers here, so that their CPU time is counted
    finally:
        apply_settings(previous)
    cpu_ms = (cpu_seconds() - cpu_start) * 1000 / count
    return dict(img_per_s=timed / seconds if seconds > 0 else float('nan'), cpu_ms_per_image=cpu_ms,
                bytes_per_sample=sum(column.nbytes for column in first) / first[0].shape[0], dtype=str(first[0].dtype))


def summarise(rows, rounds_seen):
    """Per row, from its measurements (`measure`'s dicts) in `rounds_seen`: median img/s and CPU ms per
    image, every round's img/s, the ratios to the limit, bytes per sample and dtype."""
    def median_of(name, key):
        return statistics.median(seen[key] for seen in rounds_seen[name])
    limit, limit_cpu = median_of(LIMIT_ROW, 'img_per_s'), median_of(LIMIT_ROW, 'cpu_ms_per_image')
    summary = []
    for name in rows:
        img_per_s, cpu_ms = median_of(name, 'img_per_s'), median_of(name, 'cpu_ms_per_image')
        last = rounds_seen[name][-1]
        summary.append(dict(name=name, description=PIPELINES[name][0], img_per_s=img_per_s,
                            rounds_img_per_s=[seen['img_per_s'] for seen in rounds_seen[name]],
                            ratio_to_limit=img_per_s / limit, cpu_ms_per_image=cpu_ms,
                            cpu_ratio_to_limit=limit_cpu / cpu_ms if cpu_ms > 0 else None,
                            bytes_per_sample=last['bytes_per_sample'], dtype=last['dtype']))
    return summary


def format_table(summary):
    """The results as a Markdown table."""
    lines = ['| row | img/s | / limit | CPU ms/img | limit CPU / row CPU | bytes/sample | dtype | img/s per round |',
             '| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |']
    for row in summary:
        rounds = ', '.join(f'{value:.0f}' for value in row['rounds_img_per_s'])
        lines.append(f"| {row['name']} | {row['img_per_s']:.0f} | {row['ratio_to_limit']:.2f} | "
                     f"{row['cpu_ms_per_image']:.2f} | {row['cpu_ratio_to_limit'] or float('nan'):.2f} | "
                     f"{row['bytes_per_sample']:.0f} | {row['dtype']} | {rounds} |")
    return '\n'.join(lines)


def run(args, root, scratch):
    """Measure every row `args.rounds` times, alternating the order; returns the report."""
    workers = workers_per_rank(args.workers)
    bench = Bench(root=root, scratch=scratch, batch_size=args.batch_size, image_size=args.image_size, workers=workers)
    bench.index = index_for(bench.config(), 'train')
    for name in args.row_list:  # untimed: imports (torch), the page cache, MindSpore's first pipeline
        measure(PIPELINES[name][1], bench, passes=1)
    seen = {name: [] for name in args.row_list}
    for round_number in range(args.rounds):
        for name in (args.row_list if round_number % 2 == 0 else args.row_list[::-1]):
            seen[name].append(measure(PIPELINES[name][1], bench, args.passes))
            print(f"  round {round_number + 1} {name}: {seen[name][-1]['img_per_s']:.1f} img/s, "
                  f"{seen[name][-1]['cpu_ms_per_image']:.2f} CPU ms/img", flush=True)
    summary = summarise(args.row_list, seen)
    return dict(images=len(bench.index.samples), image_file_size=f'{IMAGE_WIDTH}x{IMAGE_HEIGHT}',
                batch_size=args.batch_size, image_size=args.image_size, workers=workers, rounds=args.rounds,
                passes=args.passes,
                cpu_count=os.cpu_count(), load_average=os.getloadavg(), mindspore=ms.__version__,
                prefetch_size=ds.config.get_prefetch_size(), rows=summary)


def main(argv=None):
    """Run the benchmark; print the table and the ratios, write the JSON."""
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix='pipeline_bench_') as scratch:
        root = args.data_dir or write_tree(os.path.join(scratch, 'tree'), args.images)
        report = run(args, os.path.abspath(root), scratch)
    print(f"{report['images']} JPEGs ({report['image_file_size']}), batch {report['batch_size']}, crop "
          f"{report['image_size']}, {report['workers']} workers, median of {report['rounds']} interleaved rounds")
    print(format_table(report['rows']))
    by_name = {row['name']: row for row in report['rows']}
    if 'recipe' in by_name and 'pil' in by_name:
        print(f"recipe / pil: {by_name['recipe']['img_per_s'] / by_name['pil']['img_per_s']:.2f}x")
    if args.json_path:
        with open(args.json_path, 'w', encoding='utf-8') as handle:
            json.dump(report, handle, indent=2)
        print(f"wrote {args.json_path}")


if __name__ == '__main__':
    main()
