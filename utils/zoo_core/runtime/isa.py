"""oneDNN's instruction-set cap on the CPU, and the trap it leaves when MindSpore ran a convolution first.

On AVX-512 CPUs, MindSpore 2.10's oneDNN runs fp32 NCHW 3x3 convolutions through its reference kernel,
about 100x slower than the AVX2 JIT kernels it picks when `ONEDNN_MAX_CPU_ISA=AVX2` (0.16 against 26
GFLOP/s on a 32x128x16x16 convolution). `zoo_core` sets that cap when it is imported (`cap_isa`), and a
user's own setting wins. oneDNN reads the cap once, when it creates its first primitive, so a process that
ran any MindSpore convolution before importing the zoo keeps the uncapped ISA and nothing can change it
afterwards (measured: a 3x3 convolution 126x slower than a 1x1 one of equal work, 0.5x when capped in time).

`warn_if_convolutions_slow` finds that state before the slow run starts: only when the cap could be late
(MindSpore was imported before the zoo, the user did not choose an ISA, the CPU has AVX-512), it asks
MindSpore's oneDNN for its effective ISA (`dnnl_get_effective_cpu_isa`: 0x7, AVX2, when the cap held; an
AVX-512 level when a convolution ran first) and prints one line with the fix.
"""
import ctypes
import functools
import os
import sys
from typing import Optional

ISA_VARIABLE = 'ONEDNN_MAX_CPU_ISA'
CAPPED_ISA = 'AVX2'
CPUINFO_PATH = '/proc/cpuinfo'
AVX512_FLAG = 'avx512f'
# The trap is oneDNN 3's (MindSpore 2.10: libdnnl.so.3). MindSpore 2.7 ships oneDNN 2 (libdnnl.so.2), which
# reads DNNL_MAX_CPU_ISA, not this variable, and has no such fallback: uncapped on this AVX-512 Xeon, its 3x3
# convolution took 1.3x the time of the 1x1 one of equal work (7.6 / 5.8 ms), so there is nothing to warn about.
ONEDNN_LIBRARIES = ('libdnnl.so.3',)
# oneDNN's `dnnl_cpu_isa_t`: avx2 is 0x7 and avx512_core 0x27; every AVX-512 level has this bit.
AVX512_CORE_BIT = 0x20
FIX = (f"export {ISA_VARIABLE}={CAPPED_ISA} before starting Python (or import zoo_core before anything runs a "
       f"MindSpore layer)")


@functools.lru_cache(maxsize=None)
def _cap_state():
    """What was true when the zoo set the cap: (the user chose an ISA, MindSpore was already imported)."""
    return ISA_VARIABLE in os.environ, 'mindspore' in sys.modules


def cap_isa() -> None:
    """Cap oneDNN at AVX2 unless the user chose an ISA; remember whether MindSpore ran before (the cap could
    then come too late)."""
    _cap_state()
    os.environ.setdefault(ISA_VARIABLE, CAPPED_ISA)


def cpu_has_avx512(cpuinfo_path: str = CPUINFO_PATH) -> bool:
    """True when the CPU reports AVX-512 (Linux's /proc/cpuinfo; False where it cannot be read)."""
    try:
        with open(cpuinfo_path, encoding='ascii', errors='replace') as handle:
            return any(AVX512_FLAG in line.split() for line in handle if line.startswith('flags'))
    except OSError:
        return False


def cap_may_be_late() -> bool:
    """True when the zoo's cap may have come after oneDNN's first primitive (see the module docstring)."""
    user_chose, mindspore_first = _cap_state()
    return not user_chose and mindspore_first and cpu_has_avx512()


def onednn_library() -> Optional[str]:
    """The path of MindSpore's oneDNN 3 library (the one with the trap), or None in a release without it."""
    import mindspore as ms

    for name in ONEDNN_LIBRARIES:
        path = os.path.join(os.path.dirname(ms.__file__), 'lib', name)
        if os.path.isfile(path):
            return path
    return None


def effective_isa() -> Optional[int]:
    """oneDNN's `dnnl_get_effective_cpu_isa()` in MindSpore's own oneDNN 3 (fixed by its first primitive, or by
    this call), or None where the library (another oneDNN) or the function is missing."""
    library = onednn_library()
    if library is None:
        return None
    try:
        function = ctypes.CDLL(library).dnnl_get_effective_cpu_isa
    except (OSError, AttributeError):
        return None
    function.restype = ctypes.c_int
    return function()


@functools.lru_cache(maxsize=None)
def warn_if_convolutions_slow() -> bool:
    """Print one warning line (stderr) when this process's 3x3 convolutions run on oneDNN's reference kernel
    because the cap came too late; returns True when it warned. Checked once per process, on the CPU only."""
    import mindspore as ms

    if ms.get_context('device_target') != 'CPU' or not cap_may_be_late():
        return False
    isa = effective_isa()
    if isa is None or not isa & AVX512_CORE_BIT:
        return False
    print(f"warning: MindSpore ran a convolution before the zoo could cap oneDNN at {CAPPED_ISA}: on this AVX-512 CPU "
          f"3x3 convolutions now run on oneDNN's reference kernel, about 100x slower; {FIX}", file=sys.stderr)
    return True
