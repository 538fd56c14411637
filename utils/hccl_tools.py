"""Write the Ascend rank table (HCCL JSON, version 1.0) of this server's devices, for run_distribute_train.sh.

    python utils/hccl_tools.py --device_num "[0,8)"            # all 8 devices of an Ascend 910 server
    python utils/hccl_tools.py --device_num "[0,4)" --visible_devices 0,1,2,3 --server_ip 10.0.0.1
    python utils/hccl_tools.py --merge hccl_8p_01234567_10.0.0.1.json hccl_8p_01234567_10.0.0.2.json

The device IPs come from `/etc/hccn.conf` (lines `address_<device>=<ip>`, written by the driver's hccn_tool).
`--merge` joins the tables written on each server into the table of the whole job: the servers in the
order given, their ranks renumbered so that each server's follow the previous one's (server 0: 0..7,
server 1: 8..15, ...). Every table is validated with `zoo_core.runtime.rank_table` before it is written.
"""
import argparse
import json
import os
import re
import socket
import sys

from zoo_core.runtime.errors import ZooError, run_command
from zoo_core.runtime.rank_table import load_rank_table, parse_rank_table

DEFAULT_HCCN_CONF = '/etc/hccn.conf'
DEVICES_PER_SERVER = 8
# The 8 devices of an Ascend 910 server form two HCCS groups of 4: a job uses one group or the whole server.
DEVICE_GROUP_SIZE = 4
DEVICE_RANGE = re.compile(r'^\s*\[\s*(\d+)\s*,\s*(\d+)\s*\)\s*$')
HCCN_ADDRESS = re.compile(r'^\s*address_(\d+)\s*=\s*(\S+)\s*$')


class HcclToolsError(ZooError):
    """An argument or system file that does not allow writing a rank table."""


def parse_device_range(text):
    """The device indices of a half-open range "[first,last)", checked against the Ascend 910 topology."""
    match = DEVICE_RANGE.match(text)
    if not match:
        raise HcclToolsError(f'--device_num must look like "[0,8)" (a half-open range), got {text!r}')
    first, last = int(match.group(1)), int(match.group(2))
    if not 0 <= first < last <= DEVICES_PER_SERVER:
        raise HcclToolsError(f'--device_num {text}: need 0 <= first < last <= {DEVICES_PER_SERVER}')
    crosses_groups = first < DEVICE_GROUP_SIZE < last
    if crosses_groups and (first, last) != (0, DEVICES_PER_SERVER):
        raise HcclToolsError(f'--device_num {text}: the devices must lie within [0,{DEVICE_GROUP_SIZE}) or '
                             f'[{DEVICE_GROUP_SIZE},{DEVICES_PER_SERVER}), or be all of [0,{DEVICES_PER_SERVER})')
    return list(range(first, last))


def parse_visible_devices(text):
    """The physical device ids listed in "0,1,2,..." (unique, non-negative)."""
    items = [item.strip() for item in text.split(',') if item.strip()]
    if not items or not all(item.isdigit() for item in items):
        raise HcclToolsError(f'--visible_devices must be a comma separated list of device ids, got {text!r}')
    devices = [int(item) for item in items]
    if len(set(devices)) != len(devices):
        raise HcclToolsError(f'--visible_devices lists a device twice: {text!r}')
    return devices


def read_device_ips(hccn_conf):
    """{device id: device IP} from an hccn.conf file (`address_<id>=<ip>` lines)."""
    try:
        with open(hccn_conf, encoding='utf-8') as handle:
            lines = handle.readlines()
    except FileNotFoundError:
        raise HcclToolsError(f'{hccn_conf} not found: it holds the Ascend device IPs (address_<id>=<ip>) and is '
                             f'written when the NPU network is configured with hccn_tool; on a machine without '
                             f'Ascend devices there is no rank table to make (use --hccn_conf to point elsewhere)'
                             ) from None
    except OSError as error:
        raise HcclToolsError(f'cannot read {hccn_conf}: {error}') from None
    device_ips = {}
    for line in lines:
        match = HCCN_ADDRESS.match(line)
        if match:
            device_ips[int(match.group(1))] = match.group(2)
    if not device_ips:
        raise HcclToolsError(f'{hccn_conf} has no address_<device>=<ip> line')
    return device_ips


def local_ip():
    """This host's outgoing IPv4 address (no packet is sent), or '' when it has no route."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(('10.255.255.255', 1))
            return probe.getsockname()[0]
        except OSError:
            return ''


def build_rank_table(device_indices, visible_devices, device_ips, server_id):
    """The rank table dict: rank r runs on visible_devices[device_indices[r]]."""
    if len(visible_devices) <= device_indices[-1]:
        raise HcclToolsError(f'--visible_devices has {len(visible_devices)} devices, too few for device indices '
                             f'{device_indices[0]}..{device_indices[-1]}')
    devices = []
    for rank_id, index in enumerate(device_indices):
        device_id = visible_devices[index]
        if device_id not in device_ips:
            raise HcclToolsError(f'no address_{device_id} line in the hccn.conf for device {device_id}')
        devices.append({'device_id': str(device_id), 'device_ip': device_ips[device_id], 'rank_id': str(rank_id)})
    return {
        'version': '1.0',
        'server_count': '1',
        'server_list': [{'server_id': server_id, 'device': devices, 'host_nic_ip': 'reserve'}],
        'status': 'completed',
    }


def default_table_name(device_indices, server_id):
    """The ModelZoo's file name: hccl_<n>p_<device indices>_<server>.json."""
    return f"hccl_{len(device_indices)}p_{''.join(map(str, device_indices))}_{server_id}.json"


def merge_rank_tables(paths):
    """The rank table of the job whose servers' tables are the files `paths`, in that order: each server's
    ranks renumbered to follow the previous server's, in the order of their own rank ids."""
    servers = []
    for path in paths:
        table = load_rank_table(path)
        servers += [(server_id, table.ranks_of(server_id)) for server_id in table.server_ids]
    server_list, next_rank = [], 0
    for server_id, ranks in servers:
        devices = [{'device_id': str(entry.device_id), 'device_ip': entry.device_ip, 'rank_id': str(next_rank + k)}
                   for k, entry in enumerate(ranks)]
        server_list.append({'server_id': server_id, 'device': devices, 'host_nic_ip': 'reserve'})
        next_rank += len(ranks)
    return {'version': '1.0', 'server_count': str(len(server_list)), 'server_list': server_list,
            'status': 'completed'}


def default_merged_name(table):
    """hccl_<ranks>p_<servers>s.json."""
    ranks = sum(len(server['device']) for server in table['server_list'])
    return f"hccl_{ranks}p_{len(table['server_list'])}s.json"


def parse_args(argv=None):
    """Command line of the tool."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device_num', default=f'[0,{DEVICES_PER_SERVER})',
                        help='half-open range of device indices to use, e.g. "[0,8)", "[0,4)", "[4,8)", "[0,1)"')
    parser.add_argument('--visible_devices', default=','.join(map(str, range(DEVICES_PER_SERVER))),
                        help='the physical device ids, in the order the indices of --device_num refer to')
    parser.add_argument('--server_ip', default='', help="this server's IP (default: the host's outgoing IP)")
    parser.add_argument('--hccn_conf', default=DEFAULT_HCCN_CONF, help='file with the device IPs')
    parser.add_argument('--merge', nargs='+', default=None, metavar='TABLE',
                        help="join these servers' rank tables into one (the options above are then unused)")
    parser.add_argument('--output', default='',
                        help='rank table file to write (default: ./hccl_<n>p_<devices>_<server_ip>.json; '
                             'with --merge ./hccl_<n>p_<servers>s.json)')
    return parser.parse_args(argv)


def write_rank_table(args):
    """Build (or merge), validate and write the rank table that the parsed command line `args` describes."""
    if args.merge:
        table = merge_rank_tables(args.merge)
        output = os.path.realpath(args.output or default_merged_name(table))
    else:
        device_indices = parse_device_range(args.device_num)
        visible_devices = parse_visible_devices(args.visible_devices)
        server_id = args.server_ip or local_ip()
        if not server_id:
            raise HcclToolsError('cannot find this host\'s IP address; give it with --server_ip')
        table = build_rank_table(device_indices, visible_devices, read_device_ips(args.hccn_conf), server_id)
        output = os.path.realpath(args.output or default_table_name(device_indices, server_id))
    parse_rank_table(table, output)  # a RankTableError (a ZooError) before anything is written
    with open(output, 'w', encoding='utf-8') as handle:
        json.dump(table, handle, indent=4)
        handle.write('\n')
    for server in table['server_list']:
        for device in server['device']:
            print(f"server:{server['server_id']} rank_id:{device['rank_id']} device_id:{device['device_id']} "
                  f"device_ip:{device['device_ip']}")
    print(f'rank table written to {output}')


def main(argv=None):
    """Write the rank table; returns the exit status (2 with a one-line message on a bad argument or
    system file)."""
    return run_command(write_rank_table, parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
