"""The static type check of the public API: `python -m mypy` from the repository root, configured in
pyproject.toml's `[tool.mypy]` (the modules it checks, `disallow_untyped_defs`), passes; and that check can
fail."""
import subprocess
import sys

from helpers import REPO_ROOT, require

# A run without cache analyses the checked modules and what they import: about 2 s.
MYPY_TIMEOUT_S = 600


def run_mypy(cache_dir, *files):
    """`python -m mypy [files]` from the repository root with its cache in `cache_dir`; the completed process,
    stdout and stderr merged."""
    require('mypy')
    return subprocess.run([sys.executable, '-m', 'mypy', '--cache-dir', str(cache_dir), *map(str, files)],
                          cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=MYPY_TIMEOUT_S)


def test_the_public_api_passes_the_type_check(tmp_path):
    result = run_mypy(tmp_path / 'mypy_cache')
    assert result.returncode == 0, f"mypy exited with {result.returncode}:\n{result.stdout}"


def test_the_type_check_fails_on_an_untyped_function_and_a_type_error(tmp_path):
    module = tmp_path / 'badly_typed.py'
    module.write_text("def f(x):\n    return x\n\n\ny: int = 'a'\n", encoding='utf-8')
    result = run_mypy(tmp_path / 'mypy_cache', module)
    assert result.returncode != 0, result.stdout
    assert 'badly_typed.py:1: error: Function is missing a type annotation' in result.stdout, result.stdout
    assert 'badly_typed.py:5: error: Incompatible types in assignment' in result.stdout, result.stdout
