"""The model summary: parameters and MACs counted from the network, against the published figures; the
variant listing of `python -m zoo_core.models` with wildcards, and its recorded sizes (`variant_sizes.json`),
checked against the built networks."""
import json

import mindspore as ms
import pytest
from mindspore import nn

from zoo_core.models import catalogue
from zoo_core.models.catalogue import matching_variants
from zoo_core.models.registry import Registry, installed_registries
from zoo_core.models.summary import ModelSummary, count_macs, count_parameters, summarize
from zoo_resnest.models import REGISTRY as RESNEST
from zoo_resnext.models import REGISTRY as RESNEXT

# Published multiply-accumulates at 224x224: the ResNeSt paper (Table 3, ResNeSt-50 5.39 G) and
# torchvision's weights metadata (resnext50_32x4d `_ops` 4.23 G).
PUBLISHED_GMACS = {'resnest50': (RESNEST, 5.39), 'resnext50_32x4d': (RESNEXT, 4.23)}
# The parameter counts of the references (README's network table).
REFERENCE_PARAMETERS = {'resnest50': 27_483_240, 'resnext50_32x4d': 25_028_904}
TOLERANCE = 0.02


@pytest.mark.parametrize('name', sorted(PUBLISHED_GMACS))
def test_macs_at_224_are_the_published_figure_within_2_percent(name):
    registry, published = PUBLISHED_GMACS[name]
    summary = summarize(registry.build(name), name, 224)
    assert summary.macs / 1e9 == pytest.approx(published, rel=TOLERANCE)
    assert summary.parameters == REFERENCE_PARAMETERS[name]


class TwoLayers(nn.Cell):
    """A grouped strided conv and a dense layer, whose MACs are counted by hand below."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 6, 3, stride=2, group=2, pad_mode='pad', padding=1, has_bias=True)
        self.bn = nn.BatchNorm2d(6)
        self.fc = nn.Dense(6, 5)

    def construct(self, x):
        return self.fc(self.bn(self.conv(x)).mean(axis=(2, 3)))


def test_macs_are_output_elements_times_the_inputs_per_output():
    conv = 6 * 5 * 5 * (4 // 2) * 3 * 3        # 10x10 input, stride 2 -> 5x5 output
    dense = 5 * 6
    assert count_macs(TwoLayers(), 10, in_chans=4) == conv + dense
    assert count_parameters(TwoLayers()) == (6 * 2 * 9 + 6) + 2 * 6 + (5 * 6 + 5)  # BN statistics left out


def test_counting_restores_the_execution_mode_and_training_flag():
    net = TwoLayers()
    net.set_train(True)
    mode = ms.get_context('mode')
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        count_macs(net, 8, in_chans=4)
        assert ms.get_context('mode') == ms.GRAPH_MODE and net.training
    finally:
        ms.set_context(mode=mode)


def test_macs_grow_with_the_input_size():
    net = RESNEST.build('resnest14d')
    assert count_macs(net, 64) > count_macs(net, 32) > 0


def test_every_installed_family_is_listed_and_wildcards_filter_it():
    registries = installed_registries()
    assert {RESNEST, RESNEXT} <= set(registries)
    assert [name for _, name in matching_variants(registries, ['resnext*'])] == RESNEXT.names()
    assert [name for _, name in matching_variants(registries, ['*32x*', 'resnest14d'])] == \
        ['resnest14d', 'resnext101_32x8d', 'resnext50_32x4d']


def test_the_listing_command_prints_size_at_the_input_size_asked(run_script):
    result = run_script('-m', 'zoo_core.models', 'resnest14d', '--input_size', 64)
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.strip().splitlines()
    assert header.split() == ['network', 'family', 'parameters', 'GMACs', 'input', 'crop', 'interpolation']
    macs = count_macs(RESNEST.build('resnest14d'), 64)
    assert row.split() == ['resnest14d', 'ResNeSt', f"{count_parameters(RESNEST.build('resnest14d')):,}",
                           f'{macs / 1e9:.2f}', '64', '0.875', 'bilinear']


def test_the_listing_command_refuses_a_pattern_that_matches_nothing(run_script):
    result = run_script('-m', 'zoo_core.models', 'vit*', '--names_only')
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ['error: no network matches vit*']


def test_the_listing_at_published_sizes_builds_no_network(monkeypatch, capsys):
    def no_build(*args, **kwargs):
        raise AssertionError('a network was built')
    monkeypatch.setattr(Registry, 'build', no_build)
    assert catalogue.main([]) == 0
    rows = [line.split() for line in capsys.readouterr().out.strip().splitlines()[1:]]
    sizes = catalogue.load_sizes()
    assert [row[0] for row in rows] == sorted(RESNEST.names() + RESNEXT.names())
    for name, family, parameters, gmacs, input_size, *_ in rows:
        assert (parameters, gmacs, int(input_size)) == \
            (f'{sizes[name].parameters:,}', f'{sizes[name].macs / 1e9:.2f}', sizes[name].input_size)


def test_update_sizes_records_the_measured_sizes_and_keeps_the_others(tmp_path, monkeypatch):
    path = tmp_path / 'sizes.json'
    path.write_text(json.dumps({'resnext50_32x4d': {'parameters': 1, 'macs': 2, 'input_size': 224}}))
    catalogue.write_sizes([(RESNEST, 'resnest14d')], str(path))
    recorded = catalogue.load_sizes(str(path))
    assert recorded['resnext50_32x4d'] == ModelSummary('resnext50_32x4d', 1, 2, 224)
    assert recorded['resnest14d'] == summarize(RESNEST.build('resnest14d'), 'resnest14d', 224)


@pytest.mark.slow
def test_the_recorded_sizes_are_those_of_the_built_networks():
    recorded = catalogue.load_sizes()
    for registry in (RESNEST, RESNEXT):
        for name in registry.names():
            size = registry.variant(name).pretrained.input_size
            assert recorded[name] == summarize(registry.build(name), name, size), \
                f'{name}: run python -m zoo_core.models --update_sizes'
