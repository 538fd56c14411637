"""The device targets that MindSpore runs on."""

DEVICE_TARGETS = ('CPU', 'GPU', 'Ascend')
