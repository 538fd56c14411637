"""The device targets that MindSpore runs on, and selecting one with a clear error when this build lacks it.

Command line, for the launch scripts (before anything starts):
    python -m zoo_core.runtime.devices check TARGET
exits 0 when this MindSpore build has TARGET's backend, else prints one line `error: ...` and exits 2.
"""
import argparse
import re
import sys

import mindspore as ms

from zoo_core.runtime.errors import ZooError, run_command
from zoo_core.runtime.config import Setting, declare

DEVICE_TARGETS = ('CPU', 'GPU', 'Ascend')
MINDSPORE_INSTALL_URL = 'https://www.mindspore.cn/install'
# What a GPU user must install (docs/DISTRIBUTED.md, "GPU builds"): MindSpore's release table lists a GPU (CUDA)
# build up to 2.2.14; 2.3.x was released for Ascend only, 2.4 and later for Ascend and CPU only.
GPU_BUILD_HINT = ('no MindSpore release after 2.2.14 has an official GPU (CUDA) build (2.3.x: Ascend only; '
                  '2.4 on: Ascend and CPU): install 2.2.14 ("unified" x86_64 wheel for CUDA 11.6, 11.1 or 10.1, '
                  'Python 3.7-3.9, from ms-release.obs.cn-north-4.myhuaweicloud.com), see docs/DISTRIBUTED.md '
                  '"GPU builds"')
# MindSpore's words when the wheel was built without a backend: "Unsupported device target GPU. This process
# only supports one of the ['CPU']. ..." (the PyPI wheel has the CPU backend only).
UNSUPPORTED_TARGET = re.compile(r"Unsupported device target (\w+)\. This process only supports one of the \[([^\]]*)\]")


class DeviceUnavailableError(ZooError):
    """A device target that this MindSpore build does not have."""


def unavailable_device_message(error_text):
    """The one-line explanation of MindSpore's 'Unsupported device target' error, or None for another error."""
    match = UNSUPPORTED_TARGET.search(error_text)
    if not match:
        return None
    target = match.group(1)
    available = [name.strip(" '\"") for name in match.group(2).split(',') if name.strip(" '\"")]
    instead = f", or pass --device_target {available[0]}" if available else ''
    install = (GPU_BUILD_HINT if target == 'GPU'
               else f"install a MindSpore build for {target} (see {MINDSPORE_INSTALL_URL})")
    return (f"--device_target {target}: this MindSpore build has no {target} backend (it has: "
            f"{', '.join(available) or 'none'}); {install}{instead}")


def select_device(device_target, device_id=0):
    """`mindspore.set_device` for `device_target` (the id only matters off the CPU; `set_context` on builds
    older than `set_device`); a `DeviceUnavailableError` when this MindSpore build lacks the target."""
    try:
        if not hasattr(ms, 'set_device'):  # builds before mindspore.set_device, such as the 2.2 GPU builds
            ms.set_context(device_target=device_target, device_id=device_id)
        elif device_target == 'CPU':
            ms.set_device('CPU')
        else:
            ms.set_device(device_target, device_id)
    except RuntimeError as error:
        message = unavailable_device_message(str(error))
        if message is None:
            raise
        raise DeviceUnavailableError(message) from None


def main(argv=None):
    """`check TARGET`: exit status 0 when this build has the target's backend, else 2 with one line."""
    parser = argparse.ArgumentParser(prog='python -m zoo_core.runtime.devices', description=__doc__.split('\n')[0])
    commands = parser.add_subparsers(dest='command', required=True)
    commands.add_parser('check', help="fail unless this MindSpore build has TARGET's backend").add_argument(
        'target', choices=DEVICE_TARGETS)
    args = parser.parse_args(argv)
    return run_command(select_device, args.target)


if __name__ == '__main__':
    sys.exit(main())


# The settings of where a command runs (declared here, assembled by zoo_core.engine.settings).
DEVICE_SETTINGS = declare(
    __name__,
    Setting('device_target', 'CPU', '`CPU`, `GPU` or `Ascend`', 'zoo', eval=True),
    Setting('device_id', 0, "device number (a launcher's `DEVICE_ID` wins)", 'ModelZoo', eval=True),
    Setting('mode', 'graph', '`graph` or `pynative`', 'ModelZoo', eval=True),
    Setting('dataset_sink_mode', 'auto', 'data sink: `auto` (off on CPU, on for GPU/Ascend), `on`, `off`', 'zoo'),
)
