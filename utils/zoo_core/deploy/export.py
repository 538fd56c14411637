"""Export a trained network for deployment (MINDIR, ONNX, AIR), and the command line of each model's
`export.py`, which can also run an exported MINDIR on the CPU (`--run_mindir`, see `zoo_core.deploy.infer`).

What each format allows, in MindSpore 2.x:
- MINDIR: static batch, or a dynamic batch (input `[None, 3, H, W]`).
- ONNX: static batch only; MindSpore refuses to export ONNX with a dynamic shape.
- AIR: only with the Ascend backend (`--device_target Ascend` on an Ascend machine).

Input: float32 images normalised by the caller (the default, what `ascend310_infer/` and `--run_mindir`
feed), or with `--input_dtype uint8` the uint8 CHW pixels, normalised in the graph by the variant's
mean/std (`zoo_core.models.input_norm`): a quarter of the bytes, and no normalisation for the caller.
"""
from __future__ import annotations

import argparse
import os
from dataclasses import replace
from typing import TYPE_CHECKING, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import mindspore as ms

from zoo_core.data.dataset import EVAL_RESIZE_FAST, EVAL_RESIZE_PIL
from zoo_core.deploy.infer import run_mindir
from zoo_core.deploy.model_meta import ModelMeta, checkpoint_meta, exported_meta, write_sidecar
from zoo_core.engine.run_settings import run_config, run_folder
from zoo_core.models.backbone import CLASSIFIER_WEIGHT
from zoo_core.models.input_norm import NormalizedNetwork
from zoo_core.runtime.compat import current_device_target
from zoo_core.runtime.devices import DEVICE_TARGETS, select_device
from zoo_core.runtime.errors import ZooError, run_command
from zoo_core.weights.checkpoint import network_weights, read_checkpoint
from zoo_core.weights.fit import WeightMismatchError, load_weights

if TYPE_CHECKING:  # names used in annotations only
    from zoo_core.models.family import ModelFamily
    from zoo_core.models.registry import PretrainedConfig
    from zoo_core.weights.files import StrPath

FILE_EXTENSIONS = {'MINDIR': '.mindir', 'ONNX': '.onnx', 'AIR': '.air'}
AIR_DEVICE_TARGET = 'Ascend'
IMAGE_CHANNELS = 3
DEFAULT_RESULT_PATH = 'result_Files'
# --input_dtype: what the exported model takes; float32 is normalised by the caller, uint8 in the graph.
INPUT_DTYPES = {'float32': ms.float32, 'uint8': ms.uint8}
DEFAULT_INPUT_DTYPE = 'float32'


class ExportError(ZooError):
    """An export that cannot be done as asked; the message says why and what to do instead."""


def export_network(net: ms.nn.Cell, file_name: StrPath, file_format: str, input_size: Union[int, Tuple[int, int]],
                   batch_size: int = 1, dynamic_batch: bool = False, input_dtype: str = DEFAULT_INPUT_DTYPE,
                   normalization: Optional[Tuple[Sequence[float], Sequence[float]]] = None) -> str:
    """Export `net` (eval mode) for input images of `input_size` (int or (H, W)); returns the file written.

    Args:
        file_name: output path; the format's extension (`.mindir`, `.onnx`, `.air`) is added if missing.
        batch_size: the batch the graph is exported for (ignored with `dynamic_batch`).
        dynamic_batch: leave the batch dimension open (MINDIR only).
        input_dtype: 'float32' (normalised images, `net` exported as it is) or 'uint8' (pixels, 0-255:
            the graph normalises them with `normalization`, the (mean, std) of the variant).
    """
    if input_dtype not in INPUT_DTYPES:
        raise ExportError(f"unknown input dtype {input_dtype!r}; choose one of {', '.join(INPUT_DTYPES)}")
    if INPUT_DTYPES[input_dtype] == ms.uint8:
        if normalization is None:
            raise ExportError("a uint8-input export needs the (mean, std) to normalise with")
        net = NormalizedNetwork(net, *normalization)
    file_format = file_format.upper()
    if file_format not in FILE_EXTENSIONS:
        raise ExportError(f"unknown file format {file_format!r}; choose one of {', '.join(FILE_EXTENSIONS)}")
    if dynamic_batch and file_format != 'MINDIR':
        raise ExportError(f"a dynamic batch can only be exported to MINDIR: MindSpore refuses to export "
                          f"{file_format} with a dynamic shape. Export {file_format} with a fixed "
                          "--batch_size, or MINDIR with --dynamic_batch.")
    device_target = current_device_target()
    if file_format == 'AIR' and device_target != AIR_DEVICE_TARGET:
        raise ExportError(f"AIR export needs the Ascend backend, but the device target is {device_target}: "
                          "run with --device_target Ascend on an Ascend machine, or export MINDIR or ONNX.")
    if batch_size < 1:
        raise ExportError(f"batch_size must be at least 1, got {batch_size}")
    height, width = (input_size, input_size) if isinstance(input_size, int) else input_size
    dtype = INPUT_DTYPES[input_dtype]
    if dynamic_batch:
        inputs = ms.Tensor(shape=[None, IMAGE_CHANNELS, height, width], dtype=dtype)
    else:
        inputs = ms.Tensor(np.zeros((batch_size, IMAGE_CHANNELS, height, width)), dtype=dtype)
    extension = FILE_EXTENSIONS[file_format]
    file_name = os.fspath(file_name)
    path = file_name if file_name.endswith(extension) else file_name + extension
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    net.set_train(False)
    ms.export(net, inputs, file_name=path, file_format=file_format)
    return path


def num_classes_of(weights: Mapping[str, np.ndarray]) -> int:
    """Classifier outputs of a network's weights (rows of `fc.weight`)."""
    if CLASSIFIER_WEIGHT not in weights:
        raise ExportError(f"the checkpoint has no {CLASSIFIER_WEIGHT!r} to take the number of classes from; "
                          "pass --num_classes (0 for a network without classifier)")
    return int(weights[CLASSIFIER_WEIGHT].shape[0])


def build_parser(family: ModelFamily) -> argparse.ArgumentParser:
    """The argument parser of a model `family`'s export command."""
    parser = argparse.ArgumentParser(
        description=f"Export a {family.name} checkpoint (--ckpt_path CKPT) to MINDIR/ONNX/AIR, run an exported "
                    "MINDIR on the CPU "
                    "over an ImageFolder tree (--run_mindir), or print a variant's eval preprocessing "
                    "(--preprocessing).")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--ckpt_path', '--ckpt_file', dest='ckpt_path', metavar='CKPT',
                        help="MindSpore checkpoint to export (a training checkpoint is fine: the optimizer state "
                             "is left out); --ckpt_file, the ModelZoo's name, is an alias")
    source.add_argument('--run_mindir', metavar='MINDIR',
                        help="instead of exporting, run this MINDIR (on --device_target) over --data_path and "
                             "write <class>/<image stem>_0.bin logits into --result_path, for postprocess.py")
    source.add_argument('--preprocessing', nargs='?', const=True, default=None, metavar='MINDIR',
                        help="print an eval preprocessing as one line 'INPUT_SIZE CROP_PCT INTERPOLATION' (for "
                             "the inference scripts): that of exported MINDIR (its <MINDIR>.json, written by "
                             "the export), else of --net's published weights")
    parser.add_argument('--net', default=None, choices=family.registry.names(),
                        help=f"network variant (default: the one the checkpoint's run trained, else "
                             f"{family.default_net})")
    parser.add_argument('--num_classes', type=int, default=None,
                        help="classifier outputs (default: from the checkpoint's fc.weight)")
    parser.add_argument('--file_name', default=None, help="output file (default: the network name)")
    parser.add_argument('--file_format', default='MINDIR', choices=list(FILE_EXTENSIONS))
    parser.add_argument('--batch_size', type=int, default=1,
                        help="batch of the exported graph (export); images per step (--run_mindir with a "
                             "dynamic-batch MINDIR)")
    parser.add_argument('--dynamic_batch', action='store_true', help="leave the batch open (MINDIR only)")
    parser.add_argument('--input_dtype', default=DEFAULT_INPUT_DTYPE, choices=list(INPUT_DTYPES),
                        help="what the exported model takes: float32, images normalised by the caller (what "
                             "the Ascend 310 program sends), or uint8, the pixels (N, 3, H, W), normalised in "
                             "the graph with the variant's mean/std")
    parser.add_argument('--image_size', type=int, default=None,
                        help="input height and width (default: the variant's pretrained input size)")
    parser.add_argument('--device_target', default='CPU', choices=DEVICE_TARGETS)
    parser.add_argument('--device_id', type=int, default=0)
    parser.add_argument('--data_path', help="ImageFolder tree <data_path>/<class>/<image> (--run_mindir)")
    parser.add_argument('--result_path', default=DEFAULT_RESULT_PATH,
                        help="folder for the <class>/<image stem>_0.bin results (--run_mindir)")
    parser.add_argument('--eval_resize', default=None, choices=[EVAL_RESIZE_PIL, EVAL_RESIZE_FAST],
                        help="--run_mindir preprocessing: pil, the published weights' exact pixels, or fast, "
                             "the C++ ops (as the Ascend 310 program); default: what the MINDIR's run "
                             "evaluated with (its <MINDIR>.json), else pil")
    return parser


def parse_args(family: ModelFamily, argv: Optional[List[str]]) -> argparse.Namespace:
    """The export command line of a model `family`, checked."""
    parser = build_parser(family)
    args = parser.parse_args(argv)
    if args.run_mindir and not args.data_path:
        parser.error("--run_mindir needs --data_path")
    return args


def export_checkpoint(family: ModelFamily, args: argparse.Namespace) -> str:
    """Export `args.ckpt_path`, a checkpoint of `family`'s `args.net`; returns the file written."""
    print(f"reading {args.ckpt_path} and building {args.net}", flush=True)
    try:
        weights = network_weights(read_checkpoint(args.ckpt_path))  # without the optimizer state
        num_classes = num_classes_of(weights) if args.num_classes is None else args.num_classes
        net = family.registry.build(args.net, num_classes=num_classes)
        load_weights(net, weights)
    except WeightMismatchError as error:
        raise ExportError(f"checkpoint {args.ckpt_path} does not fit {args.net}: {error}") from None
    meta = checkpoint_meta(family, args.ckpt_path, args.net, num_classes)
    image_size = args.image_size or meta.input_size
    print(f"exporting {args.file_format} at {image_size}x{image_size}: MindSpore compiles the graph first (a minute "
          f"or more for the largest variants on a CPU)", flush=True)
    path = export_network(net, args.file_name or args.net, args.file_format, image_size,
                          batch_size=args.batch_size, dynamic_batch=args.dynamic_batch,
                          input_dtype=args.input_dtype, normalization=(meta.mean, meta.std))
    sidecar = write_sidecar(path, replace(meta, input_size=image_size))  # predict.py --model reads it
    print(f"exported {args.net} ({num_classes} classes, input {args.input_dtype} {image_size}x{image_size}) "
          f"-> {path} (preprocessing and class names: {sidecar})")
    return path


def exported_model(args: argparse.Namespace) -> Optional[str]:
    """The exported model that `args` name (`--run_mindir`, or `--preprocessing MINDIR`), or None."""
    return args.run_mindir or (args.preprocessing if isinstance(args.preprocessing, str) else None)


def resolve_net(family: ModelFamily, args: argparse.Namespace, meta: Optional[ModelMeta] = None) -> str:
    """The variant to use: `--net`, else the one the checkpoint's run trained (or that `meta`, the exported
    model's, names), else the family's default; a `--net` that contradicts the checkpoint's run is an
    `ExportError` naming both (`exported_meta` checks it against an exported model)."""
    trained = meta.net if meta else None
    if args.ckpt_path:
        trained = (run_config(args.ckpt_path) or {}).get('net')
        if args.net and trained and args.net != trained:
            raise ExportError(f"--net {args.net} contradicts the checkpoint: its run trained {trained} "
                              f"({run_folder(args.ckpt_path)}); leave --net out to use {trained}")
    return args.net or trained or family.default_net


def mindir_preprocessing(family: ModelFamily, args: argparse.Namespace,
                         meta: Optional[ModelMeta]) -> Tuple[PretrainedConfig, str]:
    """(eval preprocessing, eval resize) for a MINDIR: from `meta`, its sidecar's, when the export wrote one,
    else the published one of `args.net`; `--eval_resize` wins."""
    if meta is None:
        return family.preprocessing(args.net), args.eval_resize or EVAL_RESIZE_PIL
    return meta.preprocessing, args.eval_resize or meta.eval_resize


def run_command_line(family: ModelFamily, args: argparse.Namespace) -> None:
    """Do what the parsed command line `args` asks: print the preprocessing, run a MINDIR, or export."""
    model = exported_model(args)
    meta = exported_meta(model, args.net) if model else None
    args.net = resolve_net(family, args, meta)
    if args.preprocessing:
        preprocessing, _ = mindir_preprocessing(family, args, meta)
        print(preprocessing.input_size, preprocessing.crop_pct, preprocessing.interpolation)
        return
    select_device(args.device_target, args.device_id)
    if args.run_mindir:
        preprocessing, eval_resize = mindir_preprocessing(family, args, meta)
        count = run_mindir(args.run_mindir, args.data_path, args.result_path, preprocessing,
                           batch_size=args.batch_size, eval_resize=eval_resize)
        print(f"{count} images -> {args.result_path}")
        return
    export_checkpoint(family, args)


def main(family: ModelFamily, argv: Optional[List[str]] = None) -> int:
    """Command line of a model's `export.py` (see `parse_args`); returns the exit status."""
    return run_command(run_command_line, family, parse_args(family, argv))
