"""Pretrained weights: reference files (the ResNeSt authors', timm's, torchvision's) converted to MindSpore
checkpoints and loaded into our networks give the references' logits; every kind of bad input fails with
a clear message; the weight cache and a new classifier behave as documented."""
import dataclasses
import functools
import hashlib
import logging
import re
import runpy

import numpy as np
import mindspore as ms
import pytest
from safetensors.numpy import save_file as save_safetensors

from helpers import REPO_ROOT, run_script
from helpers import reference_models
from helpers.reference_models import (LAST_BN_GAMMA_RANGE, authors_resnest, logits_of_both, make_non_trivial,
                              numpy_state_dict, timm_model, torch, torchvision_model)
from zoo_core.models.registry import PretrainedConfig, UnknownNetworkError, known_registries, sha256_in_file_name
from zoo_core.weights.convert import convert_checkpoint
from zoo_core.weights.files import WeightFileError, read_torch_weights, read_weights
from zoo_core.weights.fit import WeightMismatchError, rename_torch_state_dict
from zoo_core.weights.identify import infer_variant, registry_of
from zoo_core.weights.pretrained import WEIGHTS_HOME_ENV, DownloadError, download_pretrained
from zoo_resnest.models import get_network as get_resnest
from zoo_resnest.family import FAMILY as RESNEST
from zoo_resnest.models.resnest import REGISTRY as RESNEST_REGISTRY
from zoo_resnext.models import get_network as get_resnext

LOGIT_ATOL = 1e-4
FULL_INPUT = 224
SMALL_INPUT = 64
CLI = REPO_ROOT / 'utils' / 'convert_weights.py'
NEW_CLASSES = 5
TRAINED_CLASSES = 10
CLI_ERROR_EXIT_CODE = 2


def get_network(name, **kwargs):
    """Our network `name`, from the family its name starts with."""
    return (get_resnest if name.startswith('resnest') else get_resnext)(name, **kwargs)


def save_state_dict(state, path):
    """Write a name -> numpy state dict as `.pth` (torch.save) or `.safetensors`; returns the path."""
    if path.suffix == '.safetensors':
        save_safetensors(state, str(path))
    else:
        torch.save({k: torch.from_numpy(v) for k, v in state.items()}, path)
    return path


def parameters_of(net):
    """Name -> numpy array of every parameter of `net`."""
    return {p.name: p.asnumpy() for p in net.get_parameters()}


def round_trip(name, make_reference, suffix, input_size=SMALL_INPUT, last_bn_gamma=LAST_BN_GAMMA_RANGE):
    """One conversion case: our variant, its reference network, the file type, the input size, and the
    gain range of the residual branches' last BN in the reference's random weights."""
    return pytest.param(name, make_reference, suffix, input_size, last_bn_gamma, id=f'{name}{suffix}')


# 224 for the two flagship models, 64 for the others (MindSpore's CPU convolutions are the file's cost).
# The reference's BN statistics are measured at 64 for all (`make_non_trivial`): only their being
# non-trivial matters. Over the 66 and 89 blocks of resnest200/269 the default residual gains let
# activations, and fp32 rounding, grow until the reference's own fp32 logits differ from its fp64 ones by
# up to 1.7; smaller gains keep that at 1e-5, so that the 1e-4 comparison means something.
DEEP_LAST_BN_GAMMA_RANGE = (0.05, 0.1)
ROUND_TRIPS = [
    round_trip('resnest50', functools.partial(authors_resnest, 'resnest50'), '.pth', FULL_INPUT),
    round_trip('resnest101', functools.partial(authors_resnest, 'resnest101'), '.pth'),
    round_trip('resnest14d', functools.partial(timm_model, 'resnest14d'), '.safetensors'),
    round_trip('resnest26d', functools.partial(timm_model, 'resnest26d'), '.safetensors'),
    round_trip('resnest50d_1s4x24d', functools.partial(timm_model, 'resnest50d_1s4x24d'), '.safetensors'),
    round_trip('resnest50d_4s2x40d', functools.partial(timm_model, 'resnest50d_4s2x40d'), '.safetensors'),
    round_trip('resnext50_32x4d', functools.partial(torchvision_model, 'resnext50_32x4d'), '.pth',
               FULL_INPUT),
    round_trip('resnext101_32x8d', functools.partial(torchvision_model, 'resnext101_32x8d'), '.pth'),
    round_trip('resnext101_64x4d', functools.partial(timm_model, 'resnext101_64x4d'), '.safetensors'),
    round_trip('resnest200', functools.partial(authors_resnest, 'resnest200'), '.pth',
               last_bn_gamma=DEEP_LAST_BN_GAMMA_RANGE),
    round_trip('resnest269', functools.partial(authors_resnest, 'resnest269'), '.pth',
               last_bn_gamma=DEEP_LAST_BN_GAMMA_RANGE),
]


def assert_reference_logits(reference, ours, input_size):
    ours.set_train(False)
    expected, actual = logits_of_both(reference, ours, input_size, batch=1)
    assert expected.std() > 0.1, "reference logits are degenerate; the comparison would prove nothing"
    np.testing.assert_allclose(actual, expected, rtol=0, atol=LOGIT_ATOL)


@pytest.mark.parametrize('name, make_reference, suffix, input_size, last_bn_gamma', ROUND_TRIPS)
def test_a_converted_reference_file_gives_the_references_logits(name, make_reference, suffix, input_size,
                                                                 last_bn_gamma, tmp_path, monkeypatch):
    monkeypatch.setattr(reference_models, 'LAST_BN_GAMMA_RANGE', last_bn_gamma)
    reference = make_non_trivial(make_reference(), input_size=SMALL_INPUT)
    src = save_state_dict(numpy_state_dict(reference), tmp_path / f'{name}{suffix}')
    dst = tmp_path / f'{name}.ckpt'
    assert convert_checkpoint(src, dst) == name, "the variant is told from the file's shapes"
    assert_reference_logits(reference, get_network(name, pretrained=str(dst)), input_size)


@pytest.mark.parametrize('name, make_reference, suffix', [
    pytest.param('resnest14d', functools.partial(timm_model, 'resnest14d'), '.pth', id='resnest14d.pth'),
    pytest.param('resnest26d', functools.partial(timm_model, 'resnest26d'), '.safetensors',
                 id='resnest26d.safetensors'),
])
def test_a_reference_file_loads_directly_with_the_references_logits(name, make_reference, suffix, tmp_path):
    reference = make_non_trivial(make_reference(), input_size=SMALL_INPUT)
    src = save_state_dict(numpy_state_dict(reference), tmp_path / f'{name}{suffix}')
    assert_reference_logits(reference, get_network(name, pretrained=str(src)), SMALL_INPUT)


@pytest.fixture(scope='module')
def resnest14d_state():
    """The torch state dict of timm's resnest14d (random weights), as numpy."""
    return numpy_state_dict(timm_model('resnest14d'))


@pytest.fixture(scope='module')
def resnest14d_ckpt(resnest14d_state, tmp_path_factory):
    """resnest14d reference weights converted to a MindSpore checkpoint."""
    folder = tmp_path_factory.mktemp('resnest14d')
    dst = folder / 'resnest14d.ckpt'
    convert_checkpoint(save_state_dict(resnest14d_state, folder / 'resnest14d.pth'), dst, name='resnest14d')
    return dst


@pytest.fixture(scope='module')
def resnest50_pth(tmp_path_factory):
    """The ResNeSt authors' resnest50 state dict (random weights) as a `.pth` file."""
    path = tmp_path_factory.mktemp('resnest50') / 'resnest50.pth'
    return save_state_dict(numpy_state_dict(authors_resnest('resnest50')), path)


def test_wrappers_and_data_parallel_prefixes_are_removed(tmp_path):
    path = tmp_path / 'wrapped.pth'
    torch.save({'epoch': 3, 'model': {'module.conv1.weight': torch.ones(2, 3)}}, path)
    weights = read_torch_weights(path)
    assert list(weights) == ['conv1.weight']
    np.testing.assert_array_equal(weights['conv1.weight'], np.ones((2, 3), np.float32))


def test_safetensors_converts_without_pytorch(resnest14d_state, tmp_path):
    src = save_state_dict(resnest14d_state, tmp_path / 'resnest14d.safetensors')
    dst = tmp_path / 'resnest14d.ckpt'
    argv = ['convert_weights.py', str(src), str(dst), '--net', 'resnest14d']
    block_torch_and_run_cli = (f"import runpy, sys; sys.modules['torch'] = None; sys.argv = {argv!r}; "
                               f"runpy.run_path({str(CLI)!r}, run_name='__main__')")
    run = run_script('-c', block_torch_and_run_cli)
    assert run.returncode == 0, run.stderr
    expected = rename_torch_state_dict(resnest14d_state)
    written = {k: v.asnumpy() for k, v in ms.load_checkpoint(str(dst)).items()}
    assert written.keys() == expected.keys()
    for key, value in expected.items():
        np.testing.assert_array_equal(written[key], value, err_msg=key)


def test_the_variant_is_told_from_the_shapes_whatever_the_classifier_size(resnest14d_state):
    num_features = resnest14d_state['fc.weight'].shape[1]
    state = dict(resnest14d_state, **{'fc.weight': np.zeros((TRAINED_CLASSES, num_features), np.float32),
                                     'fc.bias': np.zeros(TRAINED_CLASSES, np.float32)})
    assert infer_variant(state) == 'resnest14d'


def test_weights_of_another_variant_are_named_in_the_error(resnest50_pth, tmp_path):
    with pytest.raises(WeightMismatchError, match='holds resnest50 weights, not resnext50_32x4d weights'):
        convert_checkpoint(resnest50_pth, tmp_path / 'out.ckpt', name='resnext50_32x4d')
    with pytest.raises(WeightMismatchError, match='holds resnest50 weights, not resnext50_32x4d weights'):
        get_resnext('resnext50_32x4d', pretrained=str(resnest50_pth))
    assert not (tmp_path / 'out.ckpt').exists()


def test_missing_tensors_are_listed(resnest14d_state, tmp_path):
    state = {k: v for k, v in resnest14d_state.items() if k != 'layer4.0.conv1.weight'}
    src = save_state_dict(state, tmp_path / 'incomplete.pth')
    with pytest.raises(WeightMismatchError, match=(f'{re.escape(str(src))}: the weights do not fit the network: '
                                                   r'missing \(1\): layer4\.0\.conv1\.weight$')):
        convert_checkpoint(src, tmp_path / 'out.ckpt', name='resnest14d')


def test_weights_of_no_known_variant_name_the_closest(resnest14d_state):
    state = {k: v for k, v in resnest14d_state.items() if not k.startswith('layer4.')}
    with pytest.raises(WeightMismatchError, match=r'none of the known variants; the closest, resnest14d'):
        infer_variant(state)


@pytest.mark.parametrize('suffix', ['.pth', '.safetensors'])
def test_a_truncated_file_is_named_in_the_error(resnest14d_state, suffix, tmp_path):
    whole = save_state_dict(resnest14d_state, tmp_path / f'whole{suffix}').read_bytes()
    truncated = tmp_path / f'truncated{suffix}'
    truncated.write_bytes(whole[:len(whole) // 2])
    with pytest.raises(WeightFileError, match=f'{re.escape(str(truncated))}.*truncated or corrupt'):
        read_weights(truncated)


def test_a_truncated_mindspore_checkpoint_is_named_in_the_error(resnest14d_ckpt, tmp_path):
    truncated = tmp_path / 'truncated.ckpt'
    truncated.write_bytes(resnest14d_ckpt.read_bytes()[:1000])
    with pytest.raises(WeightFileError, match=f'{re.escape(str(truncated))}.*truncated or corrupt'):
        read_weights(truncated)


def test_an_unknown_file_type_is_refused(tmp_path):
    path = tmp_path / 'weights.npz'
    path.write_bytes(b'')
    with pytest.raises(WeightFileError, match=r"unknown weight file type '\.npz'"):
        read_weights(path)


def test_an_unknown_network_name_lists_the_valid_ones(resnest14d_ckpt, tmp_path):
    with pytest.raises(UnknownNetworkError,
                       match=r"unknown network 'resnest51'; valid names: .*resnest50, .*resnext50_32x4d"):
        convert_checkpoint(resnest14d_ckpt, tmp_path / 'out.ckpt', name='resnest51')


def run_cli_in_process(capsys, *argv):
    """(exit code, stderr lines) of the converter's `main` on `argv`."""
    with pytest.raises(SystemExit) as exited:
        runpy.run_path(str(CLI))['main'](list(argv))
    return exited.value.code, capsys.readouterr().err.splitlines()


def test_the_cli_reports_a_wrong_variant_in_one_line(resnest50_pth, tmp_path, capsys):
    code, err = run_cli_in_process(capsys, str(resnest50_pth), str(tmp_path / 'out.ckpt'),
                                   '--net', 'resnext50_32x4d')
    assert code == CLI_ERROR_EXIT_CODE
    assert len(err) == 1 and err[0].endswith(
        f': error: {resnest50_pth} holds resnest50 weights, not resnext50_32x4d weights'), err


def test_the_cli_reports_a_missing_file_in_one_line(tmp_path, capsys):
    code, err = run_cli_in_process(capsys, str(tmp_path / 'absent.pth'), str(tmp_path / 'out.ckpt'))
    assert code == CLI_ERROR_EXIT_CODE
    assert len(err) == 1 and err[0].endswith(f': error: no weight file {tmp_path / "absent.pth"}'), err


def test_the_cli_reports_a_truncated_file_without_a_traceback(resnest14d_state, tmp_path):
    src = tmp_path / 'truncated.pth'
    src.write_bytes(save_state_dict(resnest14d_state, tmp_path / 'whole.pth').read_bytes()[:4096])
    run = run_script(CLI, src, tmp_path / 'out.ckpt')
    assert run.returncode == CLI_ERROR_EXIT_CODE
    errors = [line for line in run.stderr.splitlines() if 'error' in line.lower()]
    assert 'Traceback' not in run.stderr
    assert len(errors) == 1 and f'{src} cannot be read as PyTorch weights' in errors[0], run.stderr


def test_a_new_number_of_classes_keeps_the_backbone_and_replaces_the_classifier(resnest14d_ckpt, caplog):
    with caplog.at_level(logging.INFO, logger='zoo_core'):
        net = get_resnest('resnest14d', num_classes=NEW_CLASSES, pretrained=str(resnest14d_ckpt))
    saved = read_weights(resnest14d_ckpt)
    loaded = parameters_of(net)
    assert loaded['fc.weight'].shape == (NEW_CLASSES, net.num_features)
    assert loaded['fc.bias'].shape == (NEW_CLASSES,)
    for key, value in saved.items():
        if not key.startswith('fc.'):
            np.testing.assert_array_equal(loaded[key], value, err_msg=key)
    assert [r.name for r in caplog.records] == ['zoo_core']
    assert f'not {NEW_CLASSES} classes' in caplog.records[0].getMessage()


def test_a_training_checkpoint_loads_without_its_optimizer_state(resnest14d_ckpt, tmp_path):
    weights = read_weights(resnest14d_ckpt)
    weights['fc.weight'] = weights['fc.weight'][:TRAINED_CLASSES]
    weights['fc.bias'] = weights['fc.bias'][:TRAINED_CLASSES]
    training_state = {f'moments.{k}': np.zeros_like(v) for k, v in weights.items()}
    training_state.update(global_step=np.array(7, np.int32), learning_rate=np.array(0.1, np.float32),
                          momentum=np.array(0.9, np.float32), epoch_num=np.array(2, np.int32),
                          step_num=np.array(70, np.int32))
    path = tmp_path / 'resnest14d-2_35.ckpt'
    ms.save_checkpoint([{'name': k, 'data': ms.Tensor(v)} for k, v in {**weights, **training_state}.items()],
                       str(path))
    loaded = parameters_of(get_resnest('resnest14d', num_classes=TRAINED_CLASSES, pretrained=str(path)))
    assert loaded.keys() == weights.keys()
    for key, value in weights.items():
        np.testing.assert_array_equal(loaded[key], value, err_msg=key)


def test_a_bare_file_name_is_found_in_the_weight_cache(resnest14d_ckpt, tmp_path, monkeypatch):
    cache = tmp_path / 'cache'
    cache.mkdir()
    (cache / 'mine.ckpt').write_bytes(resnest14d_ckpt.read_bytes())
    monkeypatch.setenv(WEIGHTS_HOME_ENV, str(cache))
    monkeypatch.chdir(tmp_path)
    loaded = parameters_of(get_resnest('resnest14d', pretrained='mine.ckpt'))
    np.testing.assert_array_equal(loaded['conv1.0.weight'], read_weights(resnest14d_ckpt)['conv1.0.weight'])


def test_the_default_weights_are_the_variants_published_file_in_the_cache(resnest14d_state, tmp_path,
                                                                           monkeypatch):
    monkeypatch.setenv(WEIGHTS_HOME_ENV, str(tmp_path))
    published = preprocessing_for('resnest14d').file_names[0]
    with pytest.raises(FileNotFoundError, match=(f'no pretrained weights for resnest14d in '
                                                 f'{re.escape(str(tmp_path))}.*{re.escape(published)}')):
        get_resnest('resnest14d', pretrained=True)
    save_state_dict(resnest14d_state, tmp_path / published)
    loaded = parameters_of(get_resnest('resnest14d', pretrained='default'))
    np.testing.assert_array_equal(loaded['fc.weight'], resnest14d_state['fc.weight'])


def publish_resnest14d_at(url, monkeypatch, sha256=''):
    """Make `url` resnest14d's published URL for the test, with published hash `sha256`."""
    variant = RESNEST_REGISTRY.variant('resnest14d')
    published = dataclasses.replace(variant.pretrained, url=url, sha256=sha256)
    monkeypatch.setitem(RESNEST_REGISTRY.variants, 'resnest14d',
                        dataclasses.replace(variant, pretrained=published))


def serve(path, content):
    """Write `content` to `path`; returns its file:// URL and the first 8 hex digits of its SHA-256."""
    path.write_bytes(content)
    return path.as_uri(), hashlib.sha256(content).hexdigest()[:8]


def test_download_fills_the_cache_from_the_variants_url(tmp_path, monkeypatch):
    url, sha256 = serve(tmp_path / 'served.pth', b'published weights')
    publish_resnest14d_at(url, monkeypatch, sha256)
    path = download_pretrained(RESNEST.preprocessing('resnest14d'), tmp_path / 'cache')
    assert path == tmp_path / 'cache' / preprocessing_for('resnest14d').file_names[0]
    assert path.read_bytes() == b'published weights'


def test_a_download_whose_sha256_differs_is_deleted_with_an_error(tmp_path, monkeypatch):
    url, sha256 = serve(tmp_path / 'served.pth', b'published weights')
    publish_resnest14d_at(url, monkeypatch, sha256)
    (tmp_path / 'served.pth').write_bytes(b'altered weights')
    with pytest.raises(DownloadError, match=f"has SHA-256 [0-9a-f]{{8}}\\.\\.\\., not the published {sha256}"):
        download_pretrained(RESNEST.preprocessing('resnest14d'), tmp_path / 'cache')
    assert list((tmp_path / 'cache').iterdir()) == []


def test_a_hash_named_file_is_checked_against_its_name(tmp_path):
    """The authors' convention: `resnest50-528c19ca.pth`'s SHA-256 starts with 528c19ca."""
    content = b'weights with their hash in the name'
    name = f'net-{hashlib.sha256(content).hexdigest()[:8]}.pth'
    (tmp_path / name).write_bytes(content)
    config = PretrainedConfig(file_names=(name,), url=(tmp_path / name).as_uri(), sha256=sha256_in_file_name(name))
    assert download_pretrained(config, tmp_path / 'cache').read_bytes() == content
    wrong = PretrainedConfig(file_names=('net-00000000.pth',), url=(tmp_path / name).as_uri(),
                             sha256=sha256_in_file_name('net-00000000.pth'))
    with pytest.raises(DownloadError):
        download_pretrained(wrong, tmp_path / 'cache')
    assert sorted(p.name for p in (tmp_path / 'cache').iterdir()) == [name]


@pytest.mark.parametrize('name', [n for registry in known_registries() for n in registry.names()])
def test_every_published_download_is_checked_by_the_hash_in_its_file_name(name):
    config = preprocessing_for(name)
    url_file = config.url.rsplit('/', 1)[1]
    assert config.file_names[0] == url_file
    assert len(config.sha256) == 8 and config.sha256 == sha256_in_file_name(url_file)


def test_a_failed_download_leaves_nothing_in_the_cache_and_says_where_the_file_goes(tmp_path, monkeypatch):
    url = (tmp_path / 'absent').as_uri()
    publish_resnest14d_at(url, monkeypatch)
    name = preprocessing_for('resnest14d').file_names[0]
    with pytest.raises(DownloadError, match=f"cannot download {url} .*put {name} into {tmp_path / 'cache'} .*ZOO_WEIGHTS_HOME"):
        download_pretrained(RESNEST.preprocessing('resnest14d'), tmp_path / 'cache')
    assert list((tmp_path / 'cache').iterdir()) == []


def preprocessing_for(name):
    """The published preprocessing of variant `name`, whichever family it belongs to."""
    return registry_of(name, known_registries()).variant(name).pretrained


def test_preprocessing_is_the_variants_published_one():
    assert preprocessing_for('resnest200').input_size == 320
    assert preprocessing_for('resnest200').interpolation == 'bicubic'
    assert preprocessing_for('resnext50_32x4d').file_names == ('resnext50_32x4d-7cdf4587.pth',)
    with pytest.raises(UnknownNetworkError):
        preprocessing_for('resnet50')


def test_importing_the_model_packages_alone_makes_their_variants_known(run_script):
    """Telling a variant from its weights needs no family object: the registries of imported packages."""
    code = ("import zoo_resnest.models, zoo_resnext.models; "
            "from zoo_core.models.registry import known_registries; "
            "print(sorted(r.family for r in known_registries()))")
    result = run_script('-c', code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "['ResNeSt', 'ResNeXt']"
