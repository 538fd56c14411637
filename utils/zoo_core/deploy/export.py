"""Export a trained network for deployment (MINDIR, ONNX, AIR), and the command line of each model's
`export.py`, which can also run an exported MINDIR on the CPU (`--run_mindir`, see `zoo_core.deploy.infer`).

What each format allows, in MindSpore 2.x:
- MINDIR: static batch, or a dynamic batch (input `[None, 3, H, W]`).
- ONNX: static batch only; MindSpore refuses to export ONNX with a dynamic shape.
- AIR: only with the Ascend backend (`--device_target Ascend` on an Ascend machine).
"""
import argparse
import os

import numpy as np
import mindspore as ms

from zoo_core.weights.checkpoint import network_weights, read_checkpoint
from zoo_core.weights.convert import WeightMismatchError, load_weights
from zoo_core.deploy.infer import run_mindir

FILE_EXTENSIONS = {'MINDIR': '.mindir', 'ONNX': '.onnx', 'AIR': '.air'}
DEVICE_TARGETS = ('CPU', 'GPU', 'Ascend')
AIR_DEVICE_TARGET = 'Ascend'
IMAGE_CHANNELS = 3
CLASSIFIER_WEIGHT = 'fc.weight'
DEFAULT_RESULT_PATH = 'result_Files'


class ExportError(ValueError):
    """An export that cannot be done as asked; the message says why and what to do instead."""


def export_network(net, file_name, file_format, input_size, batch_size=1, dynamic_batch=False):
    """Export `net` (eval mode) for input images of `input_size` (int or (H, W)); returns the file written.

    Args:
        file_name: output path; the format's extension (`.mindir`, `.onnx`, `.air`) is added if missing.
        batch_size: the batch the graph is exported for (ignored with `dynamic_batch`).
        dynamic_batch: leave the batch dimension open (MINDIR only).
    """
    file_format = file_format.upper()
    if file_format not in FILE_EXTENSIONS:
        raise ExportError(f"unknown file format {file_format!r}; choose one of {', '.join(FILE_EXTENSIONS)}")
    if dynamic_batch and file_format != 'MINDIR':
        raise ExportError(f"a dynamic batch can only be exported to MINDIR: MindSpore refuses to export "
                          f"{file_format} with a dynamic shape. Export {file_format} with a fixed "
                          "--batch_size, or MINDIR with --dynamic_batch.")
    device_target = ms.get_current_device().device_target
    if file_format == 'AIR' and device_target != AIR_DEVICE_TARGET:
        raise ExportError(f"AIR export needs the Ascend backend, but the device target is {device_target}: "
                          "run with --device_target Ascend on an Ascend machine, or export MINDIR or ONNX.")
    if batch_size < 1:
        raise ExportError(f"batch_size must be at least 1, got {batch_size}")
    height, width = (input_size, input_size) if isinstance(input_size, int) else input_size
    if dynamic_batch:
        inputs = ms.Tensor(shape=[None, IMAGE_CHANNELS, height, width], dtype=ms.float32)
    else:
        inputs = ms.Tensor(np.zeros((batch_size, IMAGE_CHANNELS, height, width), dtype=np.float32))
    extension = FILE_EXTENSIONS[file_format]
    file_name = os.fspath(file_name)
    path = file_name if file_name.endswith(extension) else file_name + extension
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    net.set_train(False)
    ms.export(net, inputs, file_name=path, file_format=file_format)
    return path


def num_classes_of(weights):
    """Classifier outputs of a network's weights (rows of `fc.weight`)."""
    if CLASSIFIER_WEIGHT not in weights:
        raise ExportError(f"the checkpoint has no {CLASSIFIER_WEIGHT!r} to take the number of classes from; "
                          "pass --num_classes (0 for a network without classifier)")
    return int(weights[CLASSIFIER_WEIGHT].shape[0])


def parse_args(registry, default_net, argv):
    """The export command line of a model family (`registry`), its default network `default_net`."""
    parser = argparse.ArgumentParser(
        description=f"Export a {registry.family} checkpoint to MINDIR/ONNX/AIR, or run an exported MINDIR "
                    "on the CPU over an ImageFolder tree (--run_mindir).")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--ckpt_file', help="MindSpore checkpoint to export (a training checkpoint is fine: "
                                            "the optimizer state is left out)")
    source.add_argument('--run_mindir', metavar='MINDIR',
                        help="instead of exporting, run this MINDIR (on --device_target) over --data_path and "
                             "write <image stem>_0.bin logits into --result_path, for postprocess.py")
    parser.add_argument('--net', default=default_net, choices=registry.names(), help="network variant")
    parser.add_argument('--num_classes', type=int, default=None,
                        help="classifier outputs (default: from the checkpoint's fc.weight)")
    parser.add_argument('--file_name', default=None, help="output file (default: the network name)")
    parser.add_argument('--file_format', default='MINDIR', choices=list(FILE_EXTENSIONS))
    parser.add_argument('--batch_size', type=int, default=1,
                        help="batch of the exported graph (export); images per step (--run_mindir with a "
                             "dynamic-batch MINDIR)")
    parser.add_argument('--dynamic_batch', action='store_true', help="leave the batch open (MINDIR only)")
    parser.add_argument('--image_size', type=int, default=None,
                        help="input height and width (default: the variant's pretrained input size)")
    parser.add_argument('--device_target', default='CPU', choices=DEVICE_TARGETS)
    parser.add_argument('--device_id', type=int, default=0)
    parser.add_argument('--data_path', help="ImageFolder tree <data_path>/<class>/<image> (--run_mindir)")
    parser.add_argument('--result_path', default=DEFAULT_RESULT_PATH,
                        help="folder for the <image stem>_0.bin results (--run_mindir)")
    args = parser.parse_args(argv)
    if args.run_mindir and not args.data_path:
        parser.error("--run_mindir needs --data_path")
    return args


def main(registry, default_net, argv=None):
    """Command line of a model's `export.py`; returns the file written (export) or the image count (run).

    Args:
        registry: the family's `zoo_core.models.registry.Registry` (builds the networks and holds each variant's
            input size and eval preprocessing).
        default_net: the variant exported when `--net` is not given.
    """
    args = parse_args(registry, default_net, argv)
    if args.device_target == 'CPU':
        ms.set_device(args.device_target)
    else:
        ms.set_device(args.device_target, args.device_id)
    preprocessing = registry.variant(args.net).pretrained
    try:
        if args.run_mindir:
            count = run_mindir(args.run_mindir, args.data_path, args.result_path, preprocessing,
                               batch_size=args.batch_size)
            print(f"{count} images -> {args.result_path}")
            return count
        weights = network_weights(read_checkpoint(args.ckpt_file))  # without the optimizer state
        num_classes = num_classes_of(weights) if args.num_classes is None else args.num_classes
        net = registry.build(args.net, num_classes=num_classes)
        load_weights(net, weights)
        image_size = args.image_size or preprocessing.input_size
        path = export_network(net, args.file_name or args.net, args.file_format, image_size,
                              batch_size=args.batch_size, dynamic_batch=args.dynamic_batch)
    except WeightMismatchError as error:
        raise SystemExit(f"error: checkpoint {args.ckpt_file} does not fit {args.net}: {error}") from None
    except (FileNotFoundError, ValueError) as error:
        raise SystemExit(f"error: {error}") from None
    print(f"exported {args.net} ({num_classes} classes, input {image_size}x{image_size}) -> {path}")
    return path
