"""Run configuration: a parser of declared settings that knows no key of its own.

Each setting is declared once (`Setting`: name, default, help, where the default comes from), next to the
code that reads it; a model family assembles them and hands the parser a stack of `Layer`s, plain
mappings applied in order (the zoo's defaults <- the family recipe <- the network preset <- the demo
preset <- the `--config` file <- the `--key value` flags). The result knows, for every key, the layer
that set it (`--print_config`, and the comments of a run's `config.yaml`).

Every key can be overridden from the command line, with the type of its declaration: booleans accept
true/false/1/0/yes/no (so `--zero_init_last False` means False), lists and tuples take YAML syntax
(`--milestones [30,60]`). Unknown keys are errors, so a typo never passes silently.
"""
import argparse
import os
import textwrap
from dataclasses import dataclass, field, replace
from typing import Any, Collection, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import yaml
from easydict import EasyDict

from zoo_core.runtime.errors import ZooError

TRUE_WORDS = ('true', '1', 'yes', 'y', 'on')
FALSE_WORDS = ('false', '0', 'no', 'n', 'off')
EFFECTIVE_CONFIG_NAME = 'config.yaml'
# What PyYAML ends a document of one scalar with.
YAML_DOCUMENT_END = '...\n'
RECIPE_SUFFIXES = ('.yaml', '.yml')

HELP_WIDTH = 100


class ConfigError(ZooError):
    """A configuration value or file that cannot be used."""


def parse_bool(text: Any) -> bool:
    """'True'/'false'/'1'/'no'... -> bool; anything else is an error (never truthiness of a string)."""
    if isinstance(text, bool):
        return text
    word = str(text).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigError(f"expected a boolean (true/false), got {text!r}")


def coerce(key: str, text: Any, kind: type) -> Any:
    """Convert a command-line string to `kind`, a setting's type."""
    try:
        if kind is bool:
            return parse_bool(text)
        if kind in (int, float):
            return kind(text)
        if kind in (list, tuple):
            value = yaml.safe_load(text) if isinstance(text, str) else text
            if not isinstance(value, (list, tuple)):
                value = [value]
            return kind(value)
        return str(text)
    except (ValueError, yaml.YAMLError) as error:
        raise ConfigError(f"--{key}: {error}") from None


def read_yaml(path: str) -> Dict[str, Any]:
    """The mapping in a YAML config file; clear errors for a missing file or a non-mapping."""
    if not os.path.isfile(path):
        raise ConfigError(f"config file not found: {path}")
    with open(path, encoding='utf-8') as handle:
        try:
            data = yaml.safe_load(handle) or {}
        except yaml.YAMLError as error:
            raise ConfigError(f"config file {path} is not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of keys to values")
    return data


def resolve_config_path(name_or_path: str, directory: Optional[str] = None) -> str:
    """The YAML file that `--config name_or_path` means: an existing path, else the recipe file of that name
    (with or without its suffix) in `directory`, a model folder's `configs/`."""
    if os.path.isfile(name_or_path) or not directory:
        return name_or_path
    for candidate in [name_or_path] + [name_or_path + suffix for suffix in RECIPE_SUFFIXES]:
        path = os.path.join(directory, candidate)
        if os.path.isfile(path):
            return path
    names = sorted(os.path.splitext(f)[0] for f in os.listdir(directory) if f.endswith(RECIPE_SUFFIXES))
    raise ConfigError(f"config file not found: {name_or_path} is neither a file nor a recipe of {directory} "
                      f"({', '.join(names) or 'none'})")


# The default of a setting that every family recipe must give (e.g. `net`, `epochs`).
REQUIRED = object()
# The name of the layer of the declared defaults, and of the command line's.
DEFAULTS_LAYER = 'zoo default'
FLAGS_LAYER = 'flag'


@dataclass(frozen=True)
class Setting:
    """One recipe key, declared once beside the code that reads it.

    Args:
        name: the key (`--name` on the command line).
        default: the zoo's value, or `REQUIRED` (a family recipe gives it; then `kind` says the type).
        help: what `--help` says about it.
        source: where the default comes from: paper, timm, mindcv, torchvision, ModelZoo, zoo (ours).
        kind: the value's type (default: the default's).
        train, eval: whether train.py and eval.py read it (their `--help` lists only those; both
            accept every key, so that one run's flags and config.yaml can be reused).
        owner: the module that declares it (set by `declare`).
    """
    name: str
    default: Any
    help: str
    source: str
    kind: Optional[type] = None
    train: bool = True
    eval: bool = False
    owner: str = ''

    @property
    def type(self) -> type:
        """The type every value of this setting is converted to."""
        return self.kind or type(self.default)


def declare(owner: str, *settings: Setting) -> Tuple[Setting, ...]:
    """`settings` as declared by module `owner` (pass `__name__`)."""
    return tuple(replace(setting, owner=owner) for setting in settings)


def catalogue(*groups: Iterable[Setting]) -> Dict[str, Setting]:
    """{name: setting} of every group, in order; a name declared twice is a bug (ValueError)."""
    settings: Dict[str, Setting] = {}
    for setting in (setting for group in groups for setting in group):
        if setting.name in settings:
            raise ValueError(f"setting {setting.name!r} is declared in {settings[setting.name].owner} and "
                             f"{setting.owner}")
        settings[setting.name] = setting
    return settings


def declared_defaults(settings: Iterable[Setting]) -> Dict[str, Any]:
    """{name: default} of `settings` that have one."""
    return {setting.name: setting.default for setting in settings if setting.default is not REQUIRED}


@dataclass(frozen=True)
class Layer:
    """A named mapping of settings, one level of a run's configuration.

    `sources` says, per key, where the layer's value comes from (paper, timm, ...) when the layer is a
    published recipe; keys without one show the layer's name alone."""
    name: str
    values: Mapping[str, Any]
    sources: Mapping[str, str] = field(default_factory=dict)


def recipe_layer(name: str, *parts: Mapping[str, Tuple[Any, str]]) -> Layer:
    """A family recipe: `parts` map keys to (value, source) pairs; later parts win."""
    pairs = {key: pair for part in parts for key, pair in part.items()}
    return Layer(name, {key: value for key, (value, _) in pairs.items()},
                 {key: source for key, (_, source) in pairs.items()})


@dataclass(frozen=True)
class ResolvedConfig:
    """A run's effective settings and, for every key, who set it."""
    values: EasyDict
    set_by: Dict[str, str]

    def table(self) -> str:
        """`key  value  layer` lines, sorted by key: what `--print_config` prints."""
        rows = [('key', 'value', 'set by')]
        rows += [(key, repr(value), self.set_by[key]) for key, value in sorted(self.values.items())]
        widths = [max(len(row[column]) for row in rows) for column in (0, 1)]
        return '\n'.join(f'{key:<{widths[0]}}  {value:<{widths[1]}}  {origin}' for key, value, origin in rows)


def default_origin(setting: Setting) -> str:
    """How `--print_config` names a declared default: the layer, its declaration and its source."""
    return f'{DEFAULTS_LAYER} ({setting.owner}; {setting.source})'


def layer_origin(layer: Layer, key: str) -> str:
    """How `--print_config` names the layer that set `key`."""
    return f'{layer.name} ({layer.sources[key]})' if key in layer.sources else layer.name


def check_known(keys: Iterable[str], settings: Mapping[str, Any], source: str) -> None:
    """Raise for keys that no setting declares."""
    unknown = sorted(set(keys) - set(settings))
    if unknown:
        raise ConfigError(f"unknown config key(s) in {source}: {', '.join(unknown)}; "
                          f"known keys: {', '.join(sorted(settings))}")


def resolve(settings: Mapping[str, Setting], layers: Sequence[Layer]) -> ResolvedConfig:
    """The declared defaults with `layers` applied in order; string values are converted to each
    setting's type. A `REQUIRED` setting that no layer gives is a bug of the family (ValueError)."""
    values = EasyDict(declared_defaults(settings.values()))
    set_by = {name: default_origin(setting) for name, setting in settings.items()}
    for layer in layers:
        check_known(layer.values, settings, layer.name)
        for key, value in layer.values.items():
            kind = settings[key].type
            convert = isinstance(value, str) or kind in (list, tuple) or (kind is float and type(value) is int)
            values[key] = coerce(key, value, kind) if convert else value
            set_by[key] = layer_origin(layer, key)
    missing = sorted(set(settings) - set(values))
    if missing:
        raise ValueError(f"no layer gives the required setting(s) {', '.join(missing)}")
    return ResolvedConfig(values, set_by)


def flag_value(argv: List[str], key: str) -> Optional[str]:
    """The value of the last `--key value` or `--key=value` in `argv`, or None."""
    value = None
    for index, word in enumerate(argv):
        if word == f'--{key}' and index + 1 < len(argv):
            value = argv[index + 1]
        elif word.startswith(f'--{key}='):
            value = word.split('=', 1)[1]
    return value


@dataclass(frozen=True)
class CommandLine:
    """What `parse_flags` read: the flags given ({key: text}) and whether `--print_config` was asked for
    (the `--config` file is read before the parse, by `config_file_layer`)."""
    flags: Dict[str, str]
    print_config: bool


def parse_flags(argv: List[str], settings: Mapping[str, Setting], shown: ResolvedConfig,
                description: Optional[str] = None, listed_keys: Optional[Collection[str]] = None) -> CommandLine:
    """Parse `--key value` / `--key=value` flags of every setting, `--config` and `--print_config`.

    Args:
        shown: the values and layers that `--help` shows as each flag's default.
        description: what `--help` says above the flags (default: this module's description).
        listed_keys: the keys that `--help` lists (default: all); the others are accepted all the same.
    """
    paragraphs = (description or __doc__ or '').strip().split('\n\n')
    parser = argparse.ArgumentParser(description='\n\n'.join(textwrap.fill(p, HELP_WIDTH) for p in paragraphs),
                                     allow_abbrev=False, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--config', default=None,
                        help="YAML file of config overrides, or the name of a recipe in the model folder's configs/")
    parser.add_argument('--print_config', action='store_true',
                        help='print every setting of this command line, its value and the layer that set it '
                             '(the zoo default and its declaration, the family recipe, a preset, the --config '
                             'file or a flag), then exit')
    for key, setting in settings.items():
        listed = listed_keys is None or key in listed_keys
        text = (f'{setting.help}; default: {shown.values[key]!r} [{shown.set_by[key]}]' if listed
                else argparse.SUPPRESS)
        parser.add_argument(f'--{key}', default=None, metavar=setting.type.__name__.upper(), help=text)
    args = vars(parser.parse_args(argv))
    flags = {key: value for key, value in args.items() if key in settings and value is not None}
    return CommandLine(flags, args['print_config'])


def config_file_layer(argv: List[str], config_dir: Optional[str]) -> Optional[Layer]:
    """The `--config` file of `argv` as a layer (read before the full parse: the file decides what
    `--help` shows), or None."""
    name = flag_value(argv, 'config')
    if not name:
        return None
    path = resolve_config_path(name, config_dir)
    return Layer(f'config file {path}', read_yaml(path))


def save_config(config: Mapping[str, Any], directory: str, set_by: Optional[Mapping[str, str]] = None) -> str:
    """Write the effective config as YAML next to the run's checkpoints, each value followed by a comment
    naming the layer that set it (`set_by`); returns the file path. The file reads back as a plain
    mapping, so `--config` and eval take it as it is."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, EFFECTIVE_CONFIG_NAME)
    lines = []
    for key in sorted(config):
        value = list(config[key]) if isinstance(config[key], tuple) else config[key]
        text = yaml.safe_dump(value, default_flow_style=True, width=float('inf'))
        line = f"{key}: {text.removesuffix(YAML_DOCUMENT_END).strip()}"
        lines.append(f'{line}  # {set_by[key]}' if set_by and key in set_by else line)
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write('\n'.join(lines) + '\n')
    return path


def format_config(config: Mapping[str, Any]) -> str:
    """The config as aligned `key: value` lines, for the log."""
    width = max(len(k) for k in config)
    return '\n'.join(f'  {k:<{width}} : {config[k]!r}' for k in sorted(config))
