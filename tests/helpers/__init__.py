"""Helpers shared by the tests: the repository root, optional reference packages, running scripts.

Tests import this package as `helpers` (pytest puts `tests/` on the path); `conftest.py` only sets
MindSpore up and defines fixtures.
"""
import importlib
import os
import pathlib
import subprocess
import sys

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
# Card modules of the model folders that are aliases of the shared engine: (module, name, the shared module
# that defines it). tests/test_architecture.py checks the aliasing, tests/test_readmes.py the READMEs' trees.
CARD_ALIASES = (('crossentropy', 'CrossEntropySmooth', 'zoo_core.engine.crossentropy'),
                ('logging', 'get_logger', 'zoo_core.runtime.logging'),
                ('eval_callback', 'EvalCallback', 'zoo_core.engine.eval_callback'),
                ('datasets.autoaug', 'augmentation_ops', 'zoo_core.data.autoaug'))
# A script that hangs must fail its test, not the whole run.
DEFAULT_SCRIPT_TIMEOUT_S = 900


def require(module_name):
    """Import a test-only reference package; skip without it locally, fail without it in CI."""
    if os.environ.get('CI'):
        return importlib.import_module(module_name)
    return pytest.importorskip(module_name)


def script_command(script, *args):
    """The command that runs `script` with `args`: `.sh` through bash, `.py` through this interpreter,
    a `-m module` or `-c code` through this interpreter, anything else as it is."""
    script = str(script)
    if script.endswith('.sh'):
        return ['bash', script, *map(str, args)]
    if script.endswith('.py') or script in ('-m', '-c'):
        return [sys.executable, script, *map(str, args)]
    return [script, *map(str, args)]


def run_script(script, *args, cwd=None, env=None, timeout=DEFAULT_SCRIPT_TIMEOUT_S, merge_output=False,
               check=False):
    """Run `script` (see `script_command`) in a subprocess; returns the `CompletedProcess` with text
    output (stderr folded into stdout with `merge_output`). `env` replaces the environment."""
    return subprocess.run(script_command(script, *args), cwd=cwd, env=env, timeout=timeout, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT if merge_output else subprocess.PIPE,
                          check=check)
