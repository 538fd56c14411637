"""HCCL's timeouts for the Ascend launchers (rank table, msrun, mpirun): long enough for a slow first compile.

Ranks meet in HCCL only after each has compiled its graph. HCCL's own connect timeout is 120 s (CANN;
MindSpore raises it to 600 s when unset); an 8-device graph compile of a large variant can take longer on a
busy host, and users see "HCCL connect timeout" at the first AllReduce. The launchers give every rank
`HCCL_TIMEOUTS` unless the user's environment sets a variable already (theirs wins). Values in seconds,
within CANN's ranges (connect: 120-7200; exec: 0-17340); docs/MINDSPORE_VERSIONS.md gives the sources.

Command line, for the shell launchers (prints `export NAME=VALUE` for each variable the environment lacks):
    python -m zoo_core.runtime.hccl_env
"""
import os
import shlex
import sys
from typing import Mapping

HCCL_TIMEOUTS = {
    'HCCL_CONNECT_TIMEOUT': 1800,   # building the communicators: waits for the slowest rank's compile
    'HCCL_EXEC_TIMEOUT': 3600,      # one collective waiting for a rank that is still compiling or loading data
}


def with_hccl_timeouts(environ: Mapping[str, str]) -> dict:
    """A copy of `environ` with each of `HCCL_TIMEOUTS` that it does not set."""
    merged = dict(environ)
    for name, seconds in HCCL_TIMEOUTS.items():
        merged.setdefault(name, str(seconds))
    return merged


def export_lines(environ: Mapping[str, str]) -> str:
    """The shell `export` lines of the timeouts that `environ` lacks."""
    return ''.join(f"export {name}={shlex.quote(str(seconds))}\n" for name, seconds in HCCL_TIMEOUTS.items()
                   if name not in environ)


if __name__ == '__main__':
    sys.stdout.write(export_lines(os.environ))
