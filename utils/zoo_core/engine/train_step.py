"""The training step of a recipe that accumulates gradients, clips them or keeps a model EMA.

`TrainStep` is a cell that `mindspore.train.Model(train_step)` runs once per micro-batch. Per call it
computes the gradients of the (loss-scaled) loss; every `accumulate_steps` calls it makes one update:

    sum of the micro-batches' gradients -> AllReduce mean over the ranks (data parallel) -> unscale
    (/ loss scale, / accumulate_steps) -> overflow check (with a loss scale) -> global-norm clipping
    -> optimizer -> model EMA

so the update of K micro-batches of b images is that of one batch of K*b, the overflow check and the
clipping see the true gradients (unscaled, averaged over every rank's images), and every rank takes the
same decision. The optimizer's step counter, hence the lr schedule, counts updates.

Loss scaling uses `mindspore.amp`'s functional scalers (`DynamicLossScaler`, `StaticLossScaler`,
`all_finite`), which run on the CPU too, where `Model`'s loss-scale managers accept only a fixed scale
without overflow skipping. An update whose gradients overflow is skipped; a dynamic scale then halves.

Batch mixup and CutMix also train here: the network with its loss is then a `MixingLossCell`, which mixes
the batch from the pipeline's draws before the forward pass (`zoo_core.engine.batch_mixing`).

A recipe that uses none of these features trains with `Model(net, loss_fn, optimizer, ...)` exactly
as before (`needs_train_step`).

State held as Parameters, hence in every checkpoint of the training network: the accumulated gradients
(`accumulated_grads.<name>`, all zero at an epoch's end) with the micro-step count
(`ACCUMULATED_STEPS_NAME`), and the EMA (`zoo_core.optim.ema`).
"""
import mindspore as ms
from mindspore import Parameter, Tensor, amp, nn, ops
from mindspore.communication import get_group_size

from zoo_core.data.mixing import mixing_enabled
from zoo_core.engine.batch_mixing import MixingLossCell
from zoo_core.models.noise import bind_noise_counter, noise_counter
from zoo_core.optim.ema import ModelEma
from zoo_core.runtime.config import ConfigError, Setting, declare

ACCUMULATED_PREFIX = 'accumulated_grads'
ACCUMULATED_STEPS_NAME = 'accumulated_steps'
# `DynamicLossScaleManager`'s defaults: the scale doubles after this many finite updates, halves on overflow.
SCALE_FACTOR = 2
SCALE_WINDOW = 2000
# torch.nn.utils.clip_grad_norm_'s guard against a zero norm: coefficient = max_norm / (norm + eps), at most 1.
CLIP_EPSILON = 1e-6
DATA_PARALLEL_MODES = (ms.ParallelMode.DATA_PARALLEL, ms.ParallelMode.HYBRID_PARALLEL)
STOCHASTIC_LAYER_RATES = ('drop_rate', 'drop_path_rate', 'drop_block_rate')


def has_stochastic_layers(cfg) -> bool:
    """True when the network drops features, paths or blocks in training (configs built by hand may lack
    the keys)."""
    return any(cfg.get(key, 0.0) > 0 for key in STOCHASTIC_LAYER_RATES)


def needs_train_step(cfg) -> bool:
    """True when the recipe accumulates gradients, clips them, keeps an EMA, mixes batches or has stochastic
    layers, whose noise the step's counter drives (else `Model`'s own step)."""
    return (cfg.accumulate_steps > 1 or cfg.clip_grad > 0 or cfg.ema or mixing_enabled(cfg)
            or has_stochastic_layers(cfg))


def loss_scaler_for(cfg, amp_level):
    """None in fp32 (O0); else `amp.DynamicLossScaler` (with `dynamic_loss_scale`) or `amp.StaticLossScaler`,
    starting at `cfg.loss_scale`."""
    if amp_level == 'O0':
        return None
    if cfg.dynamic_loss_scale:
        return amp.DynamicLossScaler(cfg.loss_scale, SCALE_FACTOR, SCALE_WINDOW)
    return amp.StaticLossScaler(cfg.loss_scale)


def updates_per_epoch(steps_per_epoch, accumulate_steps):
    """Optimizer updates per epoch of `steps_per_epoch` micro-batches (a partial accumulation is dropped)."""
    if steps_per_epoch < accumulate_steps:
        raise ConfigError(f"--accumulate_steps {accumulate_steps} is more than the {steps_per_epoch} batches of an "
                          f"epoch: lower it or --batch_size")
    return steps_per_epoch // accumulate_steps


def accumulation_dataset(dataset, accumulate_steps, logger):
    """(`dataset` cut to whole accumulation windows, updates per epoch): an epoch ends with an update, so
    checkpoints never hold a partial window."""
    steps = dataset.get_dataset_size()
    updates = updates_per_epoch(steps, accumulate_steps)
    if updates * accumulate_steps != steps:
        logger.info(f"--accumulate_steps {accumulate_steps}: each epoch uses {updates * accumulate_steps} of its "
                    f"{steps} batches ({updates} updates)")
        dataset = dataset.take(updates * accumulate_steps)
    return dataset, updates


def gradient_reducer(weights):
    """`nn.DistributedGradReducer` over the ranks in data-parallel mode (mean as the context says), else None."""
    if ms.get_auto_parallel_context('parallel_mode') not in DATA_PARALLEL_MODES:
        return None
    return nn.DistributedGradReducer(weights, ms.get_auto_parallel_context('gradients_mean'), get_group_size())


# Per-gradient functions mapped over the gradient tuple with `ops.HyperMap`: a Python loop over 161
# gradients compiles as 161 copies of its body (resnext50's clipping: 27 s of graph compile against 6 s).
_scale_grad = ops.MultitypeFuncGraph('scale_grad')
_squared_sum = ops.MultitypeFuncGraph('squared_sum')
_accumulate = ops.MultitypeFuncGraph('accumulate')
_clear = ops.MultitypeFuncGraph('clear')
_map = ops.HyperMap()


@_scale_grad.register('Number', 'Tensor')
@_scale_grad.register('Tensor', 'Tensor')
def _scale_one(factor, grad):
    return grad * ops.cast(factor, grad.dtype)


@_squared_sum.register('Tensor')
def _squared_sum_one(grad):
    return ops.reduce_sum(ops.square(ops.cast(grad, ms.float32)))


def global_norm(grads):
    """The L2 norm of all gradients together."""
    return ops.sqrt(ops.addn(_map(_squared_sum, grads)))


def clip_by_global_norm(grads, max_norm):
    """`grads` scaled by min(1, max_norm / (global norm + CLIP_EPSILON)), as torch's `clip_grad_norm_`."""
    coefficient = ops.minimum(max_norm / (global_norm(grads) + CLIP_EPSILON), 1.0)
    return _map(ops.partial(_scale_grad, coefficient), grads)


@_accumulate.register('Tensor', 'Tensor')
def _accumulate_one(total, grad):
    return ops.assign_add(total, ops.cast(grad, total.dtype))


@_clear.register('Tensor')
def _clear_one(total):
    return ops.assign(total, ops.zeros_like(total))


class TrainStep(nn.Cell):
    """One micro-batch of training (see the module docstring).

    Args:
        network_with_loss: a cell of (images, labels) -> scalar loss, already cast for AMP.
        loss_scaler: an `amp` loss scaler, or None in fp32.
        accumulate_steps: micro-batches per update.
        clip_grad: the largest global gradient norm (0: no clipping).
        ema: a `ModelEma` updated after each update, or None.
        noise_step: the step counter of the network's stochastic layers (`zoo_core.models.noise`), advanced
            before each micro-batch, or None.
    """

    def __init__(self, network_with_loss, optimizer, loss_scaler=None, accumulate_steps=1, clip_grad=0.0,
                 ema=None, noise_step=None):
        super().__init__(auto_prefix=False)
        self.network = network_with_loss
        self.network.set_grad()
        self.optimizer = optimizer
        self.weights = optimizer.parameters
        self.grad = ops.GradOperation(get_by_list=True, sens_param=True)
        self.loss_scaler = loss_scaler
        self.accumulate_steps = accumulate_steps
        self.clip_grad = float(clip_grad)
        self.ema = ema
        self.reducer = gradient_reducer(self.weights)
        self.noise_step = noise_step
        if accumulate_steps > 1:
            self.accumulated = self.weights.clone(prefix=ACCUMULATED_PREFIX, init='zeros')
            self.micro_steps = Parameter(Tensor(0, ms.int32), name=ACCUMULATED_STEPS_NAME, requires_grad=False)

    def construct(self, *inputs):
        if self.noise_step is not None:
            advanced = ops.assign(self.noise_step, self.noise_step + 1)
            inputs = (ops.depend(inputs[0], advanced),) + inputs[1:]
        loss = self.network(*inputs)
        sens = ops.ones_like(loss)
        if self.loss_scaler is not None:
            sens = sens * ops.cast(self.loss_scaler.scale_value, loss.dtype)
        grads = self.grad(self.network, self.weights)(*inputs, sens)
        if self.accumulate_steps == 1:
            return ops.depend(loss, self.update(grads))
        loss = ops.depend(loss, _map(_accumulate, self.accumulated, grads))
        micro_steps = self.micro_steps + 1
        loss = ops.depend(loss, ops.assign(self.micro_steps, micro_steps))
        if micro_steps % self.accumulate_steps == 0:
            loss = ops.depend(loss, self.update(self.accumulated))
            loss = ops.depend(loss, _map(_clear, self.accumulated))
        return loss

    def update(self, grads):
        """Reduce, unscale, check, clip and apply `grads` (the sum of the window's scaled gradients)."""
        if self.reducer is not None:
            grads = self.reducer(grads)
        if self.loss_scaler is not None:
            grads = self.loss_scaler.unscale(grads)
        if self.accumulate_steps > 1:
            grads = _map(ops.partial(_scale_grad, 1.0 / self.accumulate_steps), grads)
        if self.loss_scaler is None:
            return self.apply(grads)
        finite = amp.all_finite(grads)
        self.loss_scaler.adjust(finite)
        if finite:
            finite = ops.depend(finite, self.apply(grads))
        return finite

    def apply(self, grads):
        """Clip, step the optimizer, update the EMA."""
        if self.clip_grad > 0:
            grads = clip_by_global_norm(grads, self.clip_grad)
        done = self.optimizer(grads)
        if self.ema is not None:
            done = ops.depend(done, self.ema())
        return done


def build_train_step(net, loss_fn, optimizer, cfg, amp_level, rank: int = 0) -> TrainStep:
    """`TrainStep` of `net` (cast to `amp_level` with `mindspore.amp.auto_mixed_precision`), `loss_fn` and
    `optimizer` with the recipe's batch mixing, accumulation, clipping, loss scale and EMA. The EMA's
    averages start as a copy of the network's weights; a resume then overwrites them (and the weights)
    with the checkpoint's, so build it before the resume loads the checkpoint."""
    cast = net if amp_level == 'O0' else amp.auto_mixed_precision(net, amp_level)
    ema = ModelEma(net, cfg.ema_decay, cfg.ema_warmup) if cfg.ema else None
    with_loss = (MixingLossCell(cast, loss_fn, cfg.num_classes) if mixing_enabled(cfg)
                 else nn.WithLossCell(cast, loss_fn))
    counter = noise_counter()
    bound = bind_noise_counter(net, counter, cfg.get('seed', 0), rank)
    return TrainStep(with_loss, optimizer, loss_scaler=loss_scaler_for(cfg, amp_level),
                     accumulate_steps=cfg.accumulate_steps, clip_grad=cfg.clip_grad, ema=ema,
                     noise_step=counter if bound else None)


# The settings of the train step (declared here, assembled by zoo_core.engine.settings).
STEP_SETTINGS = declare(
    __name__,
    Setting('accumulate_steps', 1, 'an optimizer update every K micro-batches: the update of one batch of K x '
            'batch_size per device (the lr scales with it); lr schedule and progress lines count updates',
            'mindcv'),
    Setting('clip_grad', 0.0, 'clip the global gradient norm to this value (after the loss scale is undone and '
            'the ranks are averaged); 0: off', 'timm'),
    Setting('amp_level', 'auto', '`auto` (O0 on CPU, O2 on GPU/Ascend), `O0`, `O1`, `O2`, `O3`', 'zoo'),
    Setting('loss_scale', 1024.0, "fixed loss scale, or the dynamic scaler's first one", 'ModelZoo'),
    Setting('dynamic_loss_scale', True, "dynamic loss scale on GPU/Ascend (MindSpore's CPU backend takes a "
            "fixed one)", 'zoo'),
)
