"""HCCL's timeouts for the Ascend launchers (rank table, msrun, mpirun): long enough for a slow first compile.

Ranks meet in HCCL only after each has compiled its graph. HCCL's own connect timeout is 120 s (CANN;
MindSpore raises it to 600 s when unset); an 8-device graph compile of a large variant can take longer on a
busy host, and users see "HCCL connect timeout" at the first AllReduce. The launchers give every rank
`HCCL_TIMEOUTS` unless the user's environment sets a variable already (theirs wins). Values in seconds,
within CANN's range (connect: 120-7200); docs/MINDSPORE_VERSIONS.md gives the sources.

`HCCL_EXEC_TIMEOUT` is left to MindSpore, which sets 1800 s when it is unset (CANN: 1836 s): that already
outlasts a slow compile, and a larger value is outside CANN's range in the A2/A3 AIV expansion mode
(0-1091 s), where it could be refused.

Command line, for the shell launchers (prints `export NAME=VALUE` for each variable the environment lacks):
    python -m zoo_core.runtime.hccl_env
"""
import os
import shlex
import sys
from typing import Mapping

HCCL_TIMEOUTS = {
    'HCCL_CONNECT_TIMEOUT': 1800,   # building the communicators: waits for the slowest rank's compile
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
