"""Top-1/top-5 accuracy over a whole validation set, summed over ranks with an AllReduce."""
import time
from dataclasses import asdict, dataclass

import numpy as np

from zoo_core.runtime.distributed import all_reduce_sum

TOP_K = 5


@dataclass
class EvalResult:
    """Exact counts over the validation set and the accuracies they give."""
    top1_correct: int
    top5_correct: int
    total: int
    seconds: float = 0.0

    @property
    def top1(self):
        """Top-1 accuracy in [0, 1]."""
        return self.top1_correct / self.total if self.total else 0.0

    @property
    def top5(self):
        """Top-5 accuracy in [0, 1] (top-k with k = the class count when there are fewer than 5)."""
        return self.top5_correct / self.total if self.total else 0.0

    @property
    def images_per_second(self):
        """Evaluation throughput of this process."""
        return self.total / self.seconds if self.seconds else 0.0

    def as_dict(self):
        """Counts, accuracies and throughput, for JSON."""
        return dict(asdict(self), top1=self.top1, top5=self.top5, images_per_second=self.images_per_second)


def count_correct(logits, labels, k=TOP_K):
    """(top-1 correct, top-k correct) in a batch of logits (N, C) and integer labels (N,)."""
    k = min(k, logits.shape[1])
    top = np.argsort(-logits, axis=1, kind='stable')[:, :k]
    hits = top == labels[:, None]
    return int(hits[:, 0].sum()), int(hits.any(axis=1).sum())


def evaluate(net, dataset, group_size=1):
    """Accuracy of `net` (put in eval mode) on `dataset` (this rank's share; None for no image),
    summed over the `group_size` ranks: every rank must call it."""
    net.set_train(False)
    counts = np.zeros(3, dtype=np.int64)
    start = time.perf_counter()
    if dataset is not None:
        for images, labels in dataset.create_tuple_iterator(num_epochs=1):
            logits = net(images).asnumpy()
            top1, top5 = count_correct(logits, labels.asnumpy())
            counts += (top1, top5, labels.shape[0])
    seconds = time.perf_counter() - start
    counts = all_reduce_sum(counts, group_size)
    return EvalResult(int(counts[0]), int(counts[1]), int(counts[2]), seconds)
