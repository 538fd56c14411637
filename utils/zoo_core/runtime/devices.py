"""The device targets that MindSpore runs on, and selecting one with a clear error when this build lacks it."""
import re

import mindspore as ms

from zoo_core.runtime.errors import ZooError

DEVICE_TARGETS = ('CPU', 'GPU', 'Ascend')
MINDSPORE_INSTALL_URL = 'https://www.mindspore.cn/install'
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
    return (f"--device_target {target}: this MindSpore build has no {target} backend (it has: "
            f"{', '.join(available) or 'none'}); install a MindSpore build for {target} (see "
            f"{MINDSPORE_INSTALL_URL}){instead}")


def select_device(device_target, device_id=0):
    """`mindspore.set_device` for `device_target` (the id only matters off the CPU); a `DeviceUnavailableError`
    when this MindSpore build lacks the target."""
    try:
        if device_target == 'CPU':
            ms.set_device('CPU')
        else:
            ms.set_device(device_target, device_id)
    except RuntimeError as error:
        message = unavailable_device_message(str(error))
        if message is None:
            raise
        raise DeviceUnavailableError(message) from None
