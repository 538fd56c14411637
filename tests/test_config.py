"""Run configuration: recipe <- presets <- YAML <- flags, typed parsing, clear errors."""
import re

import pytest
import yaml

from zoo_core.runtime.config import ConfigError, parse_bool, save_config
from zoo_resnest.family import FAMILY as RESNEST
from zoo_resnext.family import FAMILY as RESNEXT

resnest_config = RESNEST.get_config
resnext_config = RESNEXT.get_config


@pytest.mark.parametrize('text, expected', [('False', False), ('false', False), ('0', False), ('no', False),
                                            ('True', True), ('1', True), ('yes', True)])
def test_booleans_parse_as_booleans(text, expected):
    assert parse_bool(text) is expected


def test_a_false_flag_means_false():
    cfg = resnest_config(['--zero_init_last', 'False', '--data_dir', '/d'])
    assert cfg.zero_init_last is False


def test_a_non_boolean_word_is_rejected():
    with pytest.raises(ConfigError, match='boolean'):
        resnest_config(['--zero_init_last', 'maybe'])


def test_flags_keep_the_type_of_the_default():
    cfg = resnest_config(['--epochs', '10', '--base_lr', '0.1', '--milestones', '[3, 6]', '--data_dir', '/d'])
    assert cfg.epochs == 10 and isinstance(cfg.epochs, int)
    assert cfg.base_lr == 0.1
    assert list(cfg.milestones) == [3, 6]


def test_an_unknown_flag_is_an_error():
    with pytest.raises(SystemExit):
        resnest_config(['--epochz', '3'])


def test_the_recipe_is_the_papers_for_resnest50():
    cfg = resnest_config(['--data_dir', '/d'])
    assert (cfg.net, cfg.epochs, cfg.batch_size, cfg.base_lr, cfg.warmup_epochs) == ('resnest50', 270, 64, 0.025, 5)
    assert (cfg.label_smoothing, cfg.momentum, cfg.weight_decay, cfg.image_size, cfg.crop_pct) == \
        (0.1, 0.9, 1e-4, 224, 0.875)


@pytest.mark.parametrize('net, size', [('resnest101', 256), ('resnest200', 320), ('resnest269', 416)])
def test_a_larger_variant_brings_its_resolution(net, size):
    assert resnest_config(['--net', net, '--data_dir', '/d']).image_size == size


def test_a_flag_beats_the_variant_preset():
    assert resnest_config(['--net', 'resnest200', '--image_size', '288', '--data_dir', '/d']).image_size == 288


def test_no_dataset_selects_the_demo_preset():
    cfg = resnext_config([])
    assert cfg.num_classes == 10 and cfg.image_size == 64


def test_yaml_file_overrides_the_recipe_and_flags_override_the_file(tmp_path):
    path = tmp_path / 'run.yaml'
    path.write_text(yaml.safe_dump({'epochs': 7, 'batch_size': 16, 'data_dir': '/d', 'amp_level': 'O2'}))
    cfg = resnext_config(['--config', str(path), '--batch_size', '8'])
    assert (cfg.epochs, cfg.batch_size, cfg.amp_level) == (7, 8, 'O2')


def test_a_yaml_file_with_an_unknown_key_is_an_error(tmp_path):
    path = tmp_path / 'run.yaml'
    path.write_text('epochz: 3\n')
    with pytest.raises(ConfigError, match='epochz'):
        resnext_config(['--config', str(path)])


def test_a_missing_yaml_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match='not found'):
        resnext_config(['--config', str(tmp_path / 'nope.yaml')])


def test_the_effective_config_is_saved_and_reads_back(tmp_path):
    cfg = resnest_config(['--epochs', '3', '--data_dir', '/d'])
    saved = yaml.safe_load(open(save_config(cfg, str(tmp_path)), encoding='utf-8'))
    assert saved['epochs'] == 3 and saved['net'] == 'resnest50'


def help_default(capsys, family, argv, key):
    """The default that `--help` shows for `--key` after `argv`."""
    with pytest.raises(SystemExit):
        family.get_config(argv + ['--help'])
    text = ' '.join(capsys.readouterr().out.split())
    return re.search(rf'--{key} [A-Z]+ (?:[^-]*?; )?default: (\S+)', text).group(1)


def test_help_shows_the_recipe_file_values_under_config(capsys):
    assert help_default(capsys, RESNEST, ['--config', 'resnest50_mindcv_ascend'], 'epochs') == '350'
    assert help_default(capsys, RESNEST, ['--config', 'resnest50_mindcv_ascend'], 'mixup') == '0.8'


def test_help_without_config_shows_the_recipe_not_the_demo_preset(capsys):
    assert help_default(capsys, RESNEST, [], 'epochs') == str(RESNEST.recipe.epochs)
    assert help_default(capsys, RESNEST, [], 'mixup') == str(RESNEST.recipe.mixup)


def printed_config(capsys, family, argv):
    """{key: (value as printed, layer)} of `--print_config` after `argv` (it exits with status 0)."""
    with pytest.raises(SystemExit) as stop:
        family.get_config(argv + ['--print_config'])
    assert stop.value.code == 0
    rows = [re.match(r'(\w+)\s+(.+?)\s{2,}(.+)$', line).groups() for line in capsys.readouterr().out.splitlines()[1:]]
    return {key: (value, layer) for key, value, layer in rows}


def test_print_config_names_the_layer_of_every_value(capsys):
    printed = printed_config(capsys, RESNEST, ['--config', 'resnest50_mindcv_ascend', '--net', 'resnest200',
                                               '--data_dir', '/d', '--batch_size', '8'])
    assert set(printed) == set(RESNEST.settings)
    assert printed['batch_size'] == ('8', 'flag')
    assert printed['mixup'][0] == '0.8' and printed['mixup'][1].startswith('config file ') and \
        printed['mixup'][1].endswith('resnest50_mindcv_ascend.yaml')
    # The file's image_size beats resnest200's published 320; its DropBlock comes from the network preset.
    assert printed['image_size'][0] == '224' and printed['image_size'][1].startswith('config file ')
    assert printed['drop_block_rate'] == ('0.1', 'resnest200 training preset')
    assert printed['zero_init_last'] == ('True', 'ResNeSt recipe, ResNeSt50/src (paper)')
    assert printed['drop_path_rate'] == ('0.0', 'zoo default (zoo_core.models.backbone; timm)')


def test_print_config_names_the_published_preprocessing_of_the_network(capsys):
    printed = printed_config(capsys, RESNEST, ['--net', 'resnest200', '--data_dir', '/d'])
    assert printed['image_size'] == ('320', 'resnest200 published preprocessing')
    assert printed['interpolation'] == ("'bicubic'", 'resnest200 published preprocessing')


def test_print_config_without_a_dataset_names_the_demo_preset(capsys):
    printed = printed_config(capsys, RESNEXT, [])
    assert printed['num_classes'] == ('10', 'demo preset, no --data_dir')
    assert printed['epochs'][1] == 'demo preset, no --data_dir'
    assert printed['base_lr'] == ('0.1', 'demo preset, no --data_dir')


def test_config_yaml_names_the_layer_of_each_value_and_reads_back(tmp_path):
    resolved = RESNEST.resolve_config(['--epochs', '3', '--data_dir', '/d'])
    path = save_config(resolved.values, str(tmp_path), resolved.set_by)
    lines = {line.split(':')[0]: line for line in open(path, encoding='utf-8')}
    assert lines['epochs'].rstrip() == 'epochs: 3  # flag'
    assert lines['mean'].startswith('mean: [0.485, 0.456, 0.406]  # resnest50 published preprocessing')
    assert yaml.safe_load(open(path, encoding='utf-8')) == {k: list(v) if isinstance(v, tuple) else v
                                                            for k, v in resolved.values.items()}


def test_every_setting_is_declared_once_with_a_help_and_a_source():
    from zoo_core.runtime.config import Setting, catalogue, declare
    assert all(setting.help and setting.source and setting.owner.startswith('zoo_core.')
               for setting in RESNEST.settings.values())
    with pytest.raises(ValueError, match="'epochs' is declared in here and there"):
        catalogue(declare('here', Setting('epochs', 1, 'h', 's')), declare('there', Setting('epochs', 2, 'h', 's')))


def test_the_config_parser_knows_no_key_of_the_zoo():
    import ast
    import zoo_core.runtime.config as parser
    tree = ast.parse(open(parser.__file__, encoding='utf-8').read())
    words = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    assert words & set(RESNEST.settings) == set()
