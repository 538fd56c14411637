"""Shared test set-up: MindSpore on the CPU in PyNative mode, and the fixtures every test file may use.

Helpers (the repository root, reference packages, the reference networks) are in the `helpers` package.
"""
import mindspore as ms
import pytest

from helpers import run_script as run_script_in_subprocess

ms.set_device('CPU')
ms.set_context(mode=ms.PYNATIVE_MODE)


@pytest.fixture
def run_script(tmp_path):
    """The one way a test runs a script: `run_script(script, *args, cwd=..., env=..., ...)` in a subprocess
    (`helpers.run_script`), in the test's temporary folder unless `cwd` is given."""
    def run(script, *args, cwd=None, **options):
        return run_script_in_subprocess(script, *args, cwd=cwd or tmp_path, **options)
    return run
