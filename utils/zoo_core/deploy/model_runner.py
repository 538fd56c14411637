"""Exported models as functions from an NCHW batch (float32, or uint8 pixels for a model exported with
`--input_dtype uint8`) to logits: a MINDIR (`nn.GraphCell`, on the
selected device) or an ONNX file (onnxruntime, when installed), whatever batch the file was exported for."""
import os
from dataclasses import replace

import numpy as np
import mindspore as ms
from mindspore import nn

from zoo_core.deploy.infer import DYNAMIC_DIM, mindir_input
from zoo_core.deploy.model_meta import ModelMetaError, exported_meta, published_meta
from zoo_core.runtime.errors import MissingFileError, ZooError

MINDIR_SUFFIX = '.mindir'
ONNX_SUFFIX = '.onnx'
ONNX_PROVIDERS = ['CPUExecutionProvider']
# onnxruntime's names of the input types that export.py writes (--input_dtype float32 / uint8).
ONNX_INPUT_DTYPES = {'tensor(float)': np.float32, 'tensor(uint8)': np.uint8}


class ExportedModel:
    """`model(batch)` -> logits (numpy) of an exported model with input shape `(N, 3, S, S)`: a static
    batch N is run N images at a time (the last chunk padded with zeros), a dynamic one all at once;
    `input_dtype` is what the file takes: np.float32 (normalised images) or np.uint8 (pixels)."""

    def __init__(self, run, input_shape, input_dtype=np.float32):
        self.run = run
        self.input_dtype = input_dtype
        self.batch_size = input_shape[0] if input_shape[0] != DYNAMIC_DIM else None
        self.input_size = input_shape[2]

    def __call__(self, batch):
        batch = np.ascontiguousarray(batch, dtype=self.input_dtype)
        if self.batch_size is None:
            return self.run(batch)
        outputs = []
        for start in range(0, len(batch), self.batch_size):
            chunk = batch[start:start + self.batch_size]
            padding = np.zeros((self.batch_size - len(chunk),) + chunk.shape[1:], dtype=chunk.dtype)
            outputs.append(self.run(np.concatenate([chunk, padding]))[:len(chunk)])
        return np.concatenate(outputs)


def mindir_model(path):
    """The MINDIR at `path` as an `ExportedModel`."""
    shape, input_dtype = mindir_input(path)
    network = nn.GraphCell(ms.load(path))
    return ExportedModel(lambda batch: network(ms.Tensor(batch)).asnumpy(), shape, input_dtype)


def onnx_model(path):
    """The ONNX file at `path` as an `ExportedModel`, run by onnxruntime on the CPU."""
    try:
        import onnxruntime  # optional: only ONNX inference needs it
    except ImportError:
        raise ZooError("running an ONNX model needs onnxruntime: pip install onnxruntime") from None
    try:
        session = onnxruntime.InferenceSession(path, providers=ONNX_PROVIDERS)
    except Exception as error:  # onnxruntime raises its own exception types for unreadable files
        raise ZooError(f"onnxruntime cannot load {path}: {str(error).splitlines()[0]}") from None
    [model_input] = session.get_inputs()
    shape = tuple(d if isinstance(d, int) else DYNAMIC_DIM for d in model_input.shape)
    input_dtype = ONNX_INPUT_DTYPES.get(model_input.type)
    if input_dtype is None:
        raise ZooError(f"{path} takes {model_input.type} input; expected float32 or uint8 images (export.py --input_dtype)")
    return ExportedModel(lambda batch: session.run(None, {model_input.name: batch})[0], shape, input_dtype)


MODEL_LOADERS = {MINDIR_SUFFIX: mindir_model, ONNX_SUFFIX: onnx_model}


def open_model(family, path, net=None):
    """(`ExportedModel`, `ModelMeta`) of the exported model at `path`: the meta from its sidecar
    (`<path>.json`, written by export), else the published preprocessing of variant `net`."""
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in MODEL_LOADERS:
        raise ZooError(f"{path}: --model takes a {' or '.join(MODEL_LOADERS)} file")
    if not os.path.isfile(path):
        raise MissingFileError(f"no model file {path}")
    meta = exported_meta(path, net)
    if meta is None and not net:
        raise ModelMetaError(f"{path} has no {os.path.basename(path)}.json beside it (written by export.py): "
                             "pass --net NAME to use that variant's published preprocessing")
    model = MODEL_LOADERS[suffix](path)
    if meta is None:  # the class names follow from the model's outputs
        meta = replace(published_meta(family, net, num_classes=None), input_size=model.input_size)
    if meta.input_size != model.input_size:
        raise ModelMetaError(f"{path} takes {model.input_size}x{model.input_size} images but its preprocessing "
                             f"crops {meta.input_size}x{meta.input_size}")
    return model, meta
