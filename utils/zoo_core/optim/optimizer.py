"""Momentum SGD with the recipe's parameter groups: no weight decay on BN and biases, an optional lower
learning rate for the backbone, or a frozen backbone (fine-tuning)."""
import numpy as np
import mindspore as ms
from mindspore import nn

from zoo_core.models.backbone import CLASSIFIER_PREFIX
from zoo_core.runtime.errors import ZooError
from zoo_core.runtime.config import Setting, declare

NO_DECAY_SUFFIXES = ('.gamma', '.beta', '.bias')


def is_no_decay(name):
    """BatchNorm scale/shift and biases are not weight-decayed."""
    return name.endswith(NO_DECAY_SUFFIXES)


def parameter_groups(net, lr, cfg):
    """Optimizer groups: (backbone, classifier) x (decay, no decay), with their weight decay and lr.

    `lr` is the per-step schedule; the backbone's is scaled by `cfg.backbone_lr_scale`. Only then does
    each group carry its own `lr`: otherwise every group follows the optimizer's schedule, the same values
    without a per-parameter lr in the graph (resnext50's train step: 7 s less graph compile). With
    `cfg.freeze_backbone` only the classifier is trained (the backbone's parameters stop requiring grad).
    """
    groups = {}
    for param in net.trainable_params():
        in_head = param.name.startswith(CLASSIFIER_PREFIX)
        if cfg.freeze_backbone and not in_head:
            param.requires_grad = False
            continue
        decay = not (cfg.no_decay_bn_bias and is_no_decay(param.name))
        groups.setdefault((in_head, decay), []).append(param)
    if not groups:
        raise ZooError("no trainable parameters: the network has no 'fc' classifier to fine-tune")
    result = []
    for (in_head, decay), params in sorted(groups.items()):
        group = {'params': params, 'weight_decay': cfg.weight_decay if decay else 0.0}
        if cfg.backbone_lr_scale != 1.0:
            scale = 1.0 if in_head else cfg.backbone_lr_scale
            group['lr'] = ms.Tensor(np.asarray(lr, np.float32) * scale)
        result.append(group)
    return result


def build_optimizer(net, lr, cfg, loss_scale=1.0, logger=None):
    """`nn.Momentum` over `parameter_groups`; `loss_scale` must equal a fixed loss-scale manager's."""
    groups = parameter_groups(net, lr, cfg)
    if logger is not None:
        counts = ', '.join(f"{len(g['params'])} params wd={g['weight_decay']}" for g in groups)
        logger.info(f"optimizer groups: {counts}")
    return nn.Momentum(groups, learning_rate=ms.Tensor(np.asarray(lr, np.float32)), momentum=cfg.momentum,
                       loss_scale=loss_scale)


# The settings of the optimizer (declared here, assembled by zoo_core.engine.settings).
OPTIMIZER_SETTINGS = declare(
    __name__,
    Setting('momentum', 0.9, 'SGD momentum', 'paper'),
    Setting('weight_decay', 1e-4, 'L2 weight decay', 'paper'),
    Setting('no_decay_bn_bias', True, 'no weight decay on BatchNorm parameters and biases', 'timm'),
    Setting('freeze_backbone', False, 'fine-tuning: train the classifier only', 'zoo'),
    Setting('backbone_lr_scale', 1.0, 'fine-tuning: lr of every layer but the classifier times this', 'zoo'),
)
