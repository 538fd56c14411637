"""How many pipeline workers a rank gets: `num_parallel_workers` is 'auto' (the default) or a count.

'auto' gives each rank its share of the cores this process may run on, the same share as its kernel
threads (`zoo_core.runtime.distributed.cpu_threads_per_process`): all of them for one rank, half each
for two ranks on one host, and so on. A count is clamped to the cores, since MindSpore refuses more
("num_parallel_workers exceeds the boundary"). Measured on this project's 2-core machine
(`benchmarks/pipeline.py`, benchmarks/README.md): the ResNeSt-50 training pipeline at 1 worker runs at
about half its 2-worker rate, so a rank should get every core it has.
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
