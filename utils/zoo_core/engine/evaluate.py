"""Evaluation: the accuracy of a network over a whole validation set (summed over ranks), and the command
that every model's `eval.py` runs: checkpoint(s) or pretrained weights -> top-1/top-5, img/s, a JSON result."""
from __future__ import annotations

import json
import os
import sys
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional

import numpy as np

from zoo_core.data.dataset import create_eval_dataset, effective_eval_resize, index_for
from zoo_core.data.demo_data import ensure_demo_dataset
from zoo_core.engine.metrics import Accuracy, count_correct
from zoo_core.engine.monitor import format_duration
from zoo_core.engine.results_table import append_results, check_results_file, result_row
from zoo_core.engine.run_settings import RUN_LAYER_PREFIX, flag_value, run_settings_layer
from zoo_core.engine.validate import EVAL, check_input_files, validate_settings
from zoo_core.models.input_norm import NormalizedNetwork
from zoo_core.models.summary import count_parameters
from zoo_core.runtime.distributed import all_reduce_sum, setup_device
from zoo_core.runtime.errors import run_command
from zoo_core.runtime.logging import get_logger
from zoo_core.weights.checkpoint import checkpoint_files, load_network_checkpoint
from zoo_core.weights.pretrained import create_network
from zoo_core.runtime.config import Setting, declare

if TYPE_CHECKING:  # names used in annotations only
    import logging

    import mindspore as ms
    from easydict import EasyDict

    from zoo_core.models.family import ModelFamily
    from zoo_core.models.registry import PretrainedConfig

RESULT_FILE = 'eval_result.json'
# Seconds between eval.py's progress lines (the first comes after the first batch, which compiles the graph).
EVAL_PROGRESS_SECONDS = 10.0


class EvalProgress:
    """Logs `eval: batch k/n (images), img/s, ETA` at most every `interval` seconds, and after the first batch."""

    def __init__(self, logger: logging.Logger, total_batches: int, interval: float = EVAL_PROGRESS_SECONDS) -> None:
        self.logger, self.total_batches, self.interval = logger, total_batches, interval
        self.last_report: Optional[float] = None

    def __call__(self, batches: int, images: int, elapsed: float) -> None:
        now = time.perf_counter()
        if self.last_report is not None and now - self.last_report < self.interval:
            return
        self.last_report = now
        rate = images / elapsed if elapsed > 0 else 0.0
        remaining = elapsed / batches * (self.total_batches - batches)
        self.logger.info(f"eval: batch {batches}/{self.total_batches} ({images} images on this rank), "
                         f"{rate:.1f} img/s, ETA {format_duration(remaining)}")


def evaluate(net: ms.nn.Cell, dataset: Optional[ms.dataset.Dataset], group_size: int = 1,
             progress: Optional[Callable[[int, int, float], None]] = None) -> Accuracy:
    """`Accuracy` of `net` (put in eval mode) on `dataset` (this rank's share; None for no image),
    summed over the `group_size` ranks: every rank must call it. The eval pipeline gives uint8 images:
    `net` normalises them (a `NormalizedNetwork`). `progress(batches, images, seconds)` is called after every
    batch (None: no progress)."""
    net.set_train(False)
    counts = np.zeros(3, dtype=np.int64)
    network_seconds = 0.0
    start = time.perf_counter()
    if dataset is not None:
        for batches, (images, labels) in enumerate(dataset.create_tuple_iterator(num_epochs=1), start=1):
            call_start = time.perf_counter()
            logits = net(images).asnumpy()
            network_seconds += time.perf_counter() - call_start
            top1, top5 = count_correct(logits, labels.asnumpy())
            counts += (top1, top5, labels.shape[0])
            if progress is not None:
                progress(batches, int(counts[2]), time.perf_counter() - start)
    seconds = time.perf_counter() - start
    counts = all_reduce_sum(counts, group_size)
    return Accuracy(top1_correct=int(counts[0]), top5_correct=int(counts[1]), total=int(counts[2]), seconds=seconds,
                    network_seconds=network_seconds)


def apply_pretrained_preprocessing(cfg: EasyDict, preprocessing: PretrainedConfig) -> EasyDict:
    """Use the eval preprocessing published with the pretrained weights (size, crop, interpolation, mean/std)."""
    cfg.image_size = preprocessing.input_size
    cfg.crop_pct = preprocessing.crop_pct
    cfg.interpolation = preprocessing.interpolation
    cfg.mean, cfg.std = list(preprocessing.mean), list(preprocessing.std)
    return cfg


def run_eval(cfg: EasyDict, family: ModelFamily) -> List[Dict[str, Any]]:
    """Evaluate `cfg.ckpt_path` (a file, or every checkpoint in a folder) or `cfg.pretrained`, a network of
    `family`; returns the list of result dicts, also written to `<output_dir>/eval_result.json` by rank 0.
    The config and its files are checked before the device is set up."""
    validate_settings(cfg, EVAL)  # evaluation has no setting that warns
    check_input_files(cfg, family, EVAL)
    if cfg.results_file:
        check_results_file(cfg.results_file)  # before the evaluation, which may take hours
    rank, group_size = setup_device(cfg.device_target, cfg.mode, cfg.device_id)
    cfg.data_dir = os.path.abspath(cfg.data_dir or ensure_demo_dataset())
    cfg.output_dir = os.path.abspath(cfg.output_dir or os.path.join('output', cfg.net, 'eval'))
    logger = get_logger(cfg.output_dir, rank)
    if cfg.pretrained and not cfg.ckpt_path:
        cfg = apply_pretrained_preprocessing(cfg, family.preprocessing(cfg.net))
    cfg.eval_resize = effective_eval_resize(cfg.eval_resize, published_weights=not cfg.ckpt_path)
    val_index = index_for(cfg, 'val')
    dataset = create_eval_dataset(cfg, rank, group_size, index=val_index)
    sources = checkpoint_files(cfg.ckpt_path) if cfg.ckpt_path else [cfg.pretrained]
    results, rows = [], []
    for source in sources:
        if cfg.ckpt_path:
            net = create_network(family.registry, cfg.net, num_classes=cfg.num_classes)
            load_network_checkpoint(net, source)
        else:
            net = create_network(family.registry, cfg.net, num_classes=cfg.num_classes, pretrained=source)
        logger.info(f"evaluating {source} ({cfg.net}) on {len(val_index.samples)} images of {val_index.split_dir}; the "
                    f"first batch compiles the graph")
        progress = EvalProgress(logger, dataset.get_dataset_size()) if rank == 0 and dataset is not None else None
        result = evaluate(NormalizedNetwork(net, cfg.mean, cfg.std), dataset, group_size, progress)
        logger.info(f"{source}: top-1 {result.top1:.4%} top-5 {result.top5:.4%} "
                    f"({result.top1_correct}/{result.total} images, {result.images_per_second:.1f} img/s, network "
                    f"alone {result.network_images_per_second:.1f} img/s, on rank {rank}; "
                    f"{len(val_index.bad_files)} bad image file(s) skipped)")
        rows.append(result_row(cfg.net, source, result, parameters=count_parameters(net), cfg=cfg))
        results.append(dict(checkpoint=source, net=cfg.net, data_dir=cfg.data_dir, ranks=group_size,
                            eval_resize=cfg.eval_resize,
                            **result.as_dict(), skipped=len(val_index.bad_files),
                            skipped_files=val_index.as_json()))
    if rank == 0:
        os.makedirs(cfg.output_dir, exist_ok=True)
        path = os.path.join(cfg.output_dir, RESULT_FILE)
        with open(path, 'w', encoding='utf-8') as handle:
            json.dump(results, handle, indent=2)
        logger.info(f"wrote {path}")
        if cfg.results_file:
            logger.info(f"appended {len(rows)} row(s) to {append_results(cfg.results_file, rows)}")
    return results


def help_text(family: ModelFamily) -> str:
    """What `eval.py --help` says above the flags."""
    return (f"Evaluate {family.name} weights: top-1/top-5 over <data_dir>/val/ (default: the built-in demo "
            "dataset), written to <output_dir>/eval_result.json; --results_file results.csv appends one row per "
            "checkpoint (timm's validate.py columns).\n\n"
            "What to evaluate: --ckpt_path CKPT_OR_DIR (a checkpoint of this zoo, or every .ckpt in a folder), "
            "or --pretrained FILE (reference weights, evaluated with their published preprocessing).\n\n"
            "A checkpoint of a training run brings that run's network, class count and eval preprocessing "
            "(its config.yaml); flags override them, but --net or --num_classes must agree with the weights.\n\n"
            "The flags below are the recipe keys that evaluation reads; a training run's other flags and its "
            "saved config.yaml (--config) are accepted and ignored, so a run's settings can be reused.")


def eval_batch_flags(argv: List[str]) -> List[str]:
    """`argv` with a training-style `--batch_size N` also given as `--eval_batch_size N` (what evaluation
    reads), unless `--eval_batch_size` is there; says so."""
    batch = flag_value(argv, 'batch_size')
    if batch is None or flag_value(argv, 'eval_batch_size') is not None:
        return argv
    print(f"note: --batch_size {batch} taken as --eval_batch_size {batch} (the batch evaluation reads)")
    return argv + ['--eval_batch_size', batch]


def eval_config(family: ModelFamily, argv: Optional[List[str]] = None) -> EasyDict:
    """The config of an evaluation: the flags over the settings of the checkpoint's run (`run_settings`)."""
    argv = eval_batch_flags(sys.argv[1:] if argv is None else argv)
    run_layer = run_settings_layer(argv)
    if run_layer:
        print(f"network, classes and eval preprocessing from {run_layer.name[len(RUN_LAYER_PREFIX):]} "
              "(flags override)")
    return family.get_config(argv, help_text(family), family.keys_read_by('eval'), run_layer)


def main(family: ModelFamily, argv: Optional[List[str]] = None) -> int:
    """Entry point of a model's `eval.py`; returns the exit status (user errors: one line, status 2)."""
    return run_command(lambda: run_eval(eval_config(family, argv), family))


# The settings that only evaluation reads (declared here, assembled by zoo_core.engine.settings).
EVALUATION_SETTINGS = declare(
    __name__,
    Setting('ckpt_path', '', 'eval: the checkpoint to evaluate, or a folder whose every .ckpt is evaluated',
            'mindcv', train=False, eval=True),
    Setting('results_file', '', "eval: a CSV file to append one row per checkpoint to (timm validate.py's "
            "columns); empty: none", 'timm', train=False, eval=True),
)
