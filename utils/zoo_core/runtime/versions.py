"""Which MindSpore releases the zoo is tested on, and the one line it prints on another.

Tested: `TESTED_MINDSPORE` (README "MindSpore versions"; CI runs the suite on the newest and the fast tier
with an end-to-end run on the oldest). The version is read from the installed package's metadata, so the
check costs no MindSpore import; `zoo_core` announces it once when it is imported, before any command.
"""
import functools
import importlib.metadata
import re
import sys
from typing import Optional, Tuple

# The releases the suite ran on (inclusive, by major.minor.patch): 2.7.0 ... 2.10.x.
TESTED_MINDSPORE = ((2, 7, 0), (2, 10))
VERSIONS_TABLE = 'README.md, "MindSpore versions"'
RELEASE = re.compile(r'^(\d+)\.(\d+)(?:\.(\d+))?')


def installed_mindspore() -> Optional[str]:
    """The installed MindSpore's version string, or None when it is not installed."""
    try:
        return importlib.metadata.version('mindspore')
    except importlib.metadata.PackageNotFoundError:
        return None


def release_of(version: str) -> Optional[Tuple[int, int, int]]:
    """(major, minor, patch) of a version string such as '2.10.0', '2.7.1.post1' or '2.8.0rc1'; None if unreadable."""
    match = RELEASE.match(version)
    if not match:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


def is_tested_release(version: str) -> bool:
    """True for a MindSpore release in `TESTED_MINDSPORE`."""
    release = release_of(version)
    oldest, newest = TESTED_MINDSPORE
    return release is not None and oldest <= release and release[:2] <= newest


def mindspore_version_notice(version: Optional[str]) -> Optional[str]:
    """The one line to print for MindSpore `version` (None when it is tested, or not installed)."""
    if version is None or is_tested_release(version):
        return None
    oldest, newest = TESTED_MINDSPORE
    return (f"note: MindSpore {version} is outside the range this zoo is tested on ({'.'.join(map(str, oldest))} to "
            f"{'.'.join(map(str, newest))}.x); see {VERSIONS_TABLE} for what each release supports")


@functools.lru_cache(maxsize=None)
def announce_untested_mindspore() -> None:
    """Print the installed MindSpore's `mindspore_version_notice` on stderr, once per process."""
    notice = mindspore_version_notice(installed_mindspore())
    if notice:
        print(notice, file=sys.stderr)
