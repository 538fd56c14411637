"""Classify images: the command that every model's `predict.py` runs.

`python predict.py [--net NAME] (--pretrained FILE | --ckpt_path CKPT | --model FILE.mindir/.onnx)
[--topk 5] [--output out.json|out.csv] IMAGE_OR_FOLDER_OR_GLOB...` prints each image's top-k classes with
names and probabilities, and writes them as JSON (a list of `{"image", "topk": [{"index", "label",
"probability"}]}`) or CSV (one row per image). The weights bring their eval preprocessing and class names
(`zoo_core.deploy.model_meta`): the published ones for reference weights, the run's for a checkpoint of a
training run, the export's sidecar for a MINDIR or ONNX file.
"""
from __future__ import annotations

import argparse
import csv
import glob
import json
import os
import sys
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import mindspore as ms

from zoo_core.data.class_names import default_class_names
from zoo_core.data.image_check import check_image
from zoo_core.data.images import IMAGE_EXTENSIONS, is_image_file
from zoo_core.deploy.infer import EvalTransform
from zoo_core.deploy.model_meta import checkpoint_meta, published_meta, run_net
from zoo_core.deploy.model_runner import open_model
from zoo_core.models.backbone import CLASSIFIER_WEIGHT
from zoo_core.runtime.devices import DEVICE_TARGETS, select_device
from zoo_core.runtime.errors import EXIT_OK, MissingFileError, ZooError, run_command
from zoo_core.weights.files import read_weights
from zoo_core.weights.fit import WeightMismatchError, classifier_classes, load_weights
from zoo_core.weights.identify import infer_variant, mismatch_error
from zoo_core.weights.pretrained import DEFAULT_WEIGHTS, download_pretrained, find_weights_file

if TYPE_CHECKING:  # names used in annotations only
    from pathlib import Path

    import numpy.typing as npt

    from zoo_core.deploy.model_meta import ModelMeta
    from zoo_core.models.family import ModelFamily
    from zoo_core.weights.files import StrPath

DEFAULT_TOP_K = 5
DEFAULT_BATCH_SIZE = 8
OUTPUT_FORMATS = ('.json', '.csv')
GLOB_CHARACTERS = '*?['
# Exit status when some files could not be read: the others were predicted and written.
EXIT_SOME_SKIPPED = 3
# For the type checker: a model (a float32 or uint8 NCHW batch -> logits), an image file -> network input,
# and one image's prediction ({"image": path, "topk": [{"index", "label", "probability"}, ...]}).
ModelFunction = Callable[[np.ndarray], np.ndarray]
ImageTransform = Callable[[str], np.ndarray]
Prediction = Dict[str, Any]


class PredictError(ZooError):
    """Images or weights that cannot be classified as asked; the message names the file and why."""


def expand_inputs(inputs: Iterable[str]) -> List[str]:
    """The image files that the command-line `inputs` name, in order, each once: a file; every image
    under a folder (sorted, recursively); or the images that a glob pattern matches."""
    images = []
    for item in inputs:
        if os.path.isdir(item):
            found = sorted(os.path.join(root, name) for root, _, names in os.walk(item)
                           for name in names if is_image_file(name))
            if not found:
                raise PredictError(f"no image files ({', '.join(IMAGE_EXTENSIONS)}) in folder {item}")
        elif os.path.isfile(item):
            found = [item]
        elif any(character in item for character in GLOB_CHARACTERS):
            found = sorted(path for path in glob.glob(item, recursive=True)
                           if os.path.isfile(path) and is_image_file(path))
            if not found:
                raise PredictError(f"no image file matches {item}")
        else:
            raise MissingFileError(f"no image file or folder {item}")
        images.extend(found)
    return list(dict.fromkeys(images))


def load_image(path: str, transform: ImageTransform) -> np.ndarray:
    """The network input of image file `path`; a `PredictError` naming it when it cannot be decoded."""
    problem = check_image(path)
    if problem is None:
        try:
            return transform(path)
        except (RuntimeError, ValueError, OSError) as error:
            problem = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    raise PredictError(f"cannot read image {path}: {problem}")


def softmax(logits: npt.ArrayLike) -> np.ndarray:
    """Row-wise softmax in float64."""
    logits = np.asarray(logits, dtype=np.float64)
    exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)


def top_k_entries(probabilities: np.ndarray, class_names: Sequence[str], k: int) -> List[Dict[str, Any]]:
    """The `k` most probable classes of one image as `{"index", "label", "probability"}` dicts, most
    probable first (ties in class order)."""
    order = np.argsort(-probabilities, kind='stable')[:k]
    return [dict(index=int(i), label=class_names[i], probability=float(probabilities[i])) for i in order]


def class_names_for(meta: ModelMeta, num_outputs: int) -> List[str]:
    """The class names of a model with `num_outputs` outputs: its meta's, or `default_class_names`."""
    names = meta.class_names or default_class_names(num_outputs)
    if len(names) != num_outputs:
        raise PredictError(f"the model has {num_outputs} outputs but {len(names)} class names")
    return names


def readable_images(paths: Iterable[str],
                    transform: ImageTransform) -> Tuple[List[str], List[np.ndarray], List[Tuple[str, str]]]:
    """(the paths that decode, their network inputs, [(path, problem)] of those that do not)."""
    good, inputs, skipped = [], [], []
    for path in paths:
        try:
            inputs.append(load_image(path, transform))
            good.append(path)
        except PredictError as error:
            skipped.append((path, str(error)))
    return good, inputs, skipped


def classify(model: ModelFunction, meta: ModelMeta, images: Sequence[str], k: int,
             batch_size: int = DEFAULT_BATCH_SIZE) -> Tuple[List[Prediction], List[Tuple[str, str]]]:
    """(`[{"image": path, "topk": [...]}]` for the image files `images` that decode, `batch_size` at a time,
    with the eval preprocessing and class names of `meta` (a `ModelMeta`), [(path, problem)] of those that do
    not); `model` takes normalised float32 images, or uint8 pixels when its `input_dtype` says so
    (`model_runner.ExportedModel`)."""
    pixels_in = getattr(model, 'input_dtype', np.float32) == np.uint8  # an export that normalises itself
    transform = EvalTransform(meta.preprocessing, meta.input_size, meta.eval_resize, normalize=not pixels_in)
    results: List[Prediction] = []
    skipped: List[Tuple[str, str]] = []
    for start in range(0, len(images), batch_size):
        paths, inputs, bad = readable_images(images[start:start + batch_size], transform)
        skipped += bad
        if not paths:
            continue
        probabilities = softmax(model(np.stack(inputs)))
        names = class_names_for(meta, probabilities.shape[1])
        results.extend(dict(image=path, topk=top_k_entries(row, names, k)) for path, row in zip(paths, probabilities))
    return results, skipped


def network_from_weights(family: ModelFamily, path: StrPath, net: Optional[str]) -> Tuple[ms.nn.Cell, str, int]:
    """(network in eval mode, variant name, number of classes) of weight file `path` (MindSpore, PyTorch
    or safetensors); the variant is `net` or, when None, the one of `family` that the weights fit."""
    weights = read_weights(path)
    num_classes = classifier_classes(weights)
    if not num_classes:
        raise PredictError(f"{path} has no classifier ({CLASSIFIER_WEIGHT}): it cannot classify images")
    try:
        net = net or infer_variant(weights, [family.registry])
        network = family.registry.build(net, num_classes=num_classes)
        load_weights(network, weights)
    except WeightMismatchError as error:
        raise mismatch_error(path, net, weights, error, registries=[family.registry]) from None
    network.set_train(False)
    return network, net, num_classes


def pretrained_file(family: ModelFamily, net: Optional[str], pretrained: str) -> Path:
    """The weight file `--pretrained` names; 'default' is variant `net`'s published file, downloaded into
    the weight cache (and checked) when not there yet."""
    name = net or family.default_net
    config = family.preprocessing(name)
    try:
        return find_weights_file(name, config, pretrained)
    except MissingFileError:
        if pretrained != DEFAULT_WEIGHTS:
            raise
        print(f"downloading {config.url}")
        return download_pretrained(config)


def open_source(family: ModelFamily, args: argparse.Namespace) -> Tuple[ModelFunction, ModelMeta]:
    """(model: float32 NCHW batch -> logits, `ModelMeta`) of what the command line names."""
    if args.model:
        return open_model(family, args.model, args.net)
    if args.pretrained:
        path = pretrained_file(family, args.net, args.pretrained)
        network, net, num_classes = network_from_weights(family, path, args.net)
        meta = published_meta(family, net, num_classes)
    else:
        if not os.path.isfile(args.ckpt_path):
            raise MissingFileError(f"checkpoint not found: {args.ckpt_path}")
        network, net, num_classes = network_from_weights(family, args.ckpt_path,
                                                         args.net or run_net(args.ckpt_path))
        meta = checkpoint_meta(family, args.ckpt_path, net, num_classes)
    return (lambda batch: network(ms.Tensor(batch)).asnumpy()), meta


def format_predictions(results: Iterable[Prediction]) -> str:
    """The printed form: each image, then its classes ranked with probability, label and index."""
    lines = []
    for result in results:
        lines.append(result['image'])
        lines += [f"  {rank}. {entry['probability']:7.2%}  {entry['label']} ({entry['index']})"
                  for rank, entry in enumerate(result['topk'], 1)]
    return '\n'.join(lines)


def csv_rows(results: Sequence[Prediction]) -> List[List[Any]]:
    """CSV rows, one per image: `image`, then `index_<r>`, `label_<r>`, `probability_<r>` for rank r = 1..k."""
    k = max(len(result['topk']) for result in results)
    header = ['image'] + [f'{column}_{rank}' for rank in range(1, k + 1)
                          for column in ('index', 'label', 'probability')]
    rows = [[result['image']] + [entry[column] for entry in result['topk']
                                 for column in ('index', 'label', 'probability')] for result in results]
    return [header] + rows


def write_predictions(results: Sequence[Prediction], path: str) -> None:
    """Write `results` to `path`: JSON (the list as it is) or CSV (`csv_rows`), by its extension."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, 'w', encoding='utf-8', newline='') as handle:
        if path.lower().endswith('.csv'):
            csv.writer(handle).writerows(csv_rows(results))
        else:
            json.dump(results, handle, indent=2, ensure_ascii=False)


def build_parser(family: ModelFamily) -> argparse.ArgumentParser:
    """The argument parser of a model `family`'s predict command."""
    parser = argparse.ArgumentParser(
        description=f"Classify images with {family.name} weights: print each image's top-k classes with "
                    "names and probabilities, and write them to --output (.json or .csv). The weights' eval "
                    "preprocessing and class names come with them: published ones for reference weights, the "
                    "training run's for its checkpoints, the export's <model>.json beside an exported model. "
                    "A file that cannot be read is named on stderr and skipped; the exit status is then "
                    f"{EXIT_SOME_SKIPPED} (0: every image predicted; 2: a usage error).")
    parser.add_argument('images', nargs='+', metavar='IMAGE_OR_FOLDER',
                        help="image files, folders (every image under them) or glob patterns ('photos/*.jpg')")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--pretrained', metavar='FILE',
                        help="reference weights (.pth/.safetensors, or a converted .ckpt), a file name in the "
                             "weight cache, or 'default' for --net's published file there")
    source.add_argument('--ckpt_path', metavar='CKPT', help="a checkpoint of a training run of this zoo")
    source.add_argument('--model', metavar='FILE', help="an exported .mindir or .onnx file")
    parser.add_argument('--net', default=None, choices=family.registry.names(),
                        help="network variant (default: the run's, the export's, or the one the weights fit)")
    parser.add_argument('--topk', type=int, default=DEFAULT_TOP_K, help=f"classes per image (default {DEFAULT_TOP_K})")
    parser.add_argument('--output', default=None, metavar='FILE', help="write the predictions to a .json or .csv file")
    parser.add_argument('--batch_size', type=int, default=DEFAULT_BATCH_SIZE, help="images per forward pass")
    parser.add_argument('--device_target', default='CPU', choices=DEVICE_TARGETS)
    parser.add_argument('--device_id', type=int, default=0)
    return parser


def parse_args(family: ModelFamily, argv: Optional[List[str]] = None) -> argparse.Namespace:
    """The predict command line of a model `family`, checked."""
    parser = build_parser(family)
    args = parser.parse_args(argv)
    if args.topk < 1 or args.batch_size < 1:
        parser.error("--topk and --batch_size must be at least 1")
    if args.output and os.path.splitext(args.output)[1].lower() not in OUTPUT_FORMATS:
        parser.error(f"--output must end with {' or '.join(OUTPUT_FORMATS)}")
    return args


def predict(family: ModelFamily, args: argparse.Namespace) -> int:
    """Classify the images of the parsed command line `args`; returns the predictions."""
    images = expand_inputs(args.images)
    select_device(args.device_target, args.device_id)
    model, meta = open_source(family, args)
    results, skipped = classify(model, meta, images, k=args.topk, batch_size=args.batch_size)
    for _, problem in skipped:
        print(f"skipped: {problem}", file=sys.stderr)
    if not results:
        raise PredictError(f"none of the {len(images)} image(s) could be read")
    print(format_predictions(results))
    if args.output:
        write_predictions(results, args.output)
        print(f"wrote {args.output}")
    return EXIT_SOME_SKIPPED if skipped else EXIT_OK


def main(family: ModelFamily, argv: Optional[List[str]] = None) -> int:
    """Entry point of a model's `predict.py`; returns the exit status: 0, every image predicted;
    `EXIT_SOME_SKIPPED` (3), some files could not be read (each named on stderr, the others predicted and
    written); 2, a user error (one line)."""
    return run_command(predict, family, parse_args(family, argv))
