"""The training engine that every model's `train.py` calls: config -> data -> network -> loss ->
optimizer -> AMP and loss scale -> `mindspore.train.Model` with callbacks -> checkpoints."""
import os

import mindspore as ms
import mindspore.dataset as ds
from mindspore.amp import DynamicLossScaleManager, FixedLossScaleManager
from mindspore.train import CheckpointConfig, Model, ModelCheckpoint

from zoo_core.data.class_names import class_indexing_of, save_class_indexing
from zoo_core.data.dataset import create_eval_dataset, create_train_dataset, index_for
from zoo_core.data.demo_data import ensure_demo_dataset
from zoo_core.data.mixing import mixing_enabled
from zoo_core.engine.crossentropy import CrossEntropySmooth
from zoo_core.engine.eval_callback import EvalCallback
from zoo_core.engine.evaluate import evaluate
from zoo_core.engine.monitor import TrainingMonitor
from zoo_core.engine.validate import TRAIN, check_input_files, check_training_folders, validate_settings
from zoo_core.models.summary import summarize
from zoo_core.optim.lr_schedule import build_lr_schedule, scaled_lr
from zoo_core.optim.optimizer import build_optimizer
from zoo_core.runtime.config import EVAL_ONLY_KEYS, ConfigError, format_config, save_config
from zoo_core.runtime.distributed import setup_device
from zoo_core.runtime.errors import run_command
from zoo_core.runtime.logging import get_logger
from zoo_core.weights.checkpoint import CheckpointError, load_network_checkpoint
from zoo_core.weights.pretrained import create_network

CHECKPOINT_DIR = 'checkpoints'
# The optimizer's state restored on resume: momentum buffers and the step counter (lr position).
OPTIMIZER_STATE_PREFIXES = ('moments.', 'global_step')


def resolve_amp_level(cfg):
    """'auto' -> O0 (fp32) on CPU, O2 (fp16 with fp32 BN) on GPU and Ascend."""
    if cfg.amp_level != 'auto':
        return cfg.amp_level
    return 'O0' if cfg.device_target == 'CPU' else 'O2'


def loss_scale_manager(cfg, amp_level):
    """The loss scale for this device: none in fp32; dynamic on GPU/Ascend; on CPU MindSpore accepts only a
    fixed scale without overflow skipping (the optimizer must then get the same `loss_scale`)."""
    if amp_level == 'O0':
        return None
    if cfg.device_target != 'CPU' and cfg.dynamic_loss_scale:
        return DynamicLossScaleManager(init_loss_scale=cfg.loss_scale)
    return FixedLossScaleManager(cfg.loss_scale, drop_overflow_update=cfg.device_target != 'CPU')


def prepare_paths(cfg):
    """Fill in the demo dataset and the default output folder."""
    if not cfg.data_dir:
        cfg.data_dir = ensure_demo_dataset()
    cfg.data_dir = os.path.abspath(cfg.data_dir)
    cfg.output_dir = os.path.abspath(cfg.output_dir or os.path.join('output', cfg.net))
    return cfg


def build_network(cfg, family, logger):
    """The network of the config, from pretrained weights when asked."""
    options = dict(drop_rate=cfg.drop_rate, drop_path_rate=cfg.drop_path_rate,
                   drop_block_rate=cfg.drop_block_rate, zero_init_last=cfg.zero_init_last)
    net = create_network(family.registry, cfg.net, num_classes=cfg.num_classes, pretrained=cfg.pretrained or None,
                         **options)
    if cfg.pretrained:
        logger.info(f"initialised from pretrained weights {cfg.pretrained}")
    return net


def resume_from(cfg, net, optimizer, logger):
    """Load network and optimizer state (momentum buffers, step counter, hence the lr position) of
    `cfg.resume`; returns the epoch to start from."""
    params = load_network_checkpoint(net, cfg.resume)
    if 'epoch_num' not in params or 'global_step' not in params:
        raise CheckpointError(f"{cfg.resume} has no epoch_num/global_step: it is not a training checkpoint "
                              f"of this zoo (to start from weights only, use --pretrained)")
    restored = [p for p in optimizer.get_parameters() if p.name.startswith(OPTIMIZER_STATE_PREFIXES)]
    missing = [p.name for p in restored if p.name not in params]
    if missing:
        raise CheckpointError(f"{cfg.resume} lacks the optimizer state {', '.join(missing[:5])}"
                              f"{' ...' if len(missing) > 5 else ''}")
    for param in restored:
        param.set_data(params[param.name].value().astype(param.dtype))
    epoch = int(params['epoch_num'].asnumpy())
    if epoch >= cfg.epochs:
        raise ConfigError(f"{cfg.resume} is at epoch {epoch}; nothing to do for --epochs {cfg.epochs}")
    logger.info(f"resumed from {cfg.resume} at epoch {epoch}, step {int(params['global_step'].asnumpy())}")
    return epoch


def make_callbacks(cfg, net, rank, group_size, steps_per_epoch, lr, logger, train_index):
    """Eval (with best checkpoint), progress/metrics monitor, and rank 0's periodic checkpoints.

    `train_index` is the checked train split: its bad files are counted, its classes label val/."""
    checkpoint_dir = os.path.join(cfg.output_dir, CHECKPOINT_DIR)
    if rank == 0:
        save_class_indexing(train_index.classes, checkpoint_dir)  # predict.py names the classes from it
    monitor = TrainingMonitor(logger, lr, cfg.batch_size * group_size, steps_per_epoch, cfg.log_every,
                              cfg.output_dir if rank == 0 else None, cfg.num_classes, checkpoint_dir,
                              len(train_index.bad_files))
    callbacks = []
    if cfg.eval_interval > 0:
        eval_data = create_eval_dataset(cfg, rank, group_size, index=index_for(cfg, 'val', train_index.classes))
        callbacks.append(EvalCallback(net, lambda: evaluate(net, eval_data, group_size), cfg.eval_interval,
                                      cfg.output_dir, logger, monitor, save=rank == 0,
                                      class_indexing=class_indexing_of(train_index.classes)))
    callbacks.append(monitor)  # after the eval callback (which records into it), before the checkpoints
    if rank == 0:
        config = CheckpointConfig(save_checkpoint_steps=steps_per_epoch, keep_checkpoint_max=cfg.keep_checkpoint_max,
                                  append_info=['epoch_num', 'step_num'])
        callbacks.append(ModelCheckpoint(prefix=cfg.net, directory=checkpoint_dir, config=config))
    return callbacks


def train(cfg, family):
    """Run the training that `cfg` describes with a network of `family`; returns the EvalCallback's
    last result (or None without evaluation). The config, its files and the dataset's folders are
    checked before the device is set up."""
    warnings = validate_settings(cfg, TRAIN)
    check_input_files(cfg, family, TRAIN)
    cfg = prepare_paths(cfg)
    check_training_folders(cfg)
    rank, group_size = setup_device(cfg.device_target, cfg.mode, cfg.device_id)
    ms.set_seed(cfg.seed)
    ds.config.set_seed(cfg.seed)
    logger = get_logger(cfg.output_dir, rank)
    for warning in warnings:
        logger.warning(warning)
    if rank == 0:
        save_config(cfg, cfg.output_dir)
    logger.info(f"rank {rank} of {group_size}, device {cfg.device_target}, config:\n{format_config(cfg)}")

    train_index = index_for(cfg, 'train')
    dataset = create_train_dataset(cfg, rank, group_size, index=train_index)
    steps_per_epoch = dataset.get_dataset_size()
    global_batch = cfg.batch_size * group_size
    peak_lr = scaled_lr(cfg.base_lr, cfg.base_batch, global_batch)
    lr = build_lr_schedule(peak_lr, steps_per_epoch, cfg.epochs, cfg.warmup_epochs, cfg.lr_schedule,
                           cfg.min_lr, cfg.milestones, cfg.lr_decay_rate)
    logger.info(f"{steps_per_epoch} steps per epoch, global batch {global_batch}, peak lr {peak_lr:.5f}")

    net = build_network(cfg, family, logger)
    if rank == 0:  # one forward pass; every rank's network is the same
        logger.info(f"model {summarize(net, cfg.net, cfg.image_size).describe()}")
    amp_level = resolve_amp_level(cfg)
    scale_manager = loss_scale_manager(cfg, amp_level)
    optimizer_loss_scale = cfg.loss_scale if isinstance(scale_manager, FixedLossScaleManager) else 1.0
    optimizer = build_optimizer(net, lr, cfg, loss_scale=optimizer_loss_scale, logger=logger)
    initial_epoch = resume_from(cfg, net, optimizer, logger) if cfg.resume else 0
    loss = CrossEntropySmooth(cfg.num_classes, cfg.label_smoothing, sparse=not mixing_enabled(cfg))
    model = Model(net, loss_fn=loss, optimizer=optimizer, amp_level=amp_level, loss_scale_manager=scale_manager,
                  boost_level='O0')
    callbacks = make_callbacks(cfg, net, rank, group_size, steps_per_epoch, lr, logger, train_index)
    sink = cfg.device_target != 'CPU' if cfg.dataset_sink_mode == 'auto' else cfg.dataset_sink_mode == 'on'
    logger.info(f"training {cfg.net} for epochs {initial_epoch + 1}..{cfg.epochs}, amp {amp_level}, "
                f"output {cfg.output_dir}")
    model.train(cfg.epochs, dataset, callbacks=callbacks, dataset_sink_mode=sink, initial_epoch=initial_epoch)
    eval_callback = next((c for c in callbacks if isinstance(c, EvalCallback)), None)
    if eval_callback and eval_callback.last_result:
        result = eval_callback.last_result
        logger.info(f"final validation top-1 {result.top1:.4%} top-5 {result.top5:.4%}; best top-1 "
                    f"{eval_callback.best_top1:.4%} at epoch {eval_callback.best_epoch}")
        return result
    return None


def help_text(family):
    """What `train.py --help` says above the flags."""
    return (f"Train a {family.name} network (default --net {family.default_net}).\n\n"
            "Checkpoints: --resume CKPT continues a run of this zoo (weights, optimizer state, epoch); "
            "--pretrained FILE starts from weights (MindSpore, PyTorch or safetensors; a new classifier when "
            "--num_classes differs).\n\n"
            "Data: --data_dir DIR holds train/<class>/<image> and val/<class>/<image> (val/ is evaluated "
            "every --eval_interval epochs; 0: never); without it, the built-in demo dataset.\n\n"
            "Every recipe key below can be set with --key value or a YAML file (--config); booleans take "
            "true/false, lists YAML syntax (--milestones [30,60]).")


def main(family, argv=None):
    """Entry point of a model's `train.py`; returns the exit status (user errors: one line, status 2;
    a diverging run: status 1)."""
    listed_keys = [key for key in family.recipe if key not in EVAL_ONLY_KEYS]
    return run_command(lambda: train(family.get_config(argv, help_text(family), listed_keys), family))
