"""Eval throughput of the two eval resize paths, side by side in one run: 'pil' (the reference's pixels,
`zoo_core.data.reference_eval`) and 'fast' (the C++ ops), with the eval pipeline itself
(`zoo_core.data.dataset.create_eval_dataset`: ManifestDataset, map, batch) over JPEG photographs.

The images are crops of sklearn's two photographs at ImageNet-like sizes (shorter side 300-500, aspect
3:4 to 4:3), written once to a temporary ImageFolder tree. The modes alternate over `--repeat` passes
and the img/s of each pass is printed, then the median. Without `--net` only the input pipeline is
timed (decode to uint8 batch); with `--net NAME` the eval loop (`zoo_core.engine.evaluate`) runs
that network (random weights, GRAPH mode) on the batches too, after one untimed pass that
compiles it, and each pass also prints the img/s of the network's calls alone and the ratio of the
whole loop to it (the two figures `eval.py` reports).

Usage: python benchmarks/eval_preprocessing.py [--images 256] [--repeat 3] [--interpolations bilinear,bicubic]
       [--net resnest50]
"""
import argparse
import os
import statistics
import tempfile
import time

import numpy as np
from easydict import EasyDict
from PIL import Image

from zoo_core.data.dataset import EVAL_RESIZE_FAST, EVAL_RESIZE_PIL, create_eval_dataset
from zoo_core.models.registry import IMAGENET_MEAN, IMAGENET_STD

MODES = (EVAL_RESIZE_PIL, EVAL_RESIZE_FAST)
SHORTER_SIDE_RANGE = (300, 500)
ASPECT_RANGE = (3 / 4, 4 / 3)
JPEG_QUALITY = 90
IMAGE_SIZE = 224
CROP_PCT = 0.875
CLASSES = 2
SEED = 0


def parse_args(argv=None):
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--images', type=int, default=256, help='JPEG images in the tree')
    parser.add_argument('--repeat', type=int, default=3, help='passes of each mode, alternating')
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--workers', type=int, default=os.cpu_count(), help='pipeline workers (clamped to cores)')
    parser.add_argument('--interpolations', default='bilinear,bicubic', help='comma-separated')
    parser.add_argument('--net', default='', help='also run this network (e.g. resnest50) in the eval loop')
    args = parser.parse_args(argv)
    if min(args.images, args.repeat, args.batch_size, args.workers) < 1:
        parser.error('--images, --repeat, --batch-size and --workers must be >= 1')
    return args


def sample_photographs():
    """sklearn's two sample photographs (Pillow images)."""
    from sklearn.datasets import load_sample_images
    return [Image.fromarray(pixels) for pixels in load_sample_images().images]


def write_tree(root, count):
    """ImageFolder `root/val/class<k>/<i>.jpg` of `count` resized crops of the sample photographs."""
    rng = np.random.default_rng(SEED)
    photographs = sample_photographs()
    for index in range(count):
        photo = photographs[index % len(photographs)]
        aspect = rng.uniform(*ASPECT_RANGE)
        width, height = int(photo.width * min(1.0, aspect)), int(photo.height * min(1.0, 1 / aspect))
        left, top = rng.integers(0, photo.width - width + 1), rng.integers(0, photo.height - height + 1)
        crop = photo.crop((left, top, left + width, top + height))
        scale = rng.integers(*SHORTER_SIDE_RANGE) / min(crop.size)
        folder = os.path.join(root, 'val', f'class{index % CLASSES}')
        os.makedirs(folder, exist_ok=True)
        crop.resize((round(crop.width * scale), round(crop.height * scale)), Image.BICUBIC).save(
            os.path.join(folder, f'{index:05d}.jpg'), quality=JPEG_QUALITY)
    return root


def eval_config(root, mode, interpolation, args):
    """The eval pipeline's settings for one measurement."""
    return EasyDict(data_dir=root, num_classes=CLASSES, image_size=IMAGE_SIZE, crop_pct=CROP_PCT,
                    interpolation=interpolation, mean=list(IMAGENET_MEAN), std=list(IMAGENET_STD),
                    eval_resize=mode, eval_batch_size=args.batch_size, num_parallel_workers=args.workers,
                    strict_data=False)


def images_per_second(cfg, net=None):
    """img/s of one pass over the eval data: the pipeline alone, or the eval loop with `net`; with `net`,
    (whole loop, network alone), as `eval.py` reports them."""
    dataset = create_eval_dataset(cfg)
    if net is not None:
        from zoo_core.engine.evaluate import evaluate
        from zoo_core.models.input_norm import NormalizedNetwork
        result = evaluate(NormalizedNetwork(net, cfg.mean, cfg.std), dataset)  # the pipeline gives uint8
        return result.images_per_second, result.network_images_per_second
    start = time.perf_counter()
    count = sum(images.shape[0] for images, _ in dataset.create_tuple_iterator(num_epochs=1, output_numpy=True))
    return count / (time.perf_counter() - start)


def build_network(name):
    """Network `name` of either family, random weights, eval mode, in GRAPH mode (as eval.py runs it)."""
    import mindspore as ms
    from zoo_resnest.family import FAMILY as RESNEST
    from zoo_resnext.family import FAMILY as RESNEXT
    family = RESNEST if name in RESNEST.registry.names() else RESNEXT
    ms.set_context(mode=ms.GRAPH_MODE)
    net = family.registry.build(name, num_classes=CLASSES)
    net.set_train(False)
    return net


def main(argv=None):
    """Run the measurements and print img/s per pass and the medians."""
    args = parse_args(argv)
    net = build_network(args.net) if args.net else None
    with tempfile.TemporaryDirectory(prefix='eval_preprocessing_') as root:
        write_tree(root, args.images)
        what = f"eval loop with {args.net}" if net is not None else "input pipeline"
        print(f"{args.images} JPEGs, resize {int(IMAGE_SIZE / CROP_PCT)} / crop {IMAGE_SIZE}, batch "
              f"{args.batch_size}, {args.workers} workers, {what}")
        for interpolation in args.interpolations.split(','):
            passes = {mode: [] for mode in MODES}
            network_passes = {mode: [] for mode in MODES}
            if net is not None:
                images_per_second(eval_config(root, EVAL_RESIZE_FAST, interpolation, args), net)  # compiles
            for repeat in range(args.repeat):
                for mode in (MODES if repeat % 2 == 0 else MODES[::-1]):
                    measured = images_per_second(eval_config(root, mode, interpolation, args), net)
                    if net is None:
                        passes[mode].append(measured)
                        print(f"  {interpolation} {mode} pass {repeat + 1}: {measured:.1f} img/s", flush=True)
                        continue
                    passes[mode].append(measured[0])
                    network_passes[mode].append(measured[1])
                    print(f"  {interpolation} {mode} pass {repeat + 1}: whole loop {measured[0]:.2f} img/s, network "
                          f"alone {measured[1]:.2f} img/s (loop/network {measured[0] / measured[1]:.3f})", flush=True)
            medians = {mode: statistics.median(values) for mode, values in passes.items()}
            print(f"{interpolation}: pil {medians[EVAL_RESIZE_PIL]:.1f} img/s, fast {medians[EVAL_RESIZE_FAST]:.1f} "
                  f"img/s (pil/fast {medians[EVAL_RESIZE_PIL] / medians[EVAL_RESIZE_FAST]:.2f}x)")
            for mode, values in network_passes.items():
                if values:
                    ratios = [loop / network for loop, network in zip(passes[mode], values)]
                    print(f"{interpolation} {mode}: the whole loop at {statistics.median(ratios):.3f} of the network "
                          f"alone (median of {len(ratios)} passes; {min(ratios):.3f}..{max(ratios):.3f})")


if __name__ == '__main__':
    main()
