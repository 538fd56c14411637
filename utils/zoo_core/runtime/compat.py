"""Where MindSpore releases, or MindSpore and the machine, disagree: each difference handled here, once.

The tested range and its notice are `zoo_core.runtime.versions`. APIs that older releases lack
(docs/MINDSPORE_VERSIONS.md, read from MindSpore's sources at each release tag, not run) fall back here:
`set_deterministic` and `device_context.cpu.op_tuning.threads_num` (2.5.0) to `set_context`,
`get_current_device` (2.6.0) to `get_context`, `nn.utils.no_init_parameters` (2.4.10) to a normal build.

- `checkpoint_memory_check`: MindSpore 2.10's `load_checkpoint` refuses a `.ckpt` larger than the *free*
  memory (`SC_AVPHYS_PAGES`, MemFree), which leaves out the page cache that the kernel gives back on
  demand. On a training server whose cache is full of images, MemFree is small and MemAvailable large, and
  a 500 MB checkpoint would not load beside 23 GB of available memory. `weights.files` checks the size
  against MemAvailable itself and, while it reads, has MindSpore count the same figure. Releases without
  the check (`_get_available_memory` absent) are left as they are.
"""
import contextlib
from typing import Iterator, Optional

import mindspore as ms
import mindspore.train.serialization as serialization

MEMINFO_PATH = '/proc/meminfo'
MEMINFO_KEY = 'MemAvailable:'
KIB = 1024


def available_memory_bytes(meminfo_path: Optional[str] = None) -> Optional[int]:
    """The kernel's MemAvailable in bytes (free memory plus the page cache and other memory it can reclaim);
    None where the file or the line is missing (not Linux, or a kernel older than 3.14)."""
    try:
        with open(meminfo_path or MEMINFO_PATH, encoding='ascii') as handle:
            for line in handle:
                if line.startswith(MEMINFO_KEY):
                    return int(line.split()[1]) * KIB
    except (OSError, ValueError, IndexError):
        return None
    return None


@contextlib.contextmanager
def checkpoint_memory_check(available: Optional[int]) -> Iterator[None]:
    """While the block runs, MindSpore's checkpoint reader measures the memory as `available` bytes (the
    caller's MemAvailable) instead of MemFree; `None` leaves MindSpore's own measure."""
    original = getattr(serialization, '_get_available_memory', None)
    if original is None or available is None:
        yield
        return
    serialization._get_available_memory = lambda: available
    try:
        yield
    finally:
        serialization._get_available_memory = original


def set_deterministic_kernels() -> None:
    """`mindspore.set_deterministic(True)` (2.5.0+), else `set_context(deterministic='ON')`."""
    if hasattr(ms, 'set_deterministic'):
        ms.set_deterministic(True)
    else:
        ms.set_context(deterministic='ON')


def set_cpu_kernel_threads(threads: int) -> None:
    """The CPU kernels' thread count: `device_context.cpu.op_tuning.threads_num` (2.5.0+), else
    `set_context(runtime_num_threads=...)`. MindSpore raises RuntimeError when it was set before."""
    device_context = getattr(ms, 'device_context', None)
    if device_context is not None:
        device_context.cpu.op_tuning.threads_num(threads)
    else:
        ms.set_context(runtime_num_threads=threads)


def current_device_target() -> str:
    """The device target this process runs on: `get_current_device()` (2.6.0+), else `get_context`."""
    if hasattr(ms, 'get_current_device'):
        return ms.get_current_device().device_target
    return ms.get_context('device_target')


def no_init_parameters():
    """`mindspore.nn.utils.no_init_parameters()` (2.4.10+: build a network without running its initialisers),
    else a context that builds it normally."""
    utils = getattr(ms.nn, 'utils', None)
    maker = getattr(utils, 'no_init_parameters', None)
    return maker() if maker is not None else contextlib.nullcontext()
