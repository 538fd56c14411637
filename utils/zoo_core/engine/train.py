"""The training engine that every model's `train.py` calls: config -> data -> network -> loss ->
optimizer -> AMP and loss scale -> `mindspore.train.Model` with callbacks -> checkpoints."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, List, Mapping, Optional, Tuple, Union

import mindspore as ms
from mindspore.amp import DynamicLossScaleManager, FixedLossScaleManager
from mindspore.train import Callback, Model

from zoo_core.data.class_names import class_indexing_of, save_class_indexing
from zoo_core.data.dataset import create_eval_dataset, create_train_dataset, index_for
from zoo_core.data.demo_data import ensure_demo_dataset
from zoo_core.data.mixing import mixing_enabled
from zoo_core.engine.run_checkpoints import CHECKPOINT_DIR, CheckpointCallback, CheckpointWriter
from zoo_core.engine.crossentropy import CrossEntropySmooth
from zoo_core.engine.eval_callback import EMA, EvalCallback, read_best
from zoo_core.engine.evaluate import evaluate
from zoo_core.engine.graceful_stop import GracefulStop, resume_command
from zoo_core.engine.monitor import TrainingMonitor
from zoo_core.engine.resume import AbandonedCheckpoints, resume_run
from zoo_core.engine.train_step import accumulation_dataset, build_train_step, needs_train_step
from zoo_core.engine.validate import TRAIN, check_input_files, check_training_folders, validate_settings
from zoo_core.models.backbone import RECOMPUTE_NONE
from zoo_core.models.input_norm import NormalizedNetwork
from zoo_core.models.summary import summarize
from zoo_core.optim.lr_schedule import build_lr_schedule, scaled_lr
from zoo_core.optim.optimizer import build_optimizer
from zoo_core.runtime.config import ConfigError, format_config, save_config
from zoo_core.runtime.distributed import setup_device
from zoo_core.runtime.errors import run_command
from zoo_core.runtime.logging import get_logger
from zoo_core.runtime.reproducibility import seed_run
from zoo_core.weights.pretrained import create_network

if TYPE_CHECKING:  # names used in annotations only
    import logging

    import numpy as np
    from easydict import EasyDict

    from zoo_core.data.dataset import CheckedSplit
    from zoo_core.engine.metrics import Accuracy
    from zoo_core.models.family import ModelFamily
    from zoo_core.optim.ema import ModelEma

# AMP levels whose network computes in float16 (BatchNorm aside), so the input is normalised in float16.
FLOAT16_AMP_LEVELS = ('O2', 'O3')


def resolve_amp_level(cfg: EasyDict) -> str:
    """'auto' -> O0 (fp32) on CPU, O2 (fp16 with fp32 BN) on GPU and Ascend."""
    if cfg.amp_level != 'auto':
        return cfg.amp_level
    return 'O0' if cfg.device_target == 'CPU' else 'O2'


def compute_dtype(amp_level: str) -> ms.Type:
    """The dtype the network computes in at `amp_level`: float16 at O2/O3, float32 otherwise."""
    return ms.float16 if amp_level in FLOAT16_AMP_LEVELS else ms.float32


def loss_scale_manager(cfg: EasyDict,
                       amp_level: str) -> Optional[Union[DynamicLossScaleManager, FixedLossScaleManager]]:
    """The loss scale for this device: none in fp32; dynamic on GPU/Ascend; on CPU MindSpore accepts only a
    fixed scale without overflow skipping (the optimizer must then get the same `loss_scale`)."""
    if amp_level == 'O0':
        return None
    if cfg.device_target != 'CPU' and cfg.dynamic_loss_scale:
        return DynamicLossScaleManager(init_loss_scale=cfg.loss_scale)
    return FixedLossScaleManager(cfg.loss_scale, drop_overflow_update=cfg.device_target != 'CPU')


# What a run's config.yaml says set the paths that the run filled in.
FILLED_IN = dict(data_dir='the built-in demo dataset (no --data_dir)', output_dir='./output/<net> (no --output_dir)')


def prepare_paths(cfg: EasyDict, set_by: Optional[Dict[str, str]] = None) -> EasyDict:
    """Fill in the demo dataset and the default output folder (and say so in `set_by`)."""
    for key in FILLED_IN:
        if not cfg[key] and set_by is not None:
            set_by[key] = FILLED_IN[key]
    if not cfg.data_dir:
        cfg.data_dir = ensure_demo_dataset()
    cfg.data_dir = os.path.abspath(cfg.data_dir)
    cfg.output_dir = os.path.abspath(cfg.output_dir or os.path.join('output', cfg.net))
    return cfg


def build_network(cfg: EasyDict, family: ModelFamily, logger: logging.Logger) -> ms.nn.Cell:
    """The network of the config, from pretrained weights when asked."""
    options = dict(drop_rate=cfg.drop_rate, drop_path_rate=cfg.drop_path_rate,
                   drop_block_rate=cfg.drop_block_rate, zero_init_last=cfg.zero_init_last)
    net = create_network(family.registry, cfg.net, num_classes=cfg.num_classes, pretrained=cfg.pretrained or None,
                         **options)
    if cfg.pretrained:
        logger.info(f"initialised from pretrained weights {cfg.pretrained}")
    if cfg.recompute != RECOMPUTE_NONE:
        if not hasattr(net, 'set_recompute'):
            raise ConfigError(f"--recompute {cfg.recompute}: network {cfg.net} cannot recompute its activations "
                              f"(it has no set_recompute); use --recompute none")
        net.set_recompute(cfg.recompute)
        logger.info(f"recomputing activations per {cfg.recompute} in the backward pass (--recompute)")
    return net


@dataclass
class RunPlan:
    """Everything a training run is made of, built before its first step (`build_run`)."""
    cfg: EasyDict
    rank: int
    group_size: int
    logger: logging.Logger
    train_index: CheckedSplit
    dataset: ms.dataset.Dataset
    steps_per_epoch: int
    lr: np.ndarray
    net: ms.nn.Cell
    model: Model
    ema: Optional[ModelEma]
    start_step: int

    @property
    def complete(self) -> bool:
        """Whether the run had already trained every step (a finished run found by `--resume auto`)."""
        return self.start_step >= self.cfg.epochs * self.steps_per_epoch


@dataclass
class RunCallbacks:
    """A run's callbacks in the order MindSpore calls them, and the two that `train` reads afterwards."""
    ordered: List[Callback]
    stop: GracefulStop
    evaluation: Optional[EvalCallback]


def make_callbacks(plan: RunPlan) -> RunCallbacks:
    """Eval (with best checkpoints, of the EMA too when the run keeps one), progress/metrics monitor, rank 0's
    checkpoints, and the graceful stop. The train split's bad files are counted, its classes label val/;
    a resumed run (`plan.start_step` > 0) continues its best results and step count."""
    cfg, rank, start_step = plan.cfg, plan.rank, plan.start_step
    checkpoint_dir = os.path.join(cfg.output_dir, CHECKPOINT_DIR)
    if rank == 0:
        save_class_indexing(plan.train_index.classes, checkpoint_dir)  # predict.py names the classes from it
    monitor = TrainingMonitor(plan.logger, plan.lr, global_batch=cfg.batch_size * plan.group_size,
                              steps_per_epoch=plan.steps_per_epoch, log_every=cfg.log_every,
                              output_dir=cfg.output_dir if rank == 0 else None, num_classes=cfg.num_classes,
                              checkpoint_dir=checkpoint_dir, skipped_files=len(plan.train_index.bad_files),
                              start_step=start_step, accumulate_steps=cfg.accumulate_steps)
    evaluation = None
    if cfg.eval_interval > 0:
        index = index_for(cfg, 'val', plan.train_index.classes)
        eval_data = create_eval_dataset(cfg, rank, plan.group_size, index=index)
        evaluation = EvalCallback(plan.net, lambda: evaluate(plan.net, eval_data, plan.group_size),
                                  interval=cfg.eval_interval, output_dir=cfg.output_dir, logger=plan.logger,
                                  monitor=monitor, save=rank == 0, ema=plan.ema,
                                  best=read_best(cfg.output_dir) if start_step else None,
                                  class_indexing=class_indexing_of(plan.train_index.classes))
    # The eval callback records into the monitor, so it comes first; the checkpoints after the monitor.
    ordered = ([evaluation] if evaluation else []) + [monitor]
    save = None
    if rank == 0:
        writer = CheckpointWriter(checkpoint_dir, cfg.net, cfg.keep_checkpoint_max, plan.logger)
        checkpoints = CheckpointCallback(writer, plan.steps_per_epoch, cfg.save_every_steps, start_step)
        ordered += [AbandonedCheckpoints(checkpoint_dir, cfg.net, start_step=start_step,
                                         steps_per_epoch=plan.steps_per_epoch, logger=plan.logger), checkpoints]
        save = checkpoints.save
    stop = GracefulStop(plan.logger, plan.steps_per_epoch, group_size=plan.group_size, save=save,
                        start_step=start_step)
    return RunCallbacks(ordered + [stop], stop, evaluation)


def start_run(cfg: EasyDict, family: ModelFamily,
              set_by: Optional[Mapping[str, str]] = None) -> Tuple[EasyDict, int, int, logging.Logger]:
    """Check the config, its files and the dataset's folders (before any device work), fill in the paths,
    set up the device and the seeds, open the log and write the run's config.yaml (with `set_by`, the layer
    of each value). Returns (config, rank, group size, logger)."""
    warnings = validate_settings(cfg, TRAIN)
    check_input_files(cfg, family, TRAIN)
    origins = dict(set_by) if set_by is not None else None
    cfg = prepare_paths(cfg, origins)
    check_training_folders(cfg)
    rank, group_size = setup_device(cfg.device_target, cfg.mode, cfg.device_id, cfg.deterministic)
    seed_run(cfg.seed, cfg.deterministic)
    logger = get_logger(cfg.output_dir, rank)
    for warning in warnings:
        logger.warning(warning)
    if rank == 0:
        save_config(cfg, cfg.output_dir, origins)
    logger.info(f"rank {rank} of {group_size}, device {cfg.device_target}, config:\n{format_config(cfg)}")
    return cfg, rank, group_size, logger


def learning_rates(cfg: EasyDict, updates: int, group_size: int, logger: logging.Logger) -> np.ndarray:
    """The lr of every optimizer update of the run: the recipe's, scaled to the global batch."""
    global_batch = cfg.batch_size * group_size * cfg.accumulate_steps  # images per optimizer update
    peak_lr = scaled_lr(cfg.base_lr, cfg.base_batch, global_batch)
    logger.info(f"{updates} updates per epoch, global batch {global_batch}, peak lr {peak_lr:.5f}")
    return build_lr_schedule(peak_lr, updates, cfg.epochs, warmup_epochs=cfg.warmup_epochs,
                             schedule=cfg.lr_schedule, min_lr=cfg.min_lr, milestones=cfg.milestones,
                             gamma=cfg.lr_decay_rate)


def build_model(cfg: EasyDict, family: ModelFamily, lr: np.ndarray, *, rank: int,
                logger: logging.Logger) -> Tuple[ms.nn.Cell, Model, Optional[ModelEma]]:
    """(the network with its in-graph normalisation, the `Model` that trains it, the model EMA or None):
    network, AMP level and loss scale, optimizer, loss, and the zoo's own train step when accumulation,
    clipping or EMA need it."""
    net = build_network(cfg, family, logger)
    if rank == 0:  # one forward pass; every rank's network is the same
        logger.info(f"model {summarize(net, cfg.net, cfg.image_size).describe()}")
    amp_level = resolve_amp_level(cfg)
    own_step = needs_train_step(cfg)  # accumulation, clipping or EMA: zoo_core.engine.train_step
    scale_manager = None if own_step else loss_scale_manager(cfg, amp_level)
    optimizer_loss_scale = cfg.loss_scale if isinstance(scale_manager, FixedLossScaleManager) else 1.0
    optimizer = build_optimizer(net, lr, cfg, loss_scale=optimizer_loss_scale, logger=logger)
    # The data is uint8: normalise in the graph. Parameter names are the network's, so checkpoints are unchanged.
    net = NormalizedNetwork(net, cfg.mean, cfg.std, compute_dtype(amp_level))
    loss = CrossEntropySmooth(cfg.num_classes, cfg.label_smoothing, sparse=not mixing_enabled(cfg))
    if own_step:
        train_step = build_train_step(net, loss, optimizer, cfg, amp_level=amp_level, rank=rank)
        return net, Model(train_step), train_step.ema
    return net, Model(net, loss_fn=loss, optimizer=optimizer, amp_level=amp_level, loss_scale_manager=scale_manager,
                      boost_level='O0'), None


def build_run(cfg: EasyDict, family: ModelFamily, set_by: Optional[Mapping[str, str]] = None) -> RunPlan:
    """Everything the run of `cfg` trains with: checked config and device (`start_run`), data, lr schedule,
    network and model, and the position of a resumed run (the checkpoint's weights, EMA and state loaded)."""
    cfg, rank, group_size, logger = start_run(cfg, family, set_by)
    train_index = index_for(cfg, 'train')
    dataset, updates = accumulation_dataset(create_train_dataset(cfg, rank, group_size, index=train_index),
                                            cfg.accumulate_steps, logger)
    steps_per_epoch = dataset.get_dataset_size()
    lr = learning_rates(cfg, updates, group_size, logger)
    net, model, ema = build_model(cfg, family, lr, rank=rank, logger=logger)
    # After the EMA is built (a copy of the weights), so that a resume restores its averages too.
    start_step = resume_run(cfg, model.train_network, net, dataset, steps_per_epoch=steps_per_epoch,
                            checkpoint_dir=os.path.join(cfg.output_dir, CHECKPOINT_DIR), logger=logger, rank=rank)
    return RunPlan(cfg=cfg, rank=rank, group_size=group_size, logger=logger, train_index=train_index,
                   dataset=dataset, steps_per_epoch=steps_per_epoch, lr=lr, net=net, model=model, ema=ema,
                   start_step=start_step)


def fit(plan: RunPlan, callbacks: RunCallbacks) -> None:
    """Train from the plan's position to its last epoch (dataset sink: off on the CPU, on elsewhere)."""
    cfg = plan.cfg
    sink = cfg.device_target != 'CPU' if cfg.dataset_sink_mode == 'auto' else cfg.dataset_sink_mode == 'on'
    initial_epoch = plan.start_step // plan.steps_per_epoch
    plan.logger.info(f"training {cfg.net} for epochs {initial_epoch + 1}..{cfg.epochs}, amp "
                     f"{resolve_amp_level(cfg)}, output {cfg.output_dir}")
    plan.model.train(cfg.epochs, plan.dataset, callbacks=callbacks.ordered, dataset_sink_mode=sink,
                     initial_epoch=initial_epoch)


def report(plan: RunPlan, callbacks: RunCallbacks) -> Optional[Union[Accuracy, int]]:
    """Log how the run ended: stopped by a signal (its exit status, what was saved and how to continue), or
    its final and best validation results (returned)."""
    stop, logger = callbacks.stop, plan.logger
    if stop.exit_status is not None:
        logger.warning(f"stopped by a signal after global step {stop.stopped_at_step}"
                       + (f"; saved {stop.saved_path}" if stop.saved_path else "")
                       + f"; to continue: {resume_command(sys.argv, plan.cfg.output_dir)}")
        return stop.exit_status
    eval_callback = callbacks.evaluation
    if not (eval_callback and eval_callback.last_result):
        return None
    result = eval_callback.last_result
    logger.info(f"final validation top-1 {result.top1:.4%} top-5 {result.top5:.4%}; best top-1 "
                f"{eval_callback.best_top1:.4%} at epoch {eval_callback.best_epoch}")
    if eval_callback.last_ema_result:
        best_ema = eval_callback.best[EMA]
        logger.info(f"final validation (EMA) top-1 {eval_callback.last_ema_result.top1:.4%}; best top-1 "
                    f"(EMA) {best_ema.top1:.4%} at epoch {best_ema.epoch}")
    return result


def train(cfg: EasyDict, family: ModelFamily,
          set_by: Optional[Mapping[str, str]] = None) -> Optional[Union[Accuracy, int]]:
    """Run the training that `cfg` describes with a network of `family`; returns the EvalCallback's
    last result (or None without evaluation, or for a run that had already finished), or the exit status
    128 + N when signal N stopped the run (`GracefulStop`). `set_by` names the layer that set each key
    (`ModelFamily.resolve_config`), for config.yaml."""
    plan = build_run(cfg, family, set_by)
    if plan.complete:
        return None  # a complete run found by --resume auto (resume_run said so)
    callbacks = make_callbacks(plan)
    fit(plan, callbacks)
    return report(plan, callbacks)


def help_text(family: ModelFamily) -> str:
    """What `train.py --help` says above the flags."""
    return (f"Train a {family.name} network (default --net {family.default_net}).\n\n"
            "Checkpoints: --resume auto continues the run in --output_dir from its newest complete checkpoint "
            "(--resume CKPT: from that one), with the weights, optimizer state, epoch and step; Ctrl-C or "
            "SIGTERM saves a checkpoint after the current step and prints the command that continues; "
            "--pretrained FILE starts from weights (MindSpore, PyTorch or safetensors; a new classifier when "
            "--num_classes differs).\n\n"
            "Data: --data_dir DIR holds train/<class>/<image> and val/<class>/<image> (val/ is evaluated "
            "every --eval_interval epochs; 0: never); without it, the built-in demo dataset.\n\n"
            "Every recipe key below can be set with --key value or a YAML file (--config); booleans take "
            "true/false, lists YAML syntax (--milestones [30,60]).")


def main(family: ModelFamily, argv: Optional[List[str]] = None) -> int:
    """Entry point of a model's `train.py`; returns the exit status (user errors: one line, status 2;
    a diverging run: status 1)."""
    def run() -> Optional[Union[Accuracy, int]]:
        resolved = family.resolve_config(argv, help_text(family), family.keys_read_by('train'))
        return train(resolved.values, family, resolved.set_by)

    return run_command(run)
