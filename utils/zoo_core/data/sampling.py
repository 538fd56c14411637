"""How a rank draws its training images each epoch: MindSpore's shuffled shards, or repeated augmentation.

Repeated augmentation (Hoffer et al., 2020; timm's `RepeatAugSampler`, `--aug_repeats R`): each epoch
draws a permutation common to all ranks (seeded by the run's seed and the epoch), repeats every image R
times in a row and deals the result round-robin to the ranks, so an image's R copies are augmented on
R different ranks within the same steps. The epoch keeps its length (each rank still takes
floor(N / ranks) images), so it covers about 1/R of the distinct images. timm further rounds the epoch down
to a multiple of 256 images; this does not.
"""
import math

import numpy as np
import mindspore.dataset as ds


class RepeatAugmentSampler(ds.Sampler):
    """This rank's indices of repeated augmentation over `dataset_size` samples (see the module docstring).

    Args:
        repeats: copies of each image per epoch (R).
        seed: the run's seed; epoch e uses the generator seeded by (seed, e).
    """

    def __init__(self, dataset_size, rank, group_size, repeats, seed):
        self.per_rank = dataset_size // group_size
        super().__init__(num_samples=self.per_rank)
        self.dataset_size, self.rank, self.group_size = dataset_size, rank, group_size
        self.repeats, self.seed = repeats, seed
        self.epoch = 0

    def epoch_indices(self, epoch):
        """This rank's sample indices in epoch `epoch` (0-based)."""
        order = np.random.default_rng((self.seed, epoch)).permutation(self.dataset_size)
        repeated = np.repeat(order, self.repeats)
        total = math.ceil(len(repeated) / self.group_size) * self.group_size
        repeated = np.concatenate([repeated, repeated[:total - len(repeated)]])
        return repeated[self.rank::self.group_size][:self.per_rank]

    def __iter__(self):
        indices = self.epoch_indices(self.epoch)
        self.epoch += 1
        return iter(indices.tolist())


def train_sampling(dataset_size, rank, group_size, repeats, seed):
    """The sampling arguments of the training dataset: a `RepeatAugmentSampler` when `repeats` > 1, else
    MindSpore's own shuffle, sharded by rank when there are several."""
    if repeats > 1:
        return dict(sampler=RepeatAugmentSampler(dataset_size, rank, group_size, repeats=repeats, seed=seed))
    return dict(shuffle=True, num_shards=group_size if group_size > 1 else None,
                shard_id=rank if group_size > 1 else None)
