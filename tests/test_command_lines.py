"""The command lines tell the truth: each entry point's `--help` lists its own flags and names its checkpoint
flag, and every command that the READMEs and docs show uses only flags that its entry point has: train.py,
eval.py and export.py against their parsers, the launch scripts against the entry point they pass flags to,
and every other script (`python ResNeSt50/postprocess.py`, `python utils/check_dataset.py`, ...) against
the flags its own `--help` prints. tests/test_readmes.py checks the rest of the model READMEs."""
import functools
import re

import pytest

from helpers import REPO_ROOT, run_script
from zoo_core.deploy.export import build_parser
from zoo_core.engine.evaluate import main as eval_main
from zoo_core.engine.train import main as train_main
from zoo_core.engine.settings import EVAL_KEYS, TRAIN_KEYS
from zoo_resnest.family import FAMILY as RESNEST
from zoo_resnext.family import FAMILY as RESNEXT

DOCUMENTS = ['README.md', 'README_CN.md', 'ResNeSt50/README.md', 'ResNeSt50/README_CN.md', 'ResNeXt50/README.md',
             'ResNeXt50/README_CN.md', *sorted(p.relative_to(REPO_ROOT).as_posix()
                                               for p in (REPO_ROOT / 'docs').glob('*.md'))]
FAMILIES = {'ResNeSt50': RESNEST, 'ResNeXt50': RESNEXT}
DEFAULT_MODEL_DIR = 'ResNeSt50'  # a command without a model folder (`python train.py ...`) runs in one of them
# The arguments of a command end at a comment, the end of a code span, or a shell operator.
ARGUMENTS = r'((?:[ \t]+[^\s#`|&;]+)*)'
PYTHON_COMMAND = re.compile(r'python[ \t]+(\S*?)\b(\w+)\.py' + ARGUMENTS)
ENTRY_POINTS = ('train', 'eval', 'export')  # their flags come from their parsers; other scripts' from --help
SCRIPT_COMMAND = re.compile(r'bash[ \t]+(\S*?)scripts/(run_\w+)\.sh' + ARGUMENTS)
# Spelled-out syntax, not a flag: `python train.py [--config f.yaml] [--key value ...]`.
PLACEHOLDER_FLAGS = {'key'}
MIN_DOCUMENTED_COMMANDS = 40  # the extraction must keep finding the READMEs' commands


def documented_text(path):
    """A document's text with shell line continuations joined."""
    return (REPO_ROOT / path).read_text(encoding='utf-8').replace('\\\n', ' ')


def model_dir_of(prefix, arguments, document):
    """The model folder a command runs in: its path's, a shared script's first argument, or, for a command
    without a folder (`bash scripts/run_train.sh`), the folder of the model README that shows it."""
    for name in FAMILIES:
        if name in prefix or (prefix.startswith('utils/') and arguments[:1] == [name]):
            return name
    folder = document.split('/')[0]
    return folder if folder in FAMILIES else DEFAULT_MODEL_DIR


def entry_point_of_script(script):
    """The entry point that a launch script passes its `--key value` flags to (None: it takes no flags)."""
    if 'train' in script:
        return 'train'
    return 'eval' if 'eval' in script else None


def documented_commands():
    """(document, command text, model folder, entry point or None, flags) of every documented command."""
    commands = []
    for document in DOCUMENTS:
        text = documented_text(document)
        for match in PYTHON_COMMAND.finditer(text):
            prefix, name, arguments = match.group(1), match.group(2), match.group(3).split()
            model_dir = model_dir_of(prefix, arguments, document)
            entry_point = name if name in ENTRY_POINTS else script_path(prefix, name, model_dir)
            commands.append((document, match.group(0), model_dir, entry_point, flags_of(arguments)))
        for match in SCRIPT_COMMAND.finditer(text):
            arguments = match.group(3).split()
            commands.append((document, match.group(0), model_dir_of(match.group(1), arguments, document),
                             entry_point_of_script(match.group(2)), flags_of(arguments)))
    return commands


def script_path(prefix, name, model_dir):
    """The repository path of a documented script other than an entry point: `utils/check_dataset.py` as
    written, `postprocess.py` without a folder in the model folder a command without one runs in."""
    return f'{prefix}{name}.py' if prefix else f'{model_dir}/{name}.py'


@functools.lru_cache(maxsize=None)
def help_flags(script):
    """The flag names (without `--`) that `python script --help` prints."""
    result = run_script(REPO_ROOT / script, '--help', cwd=REPO_ROOT)
    assert result.returncode == 0, f"{script} --help failed: {result.stderr[-400:]}"
    return set(re.findall(r'(?<![\w-])--([\w-]+)', result.stdout))


def flags_of(arguments):
    """The flag names (without `--`) among a command's arguments, placeholders left out."""
    names = {argument.strip('[]').split('=')[0][2:] for argument in arguments if argument.strip('[').startswith('--')}
    return names - PLACEHOLDER_FLAGS


def known_flags(model_dir, entry_point):
    """The flags an entry point of a model folder takes (a launch script without flags: none)."""
    family = FAMILIES[model_dir]
    if entry_point == 'train':
        return {'config', 'help', 'print_config'} | set(TRAIN_KEYS)
    if entry_point == 'eval':
        return {'config', 'help', 'print_config'} | set(EVAL_KEYS)
    if entry_point == 'export':
        return {option[2:] for option in build_parser(family)._option_string_actions if option.startswith('--')}
    if entry_point is None:
        return set()
    return help_flags(entry_point)


COMMANDS = documented_commands()


def parameter_id(value):
    """A test id part that is the same in every process (a set's own order follows the hash seed, and
    pytest-xdist's workers must collect the same ids)."""
    return ','.join(sorted(value)) if isinstance(value, (set, frozenset)) else str(value)[:60]


def test_the_documents_commands_are_found():
    assert len(COMMANDS) >= MIN_DOCUMENTED_COMMANDS
    entry_points = {entry for *_, entry, _ in COMMANDS}
    assert {'train', 'eval', 'export', None} < entry_points
    assert {'ResNeSt50/postprocess.py', 'utils/check_dataset.py'} <= entry_points


@pytest.mark.parametrize('document, command, model_dir, entry_point, flags', COMMANDS,
                         ids=[f'{c[0]}:{c[1][:60]}' for c in COMMANDS])
def test_a_documented_command_uses_only_flags_its_entry_point_has(document, command, model_dir, entry_point, flags):
    unknown = flags - known_flags(model_dir, entry_point) if flags else set()  # a script's --help runs only if needed
    assert not unknown, f"{document}: `{command}` uses {', '.join(sorted(unknown))}, which {entry_point} lacks"


@pytest.mark.parametrize('document, command, model_dir, entry_point, flags',
                         [c for c in COMMANDS if c[1].startswith('bash')], ids=parameter_id)
def test_a_documented_script_exists(document, command, model_dir, entry_point, flags):
    script = command.split()[1]
    in_model_dir = not script.startswith(('utils/', *FAMILIES))  # `scripts/run_x.sh` of a model README
    path = REPO_ROOT / model_dir / script if in_model_dir else REPO_ROOT / script
    assert path.is_file(), f"{document}: {script} does not exist"


@pytest.mark.parametrize('document, command, model_dir, entry_point, flags',
                         [c for c in COMMANDS if c[3] not in (*ENTRY_POINTS, None)], ids=parameter_id)
def test_a_documented_python_script_exists(document, command, model_dir, entry_point, flags):
    assert (REPO_ROOT / entry_point).is_file(), f"{document}: `{command}` runs {entry_point}, which does not exist"


def help_of(main, capsys):
    """What `main(FAMILY, ['--help'])` prints."""
    with pytest.raises(SystemExit) as exited:
        main(RESNEST, ['--help'])
    assert exited.value.code == 0
    return capsys.readouterr().out


def test_train_help_names_its_checkpoint_flags_and_no_eval_flag(capsys):
    text = help_of(train_main, capsys)
    words = ' '.join(text.split())  # the description is wrapped
    assert '--resume auto continues the run' in words and '--pretrained FILE starts from weights' in words
    assert '--ckpt_path' not in text
    assert '--amp False' not in text and '--epochs INT' in text


def test_eval_help_names_the_checkpoint_flag_and_lists_no_training_flag(capsys):
    text = help_of(eval_main, capsys)
    assert '--ckpt_path CKPT_OR_DIR' in text and '--ckpt_path STR' in text
    for training_flag in ('--epochs', '--base_lr', '--mixup', '--resume', '--warmup_epochs'):
        assert training_flag not in text


def test_eval_accepts_a_training_flag_it_does_not_list():
    config = RESNEST.get_config(['--ckpt_path', 'x.ckpt', '--mixup', '0'], listed_keys=EVAL_KEYS)
    assert config.ckpt_path == 'x.ckpt'


def test_export_takes_the_checkpoint_as_ckpt_path_and_the_modelzoo_ckpt_file_as_its_alias():
    parser = build_parser(RESNEST)
    assert parser.parse_args(['--ckpt_path', 'a.ckpt']).ckpt_path == 'a.ckpt'
    assert parser.parse_args(['--ckpt_file', 'a.ckpt']).ckpt_path == 'a.ckpt'
    assert '--ckpt_path CKPT' in parser.format_help()
