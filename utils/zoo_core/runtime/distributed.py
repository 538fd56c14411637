"""Device and process-group set-up: one device, or data parallelism over msrun/mpirun/rank-table ranks."""
import os

import numpy as np
import mindspore as ms
from mindspore import ops
from mindspore.communication import get_group_size, get_rank, init

from zoo_core.runtime.compat import set_cpu_kernel_threads
from zoo_core.runtime.config import ConfigError
from zoo_core.runtime.devices import DEVICE_TARGETS, select_device

RUN_MODES = {'graph': ms.GRAPH_MODE, 'pynative': ms.PYNATIVE_MODE}

# The most kernel threads of a deterministic CPU run: oneDNN's timed choice of a thread count starts above it.
DETERMINISTIC_CPU_THREADS = 4


def launched_distributed():
    """True when a launcher started this process as one of several ranks: msrun or the mpirun wrapper
    (MindSpore's dynamic cluster sets MS_ROLE), or an Ascend rank table with RANK_SIZE > 1."""
    if os.environ.get('MS_ROLE'):
        return True
    return bool(os.environ.get('RANK_TABLE_FILE')) and int(os.environ.get('RANK_SIZE', '1')) > 1


def launched_process_count():
    """Processes of the job as the launcher announced them (msrun and the mpirun wrapper: MS_WORKER_NUM;
    a rank table: RANK_SIZE); 1 when not launched as a rank."""
    if not launched_distributed():
        return 1
    return int(os.environ.get('MS_WORKER_NUM') or os.environ.get('RANK_SIZE') or 1)


# Set by the launchers (utils/scripts/common.sh run_cluster) to the processes they start on this host:
# msrun does not export its --local_worker_num.
LOCAL_WORKERS_ENV = 'ZOO_LOCAL_WORKER_NUM'


def local_process_count():
    """Processes of the job on this host: OpenMPI's local size when mpirun started it, else the launcher's
    count for this host (`LOCAL_WORKERS_ENV`), else all of them (one host)."""
    local = os.environ.get('OMPI_COMM_WORLD_LOCAL_SIZE') or os.environ.get(LOCAL_WORKERS_ENV)
    return int(local) if local else launched_process_count()


def cpu_threads_per_process(local_processes):
    """This process's share of the cores it may run on (at least one thread)."""
    return max(1, len(os.sched_getaffinity(0)) // max(1, local_processes))


def limit_cpu_threads(local_processes, most=None):
    """Give MindSpore's CPU kernels this process's share of the cores (at most `most` threads), so that
    several ranks on one machine do not each start a thread pool for all of them (oversubscribed pools
    crawl). Returns the thread count, or None when it was set before (MindSpore allows one setting per
    process; the first one wins)."""
    threads = cpu_threads_per_process(local_processes)
    threads = threads if most is None else min(threads, most)
    try:
        set_cpu_kernel_threads(threads)
    except RuntimeError:  # "can not be set repeatedly": someone chose already
        return None
    return threads


def setup_device(device_target, mode='graph', device_id=0, deterministic=False):
    """Select the device and execution mode; join the process group when launched as a rank.

    Returns (rank, group_size). Data parallelism averages the gradients over the ranks. Several CPU ranks on
    one host share its cores: each gets `cpu_threads_per_process` kernel threads. With `deterministic`, a
    CPU process runs at most `DETERMINISTIC_CPU_THREADS` kernel threads: with more, MindSpore's oneDNN
    kernels time 4, 8, 16 ... threads on their first calls and keep the fastest, so the summation order of
    BatchNorm and convolution gradients would follow the machine's load (docs/REPRODUCIBILITY.md).
    """
    if device_target not in DEVICE_TARGETS:
        raise ConfigError(f"unknown device_target {device_target!r}; choose from {', '.join(DEVICE_TARGETS)}")
    if mode not in RUN_MODES:
        raise ConfigError(f"unknown mode {mode!r}; choose from {', '.join(RUN_MODES)}")
    ms.set_context(mode=RUN_MODES[mode])
    select_device(device_target, int(os.environ.get('DEVICE_ID', device_id)))
    cpu = device_target == 'CPU'
    if cpu and deterministic and not launched_distributed():
        limit_cpu_threads(1, DETERMINISTIC_CPU_THREADS)
    if not launched_distributed():
        return 0, 1
    if cpu and (local_process_count() > 1 or deterministic):
        limit_cpu_threads(local_process_count(), DETERMINISTIC_CPU_THREADS if deterministic else None)
    init()
    rank, group_size = get_rank(), get_group_size()
    ms.reset_auto_parallel_context()
    ms.set_auto_parallel_context(parallel_mode=ms.ParallelMode.DATA_PARALLEL, gradients_mean=True,
                                 device_num=group_size)
    return rank, group_size


# MindSpore's CPU AllReduce takes float16/float32 only; float32 sums integers exactly below 2**24.
EXACT_FLOAT32_INTEGER_LIMIT = 2 ** 24


def all_reduce_sum(values, group_size):
    """Element-wise sum of a non-negative integer numpy array over all ranks (the array itself on one process)."""
    if group_size == 1:
        return values
    if values.max(initial=0) * group_size >= EXACT_FLOAT32_INTEGER_LIMIT:
        raise OverflowError(f"counts up to {values.max()} x {group_size} ranks are not exact in a float32 AllReduce")
    summed = ops.AllReduce(ops.ReduceOp.SUM)(ms.Tensor(values.astype('float32')))
    return np.rint(summed.asnumpy()).astype(values.dtype)
