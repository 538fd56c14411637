"""The recipe files shipped in a model folder's `configs/` (`--config NAME` finds them:
`zoo_core.runtime.config.resolve_config_path`).

Each shipped file opens with a header of `# key: text` lines (`HEADER_KEYS`): where the recipe comes
from, the hardware it expects and the accuracy it should give.
"""
import os

from zoo_core.runtime.config import RECIPE_SUFFIXES

HEADER_KEYS = ('source', 'hardware', 'expected')


def shipped_recipes(directory):
    """{name: path} of the recipe files in `directory` (name: the file name without suffix), sorted."""
    if not directory or not os.path.isdir(directory):
        return {}
    files = sorted(f for f in os.listdir(directory) if f.endswith(RECIPE_SUFFIXES))
    return {os.path.splitext(f)[0]: os.path.join(directory, f) for f in files}


def recipe_header(path):
    """{key: text} of the `# key: text` lines (keys of `HEADER_KEYS`) that open a recipe file."""
    header = {}
    with open(path, encoding='utf-8') as handle:
        for line in handle:
            if not line.startswith('#'):
                break
            key, _, text = line[1:].strip().partition(':')
            if key in HEADER_KEYS:
                header[key] = text.strip()
    return header
