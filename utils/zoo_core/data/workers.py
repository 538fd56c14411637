"""How many pipeline workers a rank gets: `num_parallel_workers` is 'auto' (the default) or a count.

'auto' gives each rank its share of the cores this process may run on, the same share as its kernel
threads (`zoo_core.runtime.distributed.cpu_threads_per_process`): all of them for one rank, half each
for two ranks on one host, and so on. A count is clamped to the cores, since MindSpore refuses more
("num_parallel_workers exceeds the boundary"). Measured on this project's 2-core machine
(`benchmarks/pipeline.py --sweep`, benchmarks/README.md): the ResNeSt-50 training pipeline with one
worker runs at 0.76 and 0.59 of its two-worker img/s (two runs), so a rank gets every core it may use.

MindSpore's other pipeline settings are left at their defaults, because the same measurements found
nothing to gain: a prefetch size of 2 or 64 instead of 16, and autotune, gave 0.83-0.98 of the
default's img/s; shared memory applies only to Python ops run in worker processes
(`python_multiprocessing`), which these pipelines do not use.
"""
import os

from zoo_core.runtime.config import ConfigError
from zoo_core.runtime.distributed import cpu_threads_per_process, local_process_count

AUTO_WORKERS = 'auto'


def clamp_workers(requested):
    """`requested` limited to the machine's cores (MindSpore rejects more)."""
    return max(1, min(int(requested), os.cpu_count() or 1))


def requested_workers(value):
    """`num_parallel_workers` as given ('auto', an int, or a numeric string from a flag): 'auto' or an int
    of at least 1; anything else is a `ConfigError`."""
    if isinstance(value, str) and value.strip().lower() == AUTO_WORKERS:
        return AUTO_WORKERS
    try:
        count = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"--num_parallel_workers must be 'auto' or a number of workers, got {value!r}") from None
    if count < 1:
        raise ConfigError(f"--num_parallel_workers must be at least 1 (or 'auto'), got {count}")
    return count


def workers_per_rank(value, local_ranks=None):
    """Pipeline workers of this rank for `num_parallel_workers` `value`: with 'auto', the cores shared among
    the `local_ranks` processes of this host (default: as the launcher announced them); a count, clamped."""
    requested = requested_workers(value)
    if requested == AUTO_WORKERS:
        return cpu_threads_per_process(local_process_count() if local_ranks is None else local_ranks)
    return clamp_workers(requested)
