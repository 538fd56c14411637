"""Seeds and determinism of a run: the same config gives the same weights, and a resumed run the same data.

`seed_run(seed)` seeds MindSpore's and the data pipeline's generators. With `deterministic`, MindSpore's
kernels also run deterministically (`mindspore.set_deterministic`), and a resumed data pipeline replays
the samples before its resume point through every random augmentation (`set_fast_recovery(False)`), so
that the resumed run draws what the uninterrupted one drew. The replay costs the data-loading time of every
step before the resume point (measured in docs/RESUME.md); without `deterministic` a resumed pipeline
skips them at once (MindSpore's fast recovery): same sample order, other augmentation draws.
"""
import mindspore as ms
import mindspore.dataset as ds

from zoo_core.runtime.compat import set_deterministic_kernels
from zoo_core.runtime.config import Setting, declare


def seed_run(seed, deterministic=False):
    """Seed every generator of a run; with `deterministic`, deterministic kernels and exact data recovery."""
    ms.set_seed(seed)
    ds.config.set_seed(seed)
    ds.config.set_fast_recovery(not deterministic)
    if deterministic:
        set_deterministic_kernels()


# The settings of a run's randomness (declared here, assembled by zoo_core.engine.settings).
REPRODUCIBILITY_SETTINGS = declare(
    __name__,
    Setting('seed', 1, 'seed of MindSpore, the data pipeline and mixing', 'zoo'),
    Setting('deterministic', False, 'deterministic kernels, and a resumed run replays its data pipeline up to '
            'the resume point so that it sees the same augmentations (costs the data time of the steps before '
            'it); docs/REPRODUCIBILITY.md', 'zoo'),
)
