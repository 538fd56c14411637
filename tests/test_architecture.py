"""The shape of the code: the engine's layering, no import circle, the card's modules in each model folder."""
import ast
import importlib

import pytest

from helpers import CARD_ALIASES, REPO_ROOT

ENGINE_ROOT = REPO_ROOT / 'utils' / 'zoo_core'
MODEL_PACKAGES = {'zoo_resnest': REPO_ROOT / 'ResNeSt50' / 'src', 'zoo_resnext': REPO_ROOT / 'ResNeXt50' / 'src'}
# zoo_core's sub-packages, lowest first: a module may import its own sub-package and those before it.
LAYERS = ('runtime', 'models', 'weights', 'data', 'optim', 'engine', 'deploy')
# Where a ModelZoo reader looks for them (the model card's layout), in both model folders.
CARD_MODULES = ('config', 'family', 'models', 'models.resnet', 'datasets', 'datasets.autoaug', 'crossentropy',
                'logging', 'eval_callback')


def module_name(path, root, package):
    """`package.sub.module` of the source file `path` under the package folder `root`."""
    parts = list(path.relative_to(root).with_suffix('').parts)
    if parts[-1] == '__init__':
        parts.pop()
    return '.'.join([package] + parts)


def imported_modules(path, name):
    """The absolute names of the modules that the source file `path` (module `name`) imports."""
    package = name if path.name == '__init__.py' else name.rpartition('.')[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                anchor = package.split('.')[:len(package.split('.')) - node.level + 1]
                base = '.'.join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f'{base}.{alias.name}' for alias in node.names)
    return found


def import_graph():
    """Module -> the zoo modules it imports, for the engine and both model packages."""
    sources = {'zoo_core': ENGINE_ROOT, **MODEL_PACKAGES}
    modules = {module_name(path, root, package): path
               for package, root in sources.items() for path in root.rglob('*.py')}
    return {name: {imported for imported in imported_modules(path, name) if imported in modules}
            for name, path in modules.items()}


def sub_package(module):
    """The zoo_core sub-package of an engine module ('' for zoo_core itself)."""
    parts = module.split('.')
    return parts[1] if len(parts) > 1 else ''


def test_the_engine_never_imports_a_model_package():
    offenders = {module: sorted(i for i in imports if not i.startswith('zoo_core'))
                 for module, imports in import_graph().items() if module.startswith('zoo_core')}
    assert {m: i for m, i in offenders.items() if i} == {}


def test_no_engine_module_imports_a_higher_layer():
    upward = []
    for module, imports in import_graph().items():
        if not module.startswith('zoo_core.') or sub_package(module) not in LAYERS:
            continue
        level = LAYERS.index(sub_package(module))
        upward += [(module, i) for i in imports
                   if i.startswith('zoo_core.') and LAYERS.index(sub_package(i)) > level]
    assert upward == []


def test_every_engine_module_lives_in_a_sub_package():
    loose = [p.name for p in ENGINE_ROOT.glob('*.py') if p.name != '__init__.py']
    assert loose == [] and sorted(p.name for p in ENGINE_ROOT.iterdir() if (p / '__init__.py').is_file()) == \
        sorted(LAYERS)


def test_no_module_imports_in_a_circle():
    graph = import_graph()
    state = {}

    def visit(module, path):
        state[module] = 'open'
        for imported in graph[module]:
            if state.get(imported) == 'open':
                pytest.fail(f"import circle: {' -> '.join(path + [imported])}")
            if imported not in state:
                visit(imported, path + [imported])
        state[module] = 'done'

    for module in graph:
        if module not in state:
            visit(module, [module])


@pytest.mark.parametrize('package', sorted(MODEL_PACKAGES))
@pytest.mark.parametrize('card_module', CARD_MODULES)
def test_the_cards_modules_exist_in_each_model_folder(package, card_module):
    importlib.import_module(f'{package}.{card_module}')


@pytest.mark.parametrize('package', sorted(MODEL_PACKAGES))
@pytest.mark.parametrize('card_module, name, shared', CARD_ALIASES)
def test_a_card_module_without_code_of_its_own_is_the_shared_module(package, card_module, name, shared):
    alias = importlib.import_module(f'{package}.{card_module}')
    assert getattr(alias, name) is getattr(importlib.import_module(shared), name)
    assert alias.__doc__ and shared in alias.__doc__


@pytest.mark.parametrize('package', sorted(MODEL_PACKAGES))
def test_the_recipe_takes_its_data_keys_from_the_models_data_recipe(package):
    recipe = importlib.import_module(f'{package}.config').RECIPE
    data_recipe = importlib.import_module(f'{package}.datasets').DATA_RECIPE
    assert {key: recipe[key] for key in data_recipe} == {key: value for key, (value, _) in data_recipe.items()}


@pytest.mark.parametrize('package', sorted(MODEL_PACKAGES))
def test_every_entry_point_hands_the_family_to_the_engine(package):
    folder = MODEL_PACKAGES[package].parent
    for entry in ('train.py', 'eval.py', 'predict.py', 'export.py', 'postprocess.py', 'create_imagenet2012_label.py'):
        tree = ast.parse((folder / entry).read_text(encoding='utf-8'))
        calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
                 and any(isinstance(arg, ast.Name) and arg.id == 'FAMILY' for arg in node.args)]
        assert len(calls) == 1, entry


# Functions that take a list of values as *args: their calls pass any number by position.
VARIADIC_CALLEES = {'declare', 'catalogue', 'zip', 'min', 'max', 'print', 'logger.info'}
MOST_POSITIONAL_ARGUMENTS = 4


def test_no_call_passes_more_than_four_arguments_by_position():
    """Past four, a call names its arguments (`make_stage(block, in_channels=..., ...)`)."""
    roots = [ENGINE_ROOT, *MODEL_PACKAGES.values(), REPO_ROOT / 'benchmarks']
    scripts = [path for folder in MODEL_PACKAGES.values() for path in folder.parent.glob('*.py')]
    crowded = []
    for path in [p for root in roots for p in root.rglob('*.py')] + scripts:
        for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
            if (isinstance(node, ast.Call) and len(node.args) > MOST_POSITIONAL_ARGUMENTS
                    and ast.unparse(node.func) not in VARIADIC_CALLEES):
                crowded.append(f'{path.relative_to(REPO_ROOT)}:{node.lineno} {ast.unparse(node.func)}')
    assert not crowded, crowded
