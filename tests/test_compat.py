"""One place for MindSpore's release differences (zoo_core.runtime.compat): the tested range, its one-line
notice, and the fallbacks for APIs that older releases lack."""
import mindspore as ms
import pytest

from helpers import REPO_ROOT
from zoo_core.runtime import compat, versions


@pytest.mark.parametrize('version', ['2.7.0', '2.7.1.post1', '2.7.2', '2.8.0', '2.9.0', '2.10.0', '2.10.1rc1'])
def test_the_pypi_releases_from_2_7_to_2_10_are_tested(version):
    assert versions.is_tested_release(version) and versions.mindspore_version_notice(version) is None


@pytest.mark.parametrize('version', ['2.2.14', '2.5.0', '2.6.0', '2.11.0', '3.0.0', 'unknown'])
def test_another_release_gets_one_line_naming_it_the_range_and_the_table(version):
    notice = versions.mindspore_version_notice(version)
    assert '\n' not in notice and f'MindSpore {version} ' in notice
    assert '2.7.0 to 2.10.x' in notice and 'MindSpore versions' in notice


def test_an_entry_point_on_an_untested_release_prints_the_notice_once(run_script):
    fake = ("import sys, runpy, importlib.metadata as metadata; real = metadata.version; "
            "metadata.version = lambda name: '2.6.0' if name == 'mindspore' else real(name); "
            f"sys.argv = ['export.py']; runpy.run_path({str(REPO_ROOT / 'ResNeSt50' / 'export.py')!r}, "
            "run_name='__main__')")
    result = run_script('-c', fake)
    notes = [line for line in result.stderr.splitlines() if line.startswith('note: MindSpore 2.6.0')]
    assert len(notes) == 1, result.stderr
    assert result.returncode == 2 and 'error:' in result.stderr  # then it goes on: here to its usage error


def test_a_tested_release_prints_no_notice(run_script):
    result = run_script(REPO_ROOT / 'ResNeSt50' / 'export.py')
    assert 'note: MindSpore' not in result.stderr


def test_deterministic_kernels_fall_back_to_set_context_before_2_5(monkeypatch):
    calls = []
    monkeypatch.delattr(ms, 'set_deterministic')
    monkeypatch.setattr(ms, 'set_context', lambda **kwargs: calls.append(kwargs))
    compat.set_deterministic_kernels()
    assert calls == [{'deterministic': 'ON'}]


def test_kernel_threads_fall_back_to_set_context_before_2_5(monkeypatch):
    calls = []
    monkeypatch.delattr(ms, 'device_context')
    monkeypatch.setattr(ms, 'set_context', lambda **kwargs: calls.append(kwargs))
    compat.set_cpu_kernel_threads(3)
    assert calls == [{'runtime_num_threads': 3}]


def test_the_device_target_falls_back_to_get_context_before_2_6(monkeypatch):
    assert compat.current_device_target() == 'CPU'
    monkeypatch.delattr(ms, 'get_current_device')
    monkeypatch.setattr(ms, 'get_context', lambda key: {'device_target': 'Ascend'}[key])
    assert compat.current_device_target() == 'Ascend'


def test_networks_build_normally_where_no_init_parameters_is_missing(monkeypatch):
    monkeypatch.delattr(ms.nn.utils, 'no_init_parameters')
    with compat.no_init_parameters():
        dense = ms.nn.Dense(2, 2)
    assert dense.weight.asnumpy().shape == (2, 2)
