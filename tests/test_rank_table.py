"""Ascend rank tables: zoo_core.runtime.rank_table validates them (library and CLI), utils/hccl_tools.py writes them,
zoo_core.runtime.rank_table_launch starts and supervises their ranks."""
import json
import os
import subprocess
import sys
import time

import pytest

from helpers import REPO_ROOT, run_script
from zoo_core.runtime import rank_table_launch
from zoo_core.runtime.errors import ZooError
from zoo_core.runtime.hccl_env import HCCL_TIMEOUTS
from zoo_core.runtime.rank_table import RankTableError, load_rank_table, parse_rank_table

# HCCL's own connect timeout (CANN), which a slow 8-device first compile outlasts.
HCCL_DEFAULT_CONNECT_TIMEOUT_S = 120

HCCL_TOOLS = REPO_ROOT / 'utils' / 'hccl_tools.py'
FAKE_HCCN_CONF = ''.join(f'address_{device}=192.168.{device}.10\nnetdetect_{device}=192.168.{device}.1\n'
                         for device in range(8))


def device(device_id, rank_id, ip=None):
    """One `device` entry as hccl_tools writes it (numbers as strings); without `ip`, `table` gives it one."""
    return {'device_id': str(device_id), 'device_ip': ip, 'rank_id': str(rank_id)}


def with_device_ips(devices, server_index):
    """`devices` with the IPs not given set to 192.168.<device>.<10 + server_index> (unique in a table)."""
    return [{**entry, 'device_ip': entry['device_ip'] or f"192.168.{entry['device_id']}.{10 + server_index}"}
            if entry.get('device_ip', '') is None and 'device_id' in entry else entry for entry in devices]


def table(*servers):
    """A rank table document from (server_id, [device entries]) pairs."""
    return {'version': '1.0', 'server_count': str(len(servers)),
            'server_list': [{'server_id': server_id, 'device': with_device_ips(devices, index),
                             'host_nic_ip': 'reserve'} for index, (server_id, devices) in enumerate(servers)],
            'status': 'completed'}


def write_json(path, document):
    path.write_text(json.dumps(document), encoding='utf-8')
    return path


def run_validator(path, *extra):
    return run_script('-m', 'zoo_core.runtime.rank_table', 'validate', path, *extra)


def test_valid_table_lists_its_ranks_in_rank_order(tmp_path):
    path = write_json(tmp_path / 'rt.json', table(('10.0.0.1', [device(4, 1), device(5, 0)])))
    rank_table = load_rank_table(path)
    assert rank_table.rank_size == 2
    assert [(r.rank_id, r.device_id, r.server_id) for r in rank_table.ranks] == [(0, 5, '10.0.0.1'),
                                                                                 (1, 4, '10.0.0.1')]


def test_integer_fields_are_accepted_as_well_as_strings():
    document = table(('10.0.0.1', [{'device_id': 0, 'device_ip': '192.168.0.10', 'rank_id': 0}]))
    assert parse_rank_table(document).ranks[0].device_id == 0


def test_ranks_can_span_several_servers():
    rank_table = parse_rank_table(table(('10.0.0.1', [device(0, 0), device(1, 1)]),
                                        ('10.0.0.2', [device(0, 2), device(1, 3)])))
    assert rank_table.rank_size == 4
    assert rank_table.server_ids == ('10.0.0.1', '10.0.0.2')
    assert [r.rank_id for r in rank_table.ranks_of('10.0.0.2')] == [2, 3]


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(RankTableError, match='rank table file not found: .*nothere.json'):
        load_rank_table(tmp_path / 'nothere.json')


def test_malformed_json_is_a_clear_error(tmp_path):
    path = tmp_path / 'broken.json'
    path.write_text('{"server_list": [', encoding='utf-8')
    with pytest.raises(RankTableError, match='broken.json is not valid JSON.*line 1'):
        load_rank_table(path)


def test_missing_server_list_is_a_clear_error():
    with pytest.raises(RankTableError, match="no 'server_list'"):
        parse_rank_table({'version': '1.0', 'status': 'completed'})


def test_duplicate_rank_ids_are_rejected():
    with pytest.raises(RankTableError, match='rank_id 0 is given twice'):
        parse_rank_table(table(('10.0.0.1', [device(0, 0), device(1, 0)])))


def test_a_gap_in_rank_ids_is_rejected():
    with pytest.raises(RankTableError, match=r'exactly 0\.\.1 .*missing 1, found 0, 2'):
        parse_rank_table(table(('10.0.0.1', [device(0, 0), device(1, 2)])))


def test_a_device_used_twice_on_one_server_is_rejected():
    with pytest.raises(RankTableError, match='device_id 3 appears twice'):
        parse_rank_table(table(('10.0.0.1', [device(3, 0), device(3, 1)])))


def test_the_same_device_id_on_two_servers_is_fine():
    assert parse_rank_table(table(('10.0.0.1', [device(0, 0)]), ('10.0.0.2', [device(0, 1)]))).rank_size == 2


@pytest.mark.parametrize('field', ['device_id', 'device_ip', 'rank_id'])
def test_a_device_without_a_required_field_is_rejected(field):
    entry = device(0, 0, ip='192.168.0.10')
    del entry[field]
    with pytest.raises(RankTableError, match=f"misses '{field}'"):
        parse_rank_table(table(('10.0.0.1', [entry])))


@pytest.mark.parametrize('bad_entry, message', [
    ({'device_id': 'x', 'device_ip': '192.168.0.10', 'rank_id': '0'}, 'device_id must be a non-negative integer'),
    ({'device_id': '0', 'device_ip': '192.168.0.10', 'rank_id': '-1'}, 'rank_id must be a non-negative integer'),
    ({'device_id': '0', 'device_ip': 'not-an-ip', 'rank_id': '0'}, 'device_ip must be an IP address'),
])
def test_malformed_device_fields_are_rejected(bad_entry, message):
    with pytest.raises(RankTableError, match=message):
        parse_rank_table(table(('10.0.0.1', [bad_entry])))


def test_server_count_must_match_the_server_list():
    document = table(('10.0.0.1', [device(0, 0)]))
    document['server_count'] = '2'
    with pytest.raises(RankTableError, match='server_count is 2 but server_list has 1'):
        parse_rank_table(document)


def test_cli_prints_rank_size_and_one_line_per_rank(tmp_path):
    path = write_json(tmp_path / 'rt.json', table(('10.0.0.1', [device(6, 0), device(7, 1)])))
    result = run_validator(path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ['RANK_SIZE 2', '0 6 10.0.0.1', '1 7 10.0.0.1']


def test_cli_lists_only_the_ranks_of_the_given_server(tmp_path):
    path = write_json(tmp_path / 'rt.json', table(('10.0.0.1', [device(0, 0)]), ('10.0.0.2', [device(0, 1)])))
    result = run_validator(path, '--server_id', '10.0.0.2')
    assert result.stdout.splitlines() == ['RANK_SIZE 2', '1 0 10.0.0.2']


def test_cli_exits_2_with_the_reason_for_an_invalid_table(tmp_path):
    path = write_json(tmp_path / 'rt.json', table(('10.0.0.1', [device(0, 1)])))
    result = run_validator(path)
    assert result.returncode == 2
    assert result.stdout == ''
    assert 'invalid rank table' in result.stderr and 'missing 0' in result.stderr


def run_hccl_tools(tmp_path, *args):
    return run_script(HCCL_TOOLS, *args, cwd=tmp_path)


@pytest.mark.parametrize('device_range, expected_devices', [('[0,8)', list(range(8))), ('[4,8)', [4, 5, 6, 7]),
                                                            ('[0,1)', [0])])
def test_hccl_tools_writes_a_table_that_validates(tmp_path, device_range, expected_devices):
    hccn_conf = tmp_path / 'hccn.conf'
    hccn_conf.write_text(FAKE_HCCN_CONF, encoding='utf-8')
    output = tmp_path / 'rank_table.json'
    result = run_hccl_tools(tmp_path, '--device_num', device_range, '--server_ip', '10.1.2.3',
                            '--hccn_conf', str(hccn_conf), '--output', str(output))
    assert result.returncode == 0, result.stderr
    rank_table = load_rank_table(output)
    assert [r.device_id for r in rank_table.ranks] == expected_devices
    assert [r.device_ip for r in rank_table.ranks] == [f'192.168.{d}.10' for d in expected_devices]
    assert {r.server_id for r in rank_table.ranks} == {'10.1.2.3'}
    assert run_validator(output).returncode == 0


def test_hccl_tools_maps_device_indices_through_visible_devices(tmp_path):
    hccn_conf = tmp_path / 'hccn.conf'
    hccn_conf.write_text(FAKE_HCCN_CONF, encoding='utf-8')
    result = run_hccl_tools(tmp_path, '--device_num', '[0,2)', '--visible_devices', '6,7', '--server_ip',
                            '10.1.2.3', '--hccn_conf', str(hccn_conf))
    assert result.returncode == 0, result.stderr
    written = tmp_path / 'hccl_2p_01_10.1.2.3.json'  # the ModelZoo's default name, in the working folder
    assert [r.device_id for r in load_rank_table(written).ranks] == [6, 7]


def test_hccl_tools_without_hccn_conf_says_what_is_missing(tmp_path):
    result = run_hccl_tools(tmp_path, '--server_ip', '10.1.2.3', '--hccn_conf', str(tmp_path / 'hccn.conf'))
    assert result.returncode == 2
    assert 'hccn.conf not found' in result.stderr and 'device IPs' in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize('device_range', ['[2,6)', '[0,9)', '0-8', '[3,3)'])
def test_hccl_tools_rejects_an_impossible_device_range(tmp_path, device_range):
    hccn_conf = tmp_path / 'hccn.conf'
    hccn_conf.write_text(FAKE_HCCN_CONF, encoding='utf-8')
    result = run_hccl_tools(tmp_path, '--device_num', device_range, '--server_ip', '10.1.2.3',
                            '--hccn_conf', str(hccn_conf))
    assert result.returncode == 2
    assert '--device_num' in result.stderr


# --- the launcher (the scripts' use of it is tested in test_launch_scripts.py) ---

def launch_ranks(tmp_path, rank_table_path, code, *options):
    """rank_table_launch.main running `python -c code` per rank into tmp_path/out; its exit status."""
    return rank_table_launch.main(['--rank_table', str(rank_table_path), '--output_dir', str(tmp_path / 'out'),
                                   *options, '--', sys.executable, '-c', code])


def test_cpu_shares_are_equal_runs_of_the_allowed_cpus():
    assert rank_table_launch.cpu_shares({5, 2, 3, 4, 7}, 2) == [[2, 3], [4, 5]]
    assert rank_table_launch.cpu_shares({0}, 2) is None
    assert [rank_table_launch.cpu_list_text(cpus) for cpus in ([4], [4, 5, 6], [1, 3])] == ['4', '4-6', '1,3']


def test_the_launcher_needs_a_server_for_a_table_of_several_servers():
    rank_table = parse_rank_table(table(('10.0.0.1', [device(0, 0)]), ('10.0.0.2', [device(0, 1)])))
    with pytest.raises(ZooError, match='lists 2 servers .*set SERVER_ID'):
        rank_table_launch.local_ranks(rank_table, None)
    assert [r.rank_id for r in rank_table_launch.local_ranks(rank_table, '10.0.0.2')] == [1]


@pytest.mark.parametrize('argv_tail, message', [((), "expected '-- COMMAND"), (('--',), "no command after '--'"),
                                                (('--log_tail_lines', '0', '--', 'true'), 'must be positive'),
                                                (('--no_such_option', '1', '--', 'true'), 'unrecognized')])
def test_launcher_mistakes_are_one_line_and_exit_2(tmp_path, capsys, argv_tail, message):
    status = rank_table_launch.main(['--rank_table', str(tmp_path / 'rt.json'), '--output_dir', str(tmp_path / 'out'),
                                     *argv_tail])
    assert status == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: ') and message in lines[0]


def test_an_invalid_table_starts_nothing(tmp_path, capsys):
    path = write_json(tmp_path / 'rt.json', table(('10.0.0.1', [device(0, 1)])))
    assert launch_ranks(tmp_path, path, 'pass') == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and 'error: invalid rank table' in lines[0] and 'nothing was started' in lines[0]
    assert not (tmp_path / 'out').exists()


def test_each_rank_runs_in_its_folder_with_the_table_environment(tmp_path, monkeypatch):
    monkeypatch.setenv('MS_ROLE', 'MS_WORKER')  # left by another launcher: must not reach the ranks
    path = write_json(tmp_path / 'rt.json', table(('10.0.0.1', [device(6, 0), device(7, 1)])))
    code = ('import json, os; print(json.dumps({"cwd": os.getcwd(), "env": {k: os.environ.get(k) for k in '
            '("RANK_TABLE_FILE", "RANK_SIZE", "RANK_ID", "DEVICE_ID", "MS_ROLE")}}))')
    assert launch_ranks(tmp_path, path, code) == 0
    for rank, device_id in enumerate((6, 7)):
        rank_dir = tmp_path / 'out' / f'train_parallel{rank}'
        seen = json.loads((rank_dir / 'log').read_text())
        assert seen == {'cwd': str(rank_dir), 'env': {'RANK_TABLE_FILE': str(path), 'RANK_SIZE': '2',
                                                      'RANK_ID': str(rank), 'DEVICE_ID': str(device_id),
                                                      'MS_ROLE': None}}


@pytest.mark.parametrize('users_value', [None, '900'])
def test_ranks_get_an_hccl_connect_timeout_for_a_slow_first_compile_unless_the_user_sets_one(tmp_path, monkeypatch,
                                                                                             users_value):
    monkeypatch.delenv('HCCL_CONNECT_TIMEOUT', raising=False)
    if users_value:
        monkeypatch.setenv('HCCL_CONNECT_TIMEOUT', users_value)  # the user's value wins
    path = write_json(tmp_path / 'rt.json', table(('10.0.0.1', [device(0, 0), device(1, 1)])))
    code = 'import os; print(os.environ.get("HCCL_CONNECT_TIMEOUT"))'
    assert launch_ranks(tmp_path, path, code) == 0
    for rank in range(2):
        seen = (tmp_path / 'out' / f'train_parallel{rank}' / 'log').read_text().strip()
        assert seen == (users_value or str(HCCL_TIMEOUTS['HCCL_CONNECT_TIMEOUT']))
    assert HCCL_TIMEOUTS['HCCL_CONNECT_TIMEOUT'] > HCCL_DEFAULT_CONNECT_TIMEOUT_S


@pytest.mark.parametrize('users_value', [None, '900'])
def test_the_shell_launchers_export_the_hccl_timeout_unless_the_environment_sets_it(users_value):
    environment = {k: v for k, v in os.environ.items() if not k.startswith('HCCL_')}
    if users_value:
        environment['HCCL_CONNECT_TIMEOUT'] = users_value
    script = 'eval "$(python -m zoo_core.runtime.hccl_env)"; echo "$HCCL_CONNECT_TIMEOUT"'
    result = subprocess.run(['bash', '-c', script], env=environment, capture_output=True, text=True, check=True)
    assert result.stdout.split() == [users_value or str(HCCL_TIMEOUTS['HCCL_CONNECT_TIMEOUT'])]
    assert 'eval "$(python -m zoo_core.runtime.hccl_env)"' in (REPO_ROOT / 'utils' / 'scripts' / 'common.sh').read_text()


def test_a_failing_rank_stops_the_others_even_one_that_ignores_sigterm(tmp_path, capsys, monkeypatch):
    grace_seconds = 0.5
    monkeypatch.setattr(rank_table_launch, 'STOP_GRACE_SECONDS', grace_seconds)
    path = write_json(tmp_path / 'rt.json', table(('10.0.0.1', [device(0, 0), device(1, 1)])))
    ready = tmp_path / 'ready'
    # Rank 0 ignores SIGTERM, then says it is ready; rank 1 fails once rank 0 is ready.
    code = (f'import os, pathlib, signal, sys, time\n'
            f'ready = pathlib.Path({str(ready)!r})\n'
            f'if os.environ["RANK_ID"] == "0":\n'
            f'    signal.signal(signal.SIGTERM, signal.SIG_IGN); ready.write_text(str(os.getpid())); time.sleep(60)\n'
            f'deadline = time.monotonic() + 30\n'
            f'while not ready.exists() and time.monotonic() < deadline: time.sleep(0.05)\n'
            f'print("Traceback (most recent call last):\\nRuntimeError: rank 1 gives up"); sys.exit(3)\n')
    started = time.monotonic()
    assert launch_ranks(tmp_path, path, code) == 1
    elapsed = time.monotonic() - started
    assert grace_seconds <= elapsed < 30  # rank 0 was killed after the grace period, not waited for
    err = capsys.readouterr().err
    assert 'rank 1 failed (exit status 3): stopping the other ranks' in err
    assert 'RuntimeError: rank 1 gives up' in err and str(tmp_path / 'out' / 'train_parallel1' / 'log') in err
    assert 'error: rank 1 (device 1) failed with exit status 3' in err
    with pytest.raises(ProcessLookupError):
        os.kill(int(ready.read_text()), 0)


# --- tables of several servers ---

def test_a_device_ip_given_twice_is_rejected():
    with pytest.raises(RankTableError, match='device_ip 192.168.9.9 is given twice'):
        parse_rank_table(table(('10.0.0.1', [device(0, 0, ip='192.168.9.9')]),
                               ('10.0.0.2', [device(0, 1, ip='192.168.9.9')])))


def test_several_servers_need_their_ranks_in_server_order():
    with pytest.raises(RankTableError, match=r'ranks of server 10.0.0.1 are 0, 2; .*expected 0..1'):
        parse_rank_table(table(('10.0.0.1', [device(0, 0), device(1, 2)]),
                               ('10.0.0.2', [device(0, 1), device(1, 3)])))
    with pytest.raises(RankTableError, match=r'ranks of server 10.0.0.2 are 2, 3; .*expected 0..1'):
        parse_rank_table(table(('10.0.0.2', [device(0, 2), device(1, 3)]),
                               ('10.0.0.1', [device(0, 0), device(1, 1)])))


def test_several_servers_need_server_count_and_ip_server_ids():
    document = table(('10.0.0.1', [device(0, 0)]), ('10.0.0.2', [device(0, 1)]))
    del document['server_count']
    with pytest.raises(RankTableError, match="table of 2 servers needs 'server_count'"):
        parse_rank_table(document)
    with pytest.raises(RankTableError, match="server_id of a table of several servers must be an IP address"):
        parse_rank_table(table(('node-a', [device(0, 0)]), ('10.0.0.2', [device(0, 1)])))


def write_server_table(tmp_path, server_ip, hccn_conf_text):
    """hccl_tools.py's 8-device table of one server, written with its own hccn.conf; returns its path."""
    conf = tmp_path / f'hccn_{server_ip}.conf'
    conf.write_text(hccn_conf_text, encoding='utf-8')
    output = tmp_path / f'{server_ip}.json'
    result = run_hccl_tools(tmp_path, '--server_ip', server_ip, '--hccn_conf', conf, '--output', output)
    assert result.returncode == 0, result.stderr
    return output


def test_hccl_tools_merges_the_servers_tables_into_one_of_16_ranks_in_server_order(tmp_path):
    second_conf = FAKE_HCCN_CONF.replace('.10\n', '.11\n')
    tables = [write_server_table(tmp_path, '10.0.0.1', FAKE_HCCN_CONF),
              write_server_table(tmp_path, '10.0.0.2', second_conf)]
    result = run_hccl_tools(tmp_path, '--merge', *tables)
    assert result.returncode == 0, result.stderr
    merged_path = tmp_path / 'hccl_16p_2s.json'
    merged = json.loads(merged_path.read_text())
    assert merged['server_count'] == '2'
    rank_table = load_rank_table(merged_path)
    assert rank_table.server_ids == ('10.0.0.1', '10.0.0.2')
    assert [(r.rank_id, r.device_id, r.server_id) for r in rank_table.ranks_of('10.0.0.2')] == [
        (8 + d, d, '10.0.0.2') for d in range(8)]
    assert rank_table.ranks[9].device_ip == '192.168.1.11'
    assert run_validator(merged_path, '--server_id', '10.0.0.2').stdout.splitlines()[:2] == ['RANK_SIZE 16',
                                                                                          '8 0 10.0.0.2']


def test_hccl_tools_refuses_to_merge_a_server_twice(tmp_path):
    first = write_server_table(tmp_path, '10.0.0.1', FAKE_HCCN_CONF)
    result = run_hccl_tools(tmp_path, '--merge', first, first)
    assert result.returncode == 2
    assert 'server_id 10.0.0.1 is listed twice' in result.stderr
    assert not (tmp_path / 'hccl_16p_2s.json').exists()
