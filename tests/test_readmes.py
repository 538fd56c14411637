"""The model READMEs tell the truth about the code beside them.

Each model folder's README.md and README_CN.md (the MindSpore ModelZoo's sections) must: list in their
file tree only files that exist, and every file the folder tracks, with the card modules that are aliases
of the shared engine named as such; give every recipe key in the parameter table with its actual default
(a key added or a default changed without the README fails here), with *eval* on exactly the keys that
evaluation reads; name no `--flag` that none of the model's entry points has (the commands they show are
checked flag by flag against their own entry point by tests/test_command_lines.py, whose extraction this
file reuses); and, English and Chinese, have the same sections, numbers and code. The root README and
README_CN must have the same sections and numbers too, and link each model README.
"""
import ast
import collections
import pathlib
import re
import subprocess

import pytest

from helpers import CARD_ALIASES, REPO_ROOT
from test_command_lines import COMMANDS, ENTRY_POINTS, PLACEHOLDER_FLAGS, known_flags
from zoo_core.data.demo_data import DEFAULT_DEMO_DIR
from zoo_core.engine.settings import EVAL_KEYS
from zoo_resnest.family import FAMILY as RESNEST
from zoo_resnext.family import FAMILY as RESNEXT

FAMILIES = {'ResNeSt50': RESNEST, 'ResNeXt50': RESNEXT}
LANGUAGES = ('README.md', 'README_CN.md')
READMES = [(model_dir, name) for model_dir in FAMILIES for name in LANGUAGES]
FENCE = '```'
# A row of the parameter table: | `key` | `default` | meaning | source |
PARAMETER_ROW = re.compile(r'^\| `(\w+)` \| `([^`]*)` \|(.*)\|(.*)\|\s*$')
EVAL_MARK = '*eval*'
# A line of the file tree: the drawing characters, then the name, then what it is.
TREE_ENTRY = re.compile(r'^((?:[│ ] {3})*)[├└]── (\S+)(.*)$')
TREE_INDENT = 4
# Numbers as a reader reads them: 27,483,240 / 0.025 / 81.03 / 2004.08955 (a leading minus is not kept).
NUMBER = re.compile(r'\d+(?:[.,]\d+)*')
# The ModelZoo's model README sections, in order, as its readers search for them in each language.
MODELZOO_SECTIONS = {
    'README.md': ('Contents', 'description', 'Model architecture', 'Dataset', 'Features', 'Mixed precision',
                  'Environment requirements', 'Script description', 'Script and sample code',
                  'Script parameters', 'Training process', 'Evaluation process', 'Inference process',
                  'Export MindIR', 'Model description', 'Performance', 'Training performance',
                  'Inference performance', 'Description of random situation', 'ModelZoo homepage'),
    'README_CN.md': ('目录', '说明', '模型架构', '数据集', '特性', '混合精度', '环境要求', '脚本说明', '脚本及样例代码',
                     '脚本参数', '训练过程', '评估过程', '推理过程', '模型导出', '模型描述', '性能', '训练性能', '推理性能',
                     '随机情况说明', 'ModelZoo主页'),
}


def readme_text(model_dir, name):
    return (REPO_ROOT / model_dir / name).read_text(encoding='utf-8')


def prose_lines(text):
    """The lines of a Markdown text outside code fences."""
    inside = False
    for line in text.splitlines():
        if line.startswith(FENCE):
            inside = not inside
            continue
        if not inside:
            yield line


def code_blocks(text):
    """The contents (list of lines) of every fenced code block."""
    blocks, current = [], None
    for line in text.splitlines():
        if line.startswith(FENCE):
            if current is None:
                current = []
            else:
                blocks.append(current)
                current = None
        elif current is not None:
            current.append(line)
    return blocks


def heading_levels(text):
    """The level (number of #) of every heading, in order."""
    return [len(line) - len(line.lstrip('#')) for line in prose_lines(text) if re.match(r'#{1,6} ', line)]


def file_tree(model_dir, text):
    """{path relative to the model folder: the rest of its line} of the README's tree of `model_dir/`."""
    tree = next((block for block in code_blocks(text) if block and block[0] == f'{model_dir}/'), None)
    assert tree is not None, f"{model_dir}: no file tree (a code block starting with '{model_dir}/')"
    entries, parents = {}, []
    for line in tree[1:]:
        match = TREE_ENTRY.match(line)
        assert match, f"{model_dir}: not a tree line: {line!r}"
        depth = len(match.group(1)) // TREE_INDENT
        parents[depth:] = [match.group(2)]
        entries[''.join(parents)] = match.group(3).strip()
    return entries


def tracked_files(model_dir):
    """The files git tracks in `model_dir`, relative to it."""
    try:
        listing = subprocess.run(['git', 'ls-files', model_dir], cwd=REPO_ROOT, capture_output=True, text=True,
                                 check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip('not a git checkout: the tracked files are unknown')
    return {path[len(model_dir) + 1:] for path in listing.splitlines()}


def parameter_table(text):
    """{key: (default as written, meaning, source)} of the parameter table."""
    rows = {}
    for line in prose_lines(text):
        match = PARAMETER_ROW.match(line)
        if match:
            key = match.group(1)
            assert key not in rows, f"{key} is listed twice"
            rows[key] = (match.group(2), match.group(3).strip(), match.group(4).strip())
    return rows


def numbers(text):
    """How often each number occurs in a text."""
    return collections.Counter(NUMBER.findall(text))


@pytest.mark.parametrize('model_dir, name', READMES)
def test_every_file_of_the_tree_exists(model_dir, name):
    missing = [path for path in file_tree(model_dir, readme_text(model_dir, name))
               if not (REPO_ROOT / model_dir / path).exists()]
    assert not missing, f"{model_dir}/{name} lists files that do not exist: {missing}"


@pytest.mark.parametrize('model_dir, name', READMES)
def test_the_tree_lists_every_file_of_the_folder(model_dir, name):
    listed = set(file_tree(model_dir, readme_text(model_dir, name)))
    unlisted = sorted(tracked_files(model_dir) - listed)
    assert not unlisted, f"{model_dir}/{name}: the file tree lacks {unlisted}"


@pytest.mark.parametrize('model_dir, name', READMES)
def test_the_tree_says_which_card_modules_are_aliases_of_the_shared_engine(model_dir, name):
    tree = file_tree(model_dir, readme_text(model_dir, name))
    for card_module, _, shared in CARD_ALIASES:
        path = 'src/' + card_module.replace('.', '/') + '.py'
        assert shared in tree[path], f"{model_dir}/{name}: the tree line of {path} does not name {shared}"


@pytest.mark.parametrize('model_dir, name', READMES)
def test_the_parameter_table_lists_every_recipe_key_with_its_default(model_dir, name):
    recipe = FAMILIES[model_dir].recipe
    table = parameter_table(readme_text(model_dir, name))
    assert set(table) == set(recipe), (f"{model_dir}/{name}: keys missing from the table: "
                                       f"{sorted(set(recipe) - set(table))}; not in the recipe: "
                                       f"{sorted(set(table) - set(recipe))}")
    wrong = {key: (written, recipe[key]) for key, (written, _, _) in table.items()
             if ast.literal_eval(written) != recipe[key] or type(ast.literal_eval(written)) is not type(recipe[key])}
    assert not wrong, f"{model_dir}/{name}: defaults as written vs. the recipe's: {wrong}"


@pytest.mark.parametrize('model_dir, name', READMES)
def test_the_parameter_tables_source_is_the_declarations_or_the_family_recipes(model_dir, name):
    family = FAMILIES[model_dir]
    table = parameter_table(readme_text(model_dir, name))
    declared = {key: family.recipe_layer.sources.get(key, setting.source) for key, setting in family.settings.items()}
    wrong = {key: (source, declared[key]) for key, (_, _, source) in table.items() if source != declared[key]}
    assert not wrong, f"{model_dir}/{name}: source as written vs. as declared: {wrong}"


@pytest.mark.parametrize('model_dir, name', READMES)
def test_every_parameter_has_a_meaning_and_a_source_and_eval_marks_the_keys_eval_reads(model_dir, name):
    table = parameter_table(readme_text(model_dir, name))
    assert all(meaning and source for _, meaning, source in table.values())
    marked = {key for key, (_, meaning, _) in table.items() if EVAL_MARK in meaning}
    assert marked == set(EVAL_KEYS), f"{model_dir}/{name}: *eval* marks {sorted(marked ^ set(EVAL_KEYS))} wrongly"


@pytest.mark.parametrize('model_dir, name', READMES)
def test_every_flag_the_readme_names_is_a_flag_of_one_of_its_entry_points(model_dir, name):
    document = f'{model_dir}/{name}'
    shown = set(re.findall(r'(?<![\w-])--([a-z][\w-]*)', readme_text(model_dir, name))) - PLACEHOLDER_FLAGS
    entry_points = set(ENTRY_POINTS) | {entry for doc, _, _, entry, _ in COMMANDS if doc == document and entry}
    known = set().union(*(known_flags(model_dir, entry) for entry in entry_points))
    assert not shown - known, f"{document} names flags that no entry point has: {sorted(shown - known)}"


@pytest.mark.parametrize('model_dir', [*FAMILIES, '.'])
def test_english_and_chinese_have_the_same_sections(model_dir):
    english, chinese = (heading_levels(readme_text(model_dir, name)) for name in LANGUAGES)
    assert english == chinese, f"{model_dir}: heading levels differ: {english} vs {chinese}"


@pytest.mark.parametrize('model_dir', [*FAMILIES, '.'])
def test_english_and_chinese_have_the_same_numbers(model_dir):
    english, chinese = (numbers(readme_text(model_dir, name)) for name in LANGUAGES)
    assert english == chinese, (f"{model_dir}: only in README.md: {dict(english - chinese)}; "
                                f"only in README_CN.md: {dict(chinese - english)}")


def code_skeleton(block):
    """A code block without what a translation changes: a tree line's description, a command's comment."""
    skeleton = []
    for line in block:
        tree_line = TREE_ENTRY.match(line)
        skeleton.append(tree_line.group(2) if tree_line else re.split(r'(?:^|\s+)#', line)[0].rstrip())
    return skeleton


@pytest.mark.parametrize('model_dir', FAMILIES)
def test_english_and_chinese_show_the_same_code(model_dir):
    english, chinese = ([code_skeleton(block) for block in code_blocks(readme_text(model_dir, name))]
                        for name in LANGUAGES)
    assert english == chinese, f"{model_dir}: the code blocks of README.md and README_CN.md differ"


@pytest.mark.parametrize('model_dir, name', READMES)
def test_the_modelzoo_sections_are_there_in_order(model_dir, name):
    headings = [line.lstrip('#').strip() for line in prose_lines(readme_text(model_dir, name))
                if re.match(r'#{1,6} ', line)]
    position = 0
    for section in MODELZOO_SECTIONS[name]:
        found = [index for index, heading in enumerate(headings) if index >= position and section in heading]
        assert found, f"{model_dir}/{name}: no section {section!r} after {headings[position - 1]!r}"
        position = found[0] + 1


def test_the_demo_dataset_is_generated_where_the_readmes_say():
    assert pathlib.Path(DEFAULT_DEMO_DIR) == REPO_ROOT / 'demo_data' / 'shapes10'
    for model_dir, name in READMES:
        assert '`demo_data/shapes10`' in readme_text(model_dir, name)


@pytest.mark.parametrize('name', LANGUAGES)
def test_the_root_readme_links_each_model_readme_in_both_languages(name):
    text = readme_text('.', name)
    for model_dir in FAMILIES:
        for language in LANGUAGES:
            assert f'({model_dir}/{language})' in text, f"{name} does not link {model_dir}/{language}"
