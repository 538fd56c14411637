"""Offline inference on the CPU: run an exported MINDIR over an ImageFolder tree as the Ascend 310 program
(`utils/ascend310_infer/`) does, writing the logits of image `<class>/<stem>.<ext>` to
`<result_dir>/<class>/<stem>_0.bin`, so that `zoo_core.deploy.postprocess` scores both the same way.

The preprocessing is the evaluation pipeline's (`zoo_core.data.dataset.eval_transforms`) with the variant's
`PretrainedConfig`: decode, resize the shorter side to `image_size / crop_pct`, center crop to the
MINDIR's input size, HWC -> CHW, and normalize unless the MINDIR takes uint8 (`export.py --input_dtype
uint8` normalises in the graph). By default (`eval_resize='pil'`) it is the reference's, pixel
for pixel (`zoo_core.data.reference_eval`); 'fast' takes the C++ ops that the 310 program calls
(`docs/PREPROCESSING.md` says how far those are from the reference).
"""
from __future__ import annotations

import os
from types import SimpleNamespace
from typing import TYPE_CHECKING, Dict, Tuple, Type

import numpy as np
import mindspore as ms
from mindspore import nn
from mindspore.train import mind_ir_pb2

from zoo_core.data.dataset import EVAL_RESIZE_PIL, eval_transforms
from zoo_core.deploy.postprocess import image_id, list_image_folder, result_file
from zoo_core.runtime.errors import MissingFileError, ZooError

if TYPE_CHECKING:  # names used in annotations only
    from zoo_core.models.registry import PretrainedConfig

# Images per forward pass when the MINDIR was exported with a dynamic batch.
DEFAULT_BATCH_SIZE = 8
# How a MINDIR marks a dimension left open at export (the dynamic batch).
DYNAMIC_DIM = -1
IMAGE_RANK = 4
# MINDIR input dtypes (mind_ir TensorProto.DataType) the images can be given in.
MINDIR_FLOAT32 = mind_ir_pb2.TensorProto.DataType.Value('FLOAT')
MINDIR_UINT8 = mind_ir_pb2.TensorProto.DataType.Value('UINT8')
INPUT_DTYPES: Dict[int, Type[np.generic]] = {MINDIR_FLOAT32: np.float32, MINDIR_UINT8: np.uint8}


def mindir_input(mindir_path: str) -> Tuple[Tuple[int, ...], Type[np.generic]]:
    """(shape, numpy dtype) of the MINDIR's (single) input, `DYNAMIC_DIM` for a dimension left open, e.g.
    `((-1, 3, 224, 224), np.float32)`."""
    if not os.path.isfile(mindir_path):
        raise MissingFileError(f"MINDIR file {mindir_path!r} does not exist")
    model = mind_ir_pb2.ModelProto()
    with open(mindir_path, 'rb') as f:
        model.ParseFromString(f.read())
    inputs = model.graph.input
    if len(inputs) != 1 or not inputs[0].tensor:
        raise ZooError(f"{mindir_path!r} has {len(inputs)} inputs; expected one image batch (N, 3, H, W)")
    tensor = inputs[0].tensor[0]
    shape = tuple(int(d) for d in tensor.dims)
    if len(shape) != IMAGE_RANK or DYNAMIC_DIM in shape[1:] or shape[2] != shape[3]:
        raise ZooError(f"{mindir_path!r} takes input of shape {shape}; expected (N, 3, S, S) with only "
                         "the batch dimension N dynamic")
    if tensor.data_type not in INPUT_DTYPES:
        raise ZooError(f"{mindir_path!r} takes input of type {mind_ir_pb2.TensorProto.DataType.Name(tensor.data_type)}"
                       "; expected float32 or uint8 images (export.py --input_dtype)")
    return shape, INPUT_DTYPES[tensor.data_type]


class EvalTransform:
    """Image file -> normalized float32 CHW array of `image_size` x `image_size` (with `normalize`; else the
    uint8 CHW pixels), with the evaluation pipeline's ops and the variant's `preprocessing` (a
    `PretrainedConfig`); `eval_resize` is 'pil' (the reference's pixels) or 'fast' (the C++ ops)."""

    def __init__(self, preprocessing: PretrainedConfig, image_size: int, eval_resize: str = EVAL_RESIZE_PIL,
                 normalize: bool = True) -> None:
        self.ops = eval_transforms(SimpleNamespace(
            image_size=image_size, crop_pct=preprocessing.crop_pct, interpolation=preprocessing.interpolation,
            mean=preprocessing.mean, std=preprocessing.std, eval_resize=eval_resize), normalize=normalize)

    def __call__(self, path: str) -> np.ndarray:
        image = np.fromfile(path, dtype=np.uint8)
        for op in self.ops:
            image = op(image)
        return image


def run_mindir(mindir_path: str, data_dir: str, result_dir: str, preprocessing: PretrainedConfig,
               batch_size: int = DEFAULT_BATCH_SIZE, eval_resize: str = EVAL_RESIZE_PIL) -> int:
    """Run the MINDIR over the images of ImageFolder tree `data_dir`, writing `<class>/<stem>_0.bin` files
    (float32 logits) into `result_dir`; returns the number of images.

    A MINDIR with a static batch N is run N images at a time (the last batch padded with zeros);
    one with a dynamic batch `batch_size` at a time. `eval_resize` as in `EvalTransform`; the images are
    normalised here unless the MINDIR takes uint8 (and normalises them itself).
    """
    shape, input_dtype = mindir_input(mindir_path)
    static_batch = shape[0] != DYNAMIC_DIM
    if static_batch:
        batch_size = shape[0]
    elif batch_size < 1:
        raise ZooError(f"batch_size must be at least 1, got {batch_size}")
    images = [path for path, _ in list_image_folder(data_dir)]
    transform = EvalTransform(preprocessing, shape[2], eval_resize, normalize=input_dtype == np.float32)
    network = nn.GraphCell(ms.load(mindir_path))
    for class_name in {os.path.basename(os.path.dirname(path)) for path in images}:
        os.makedirs(os.path.join(result_dir, class_name), exist_ok=True)
    for start in range(0, len(images), batch_size):
        paths = images[start:start + batch_size]
        batch = np.stack([transform(path) for path in paths])
        if static_batch and len(paths) < batch_size:
            padding = np.zeros((batch_size - len(paths),) + batch.shape[1:], dtype=batch.dtype)
            batch = np.concatenate([batch, padding])
        logits = network(ms.Tensor(batch)).asnumpy()
        for path, row in zip(paths, logits):
            row.astype(np.float32).tofile(result_file(result_dir, image_id(os.path.relpath(path, data_dir))))
    return len(images)
