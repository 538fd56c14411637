"""What goes with a network's weights to classify an image: its variant, eval preprocessing and class names.

- Reference weights (`--pretrained`): the variant's published preprocessing, with the reference path's
  pixels (`eval_resize='pil'`), and the 1000 ImageNet class names.
- A checkpoint of a training run: the run's own eval preprocessing, read from the `config.yaml` the run saved
  in its output folder (the checkpoint's folder, or its parent for `checkpoints/*.ckpt`), and the run's
  classes (`class_indexing.json` beside the checkpoints, or `best.json` beside `best.ckpt`). A checkpoint
  outside a run (e.g. converted reference weights) is taken as published weights.
- An exported model: the sidecar `<model file>.json` that export writes beside it, holding all of the above.
"""
import json
import os
from dataclasses import asdict, dataclass, field, fields
from typing import List, Tuple

from zoo_core.data.class_names import (CLASS_INDEXING_FILE, default_class_names, names_from_indexing,
                                       read_class_indexing)
from zoo_core.data.dataset import EVAL_RESIZE_AUTO, EVAL_RESIZE_PIL, effective_eval_resize
from zoo_core.engine.eval_callback import BEST_CLASS_INDEXING_KEY, BEST_RESULT
from zoo_core.engine.run_settings import run_config, run_folder
from zoo_core.engine.train import CHECKPOINT_DIR
from zoo_core.models.registry import PretrainedConfig
from zoo_core.runtime.errors import ZooError

SIDECAR_SUFFIX = '.json'


class ModelMetaError(ZooError):
    """Weights whose preprocessing or classes cannot be told; the message says what to pass."""


@dataclass
class ModelMeta:
    """A network's variant, eval preprocessing (as `PretrainedConfig` names it) and class names."""
    net: str
    input_size: int
    crop_pct: float
    interpolation: str
    mean: Tuple[float, float, float]
    std: Tuple[float, float, float]
    eval_resize: str
    class_names: List[str] = field(default_factory=list)

    @property
    def preprocessing(self):
        """The eval preprocessing as a `PretrainedConfig` (what `deploy.infer.EvalTransform` takes)."""
        return PretrainedConfig(input_size=self.input_size, crop_pct=self.crop_pct,
                                interpolation=self.interpolation, mean=tuple(self.mean), std=tuple(self.std))

    def with_classes(self, num_classes, class_names=None):
        """This meta with `class_names` (default: `default_class_names`), checked against `num_classes`."""
        names = list(class_names) if class_names is not None else default_class_names(num_classes)
        if len(names) != num_classes:
            raise ModelMetaError(f"{len(names)} class names for a network with {num_classes} classes")
        return ModelMeta(**{**asdict(self), 'class_names': names})


def published_meta(family, net, num_classes):
    """The published weights of variant `net`: their preprocessing, the reference's pixels, and ImageNet's
    names for 1000 classes (`default_class_names`; none yet when `num_classes` is None)."""
    p = family.preprocessing(net)
    meta = ModelMeta(net=net, input_size=p.input_size, crop_pct=p.crop_pct, interpolation=p.interpolation,
                     mean=tuple(p.mean), std=tuple(p.std), eval_resize=EVAL_RESIZE_PIL)
    return meta if num_classes is None else meta.with_classes(num_classes)


def run_class_names(checkpoint):
    """The class names saved by the run that wrote `checkpoint`, or None: `class_indexing.json` beside it
    or in the run's `checkpoints/`, else the `class_indexing` of a `best.json` beside it."""
    folder = os.path.dirname(os.path.abspath(checkpoint))
    candidates = [os.path.join(folder, CLASS_INDEXING_FILE)]
    run = run_folder(checkpoint)
    if run:
        candidates.append(os.path.join(run, CHECKPOINT_DIR, CLASS_INDEXING_FILE))
    for candidate in candidates:
        if os.path.isfile(candidate):
            return read_class_indexing(candidate)
    best = os.path.join(folder, BEST_RESULT)
    if os.path.isfile(best):
        with open(best, encoding='utf-8') as handle:
            indexing = json.load(handle).get(BEST_CLASS_INDEXING_KEY)
        if indexing is not None:
            return names_from_indexing(indexing, best)
    return None


def run_net(checkpoint):
    """The variant that the run which wrote `checkpoint` trained, or None (no run, or no `net` saved)."""
    return (run_config(checkpoint) or {}).get('net')


def checkpoint_meta(family, checkpoint, net, num_classes):
    """The meta of `checkpoint`, weights of variant `net` of `family` with `num_classes` outputs (see the
    module's description)."""
    config = run_config(checkpoint)
    if config is None:
        return published_meta(family, net, num_classes)
    published = family.preprocessing(net)  # for the keys that a run of an older zoo did not save
    meta = ModelMeta(net=net, input_size=int(config.get('image_size', published.input_size)),
                     crop_pct=float(config.get('crop_pct', published.crop_pct)),
                     interpolation=config.get('interpolation', published.interpolation),
                     mean=tuple(config.get('mean', published.mean)), std=tuple(config.get('std', published.std)),
                     eval_resize=effective_eval_resize(config.get('eval_resize', EVAL_RESIZE_AUTO),
                                                       published_weights=False))
    return meta.with_classes(num_classes, run_class_names(checkpoint))


def sidecar_path(model_path):
    """Where the meta of exported model `model_path` is kept: `<model_path>.json`."""
    return os.fspath(model_path) + SIDECAR_SUFFIX


def write_sidecar(model_path, meta):
    """Write `meta` beside the exported model `model_path`; returns the sidecar's path."""
    path = sidecar_path(model_path)
    with open(path, 'w', encoding='utf-8') as handle:
        json.dump(asdict(meta), handle, indent=2, ensure_ascii=False)
    return path


def read_sidecar(model_path):
    """The meta written beside exported model `model_path`, or None when it has no sidecar."""
    path = sidecar_path(model_path)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding='utf-8') as handle:
            data = json.load(handle)
        return ModelMeta(**{f.name: data[f.name] for f in fields(ModelMeta)})
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as error:
        raise ModelMetaError(f"cannot read {path}: {error!r}; delete it and pass --net") from None


def exported_meta(model_path, net=None):
    """The meta of exported model `model_path` from its sidecar, or None without one; a `net` (--net) that
    contradicts the sidecar is a `ModelMetaError` naming both."""
    meta = read_sidecar(model_path)
    if meta is not None and net and net != meta.net:
        raise ModelMetaError(f"--net {net} contradicts {model_path}: it was exported from {meta.net} "
                             f"({sidecar_path(model_path)}); leave --net out to use {meta.net}")
    return meta
