"""Top-1/top-5 accuracy: the one result type of every evaluation (training, eval.py, offline inference).

Only numpy is needed here, so offline scoring (`zoo_core.deploy.postprocess`) runs without MindSpore.
"""
from dataclasses import asdict, dataclass

import numpy as np

TOP_K = 5


@dataclass(frozen=True)
class Accuracy:
    """Exact hit counts over `total` images, the accuracies they give, and the time they took: `seconds`
    of the whole loop (input pipeline included), `network_seconds` of the network's calls alone."""
    top1_correct: int
    top5_correct: int
    total: int
    seconds: float = 0.0
    network_seconds: float = 0.0

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
        """Throughput of the process that counted."""
        return self.total / self.seconds if self.seconds else 0.0

    @property
    def network_images_per_second(self):
        """Throughput of the network's calls alone (what the loop would reach if the input never waited)."""
        return self.total / self.network_seconds if self.network_seconds else 0.0

    def as_dict(self):
        """Counts, accuracies and throughput, for JSON."""
        return dict(asdict(self), top1=self.top1, top5=self.top5, images_per_second=self.images_per_second,
                    network_images_per_second=self.network_images_per_second)


def top_k_classes(logits, k=TOP_K):
    """The `k` best classes of each row of `logits` (N, C), best first; ties go to the lower class index."""
    return np.argsort(-logits, axis=-1, kind='stable')[..., :min(k, logits.shape[-1])]


def count_correct(logits, labels, k=TOP_K):
    """(top-1 correct, top-k correct) in a batch of logits (N, C) and integer labels (N,)."""
    hits = top_k_classes(logits, k) == labels[:, None]
    return int(hits[:, 0].sum()), int(hits.any(axis=1).sum())
