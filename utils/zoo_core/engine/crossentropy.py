"""Cross entropy with label smoothing, for integer labels or soft (mixup/cutmix) label distributions."""
from mindspore import nn, ops
from zoo_core.runtime.config import Setting, declare


class CrossEntropySmooth(nn.LossBase):
    """Mean over the batch of -sum_k q_k log p_k, with q = (1 - s) * target + s / K.

    Args:
        num_classes: K.
        smoothing: s in [0, 1).
        sparse: labels are class indices (True) or distributions over the K classes (False).
    """

    def __init__(self, num_classes, smoothing=0.0, sparse=True):
        super().__init__()
        if not 0.0 <= smoothing < 1.0:
            raise ValueError(f"label smoothing must be in [0, 1), got {smoothing}")
        self.num_classes = num_classes
        self.sparse = sparse
        self.on_value = 1.0 - smoothing + smoothing / num_classes
        self.off_value = smoothing / num_classes
        self.log_softmax = nn.LogSoftmax(axis=-1)

    def construct(self, logits, labels):
        log_probs = self.log_softmax(logits.astype('float32'))
        if self.sparse:
            target = ops.one_hot(labels, self.num_classes, self.on_value, self.off_value)
        else:
            target = labels.astype('float32') * (self.on_value - self.off_value) + self.off_value
        return -(target * log_probs).sum(axis=-1).mean()


# The setting of the loss (declared here, assembled by zoo_core.engine.settings).
LOSS_SETTINGS = declare(
    __name__,
    Setting('label_smoothing', 0.1, 'label smoothing of the cross entropy', 'ModelZoo'),
)
