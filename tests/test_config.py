"""Run configuration: recipe <- presets <- YAML <- flags, typed parsing, clear errors."""
import re

import pytest
import yaml

from zoo_core.runtime.config import ConfigError, build_config, parse_bool, save_config
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
        build_config({'a': 1}, argv=['--config', str(tmp_path / 'nope.yaml')])


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
