"""Shared test setup: MindSpore on the CPU in PyNative mode, the repository root, optional reference packages."""
import importlib
import os
import pathlib

import mindspore as ms
import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]

ms.set_device('CPU')
ms.set_context(mode=ms.PYNATIVE_MODE)


def require(module_name):
    """Import a test-only reference package; skip without it locally, fail without it in CI."""
    if os.environ.get('CI'):
        return importlib.import_module(module_name)
    return pytest.importorskip(module_name)
