"""Ascend rank tables (HCCL `version 1.0` JSON): load and validate one, before any process is started.

A rank table lists the servers of a job and, per server, its devices:
`{"server_list": [{"server_id": "10.0.0.1", "device": [{"device_id": "0", "device_ip": "192.1.1.6",
"rank_id": "0"}, ...]}], ...}`. Numbers may be JSON strings (as `hccl_tools.py` writes them) or integers.
Every table: rank ids exactly 0..n-1, each once; device ids unique per server; device IPs unique. A table
of several servers also: `server_count` given and equal to the servers listed, each `server_id` an IP
address, and the ranks in server order (server k's ranks one block, after server k-1's), as HCCL
numbers them and `hccl_tools.py --merge` writes them.

Command line, for the launch scripts:
    python -m zoo_core.runtime.rank_table validate FILE [--server_id ID]
prints `RANK_SIZE <n>` and then one `<rank_id> <device_id> <server_id>` line per rank (ordered by rank;
only the ranks of server ID with --server_id), or a message on stderr and exit status 2.
"""
import argparse
import ipaddress
import json
import sys
from dataclasses import dataclass
from typing import List, Tuple

from zoo_core.runtime.errors import ZooError

EXIT_INVALID = 2
DEVICE_KEYS = ('device_id', 'device_ip', 'rank_id')


class RankTableError(ZooError):
    """A rank table that cannot be used: unreadable, not JSON, or not a consistent list of ranks."""


@dataclass(frozen=True)
class RankEntry:
    """One rank of the job: its global rank id, the physical device it runs on, and that device's server."""
    rank_id: int
    device_id: int
    device_ip: str
    server_id: str


@dataclass(frozen=True)
class RankTable:
    """A validated rank table; `ranks` is ordered by rank id (0..rank_size-1)."""
    path: str
    ranks: Tuple[RankEntry, ...]

    @property
    def rank_size(self):
        """Number of ranks of the whole job (all servers)."""
        return len(self.ranks)

    @property
    def server_ids(self):
        """The servers in the order the table lists them."""
        return tuple(dict.fromkeys(entry.server_id for entry in self.ranks))

    def ranks_of(self, server_id):
        """The ranks that run on `server_id` (the ones a launcher on that server starts)."""
        if server_id not in self.server_ids:
            raise RankTableError(f"{self.path}: no server {server_id!r} in the rank table "
                                 f"(servers: {', '.join(self.server_ids)})")
        return tuple(entry for entry in self.ranks if entry.server_id == server_id)


def _non_negative_int(value, what):
    """`value` (an int or a string of digits, as rank tables write them) as an int >= 0."""
    if isinstance(value, bool):  # bool is an int subclass; `true` is no device number
        raise RankTableError(f"{what} must be a non-negative integer, got {value!r}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    else:
        raise RankTableError(f"{what} must be a non-negative integer, got {value!r}")
    if number < 0:
        raise RankTableError(f"{what} must be a non-negative integer, got {value!r}")
    return number


def _ip_address(value, what):
    """`value` checked to be an IPv4 or IPv6 address string."""
    try:
        ipaddress.ip_address(str(value).strip())
    except ValueError:
        raise RankTableError(f"{what} must be an IP address, got {value!r}") from None
    return str(value).strip()


def _read_json(path):
    """The parsed JSON document at `path`, or a RankTableError saying why it cannot be read."""
    try:
        with open(path, encoding='utf-8') as handle:
            text = handle.read()
    except FileNotFoundError:
        raise RankTableError(f"rank table file not found: {path}") from None
    except IsADirectoryError:
        raise RankTableError(f"rank table path is a directory, not a file: {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise RankTableError(f"cannot read rank table file {path}: {error}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise RankTableError(f"{path} is not valid JSON: {error.msg} at line {error.lineno} "
                             f"column {error.colno}") from None


def _server_entries(path, index, server):
    """The RankEntry list of one `server_list` item, checking its fields and device ids."""
    where = f"{path}: server_list[{index}]"
    if not isinstance(server, dict):
        raise RankTableError(f"{where} must be an object, got {type(server).__name__}")
    server_id = server.get('server_id')
    if not isinstance(server_id, str) or not server_id.strip():
        raise RankTableError(f"{where} has no 'server_id' (the server's IP address)")
    server_id = server_id.strip()
    devices = server.get('device')
    if not isinstance(devices, list) or not devices:
        raise RankTableError(f"{where} (server {server_id}) needs a non-empty 'device' list")
    entries = []
    seen_device_ids = {}
    for device_index, device in enumerate(devices):
        device_where = f"{where}.device[{device_index}]"
        if not isinstance(device, dict):
            raise RankTableError(f"{device_where} must be an object, got {type(device).__name__}")
        missing = [key for key in DEVICE_KEYS if key not in device]
        if missing:
            raise RankTableError(f"{device_where} misses {', '.join(repr(key) for key in missing)} "
                                 f"(each device needs {', '.join(DEVICE_KEYS)})")
        device_id = _non_negative_int(device['device_id'], f"{device_where}.device_id")
        if device_id in seen_device_ids:
            raise RankTableError(f"{where} (server {server_id}): device_id {device_id} appears twice "
                                 f"(device[{seen_device_ids[device_id]}] and device[{device_index}])")
        seen_device_ids[device_id] = device_index
        entries.append(RankEntry(
            rank_id=_non_negative_int(device['rank_id'], f"{device_where}.rank_id"),
            device_id=device_id,
            device_ip=_ip_address(device['device_ip'], f"{device_where}.device_ip"),
            server_id=server_id))
    return entries


def _entries_by(path, entries, field):
    """{value: entry} of the job's entries by `field` ('rank_id', 'device_ip'), each value given once."""
    seen = {}
    for entry in entries:
        value = getattr(entry, field)
        if value in seen:
            other = seen[value]
            raise RankTableError(f"{path}: {field} {value} is given twice (device {other.device_id} "
                                 f"of {other.server_id} and device {entry.device_id} of {entry.server_id})")
        seen[value] = entry
    return seen


def _check_several_servers(path, document, servers, entries):
    """A table of several servers: its server_count, the servers' IP addresses, its ranks in server order."""
    if 'server_count' not in document:
        raise RankTableError(f"{path}: a table of {len(servers)} servers needs 'server_count' "
                             f"(utils/hccl_tools.py --merge writes it)")
    for entry in entries:
        _ip_address(entry.server_id, f"{path}: server_id of a table of several servers")
    previous_last = -1
    for server_id in dict.fromkeys(entry.server_id for entry in entries):
        ranks = sorted(entry.rank_id for entry in entries if entry.server_id == server_id)
        if ranks[0] != previous_last + 1 or ranks != list(range(ranks[0], ranks[0] + len(ranks))):
            raise RankTableError(f"{path}: the ranks of server {server_id} are {', '.join(map(str, ranks))}; in a "
                                 f"table of several servers each server's ranks follow the previous server's "
                                 f"(expected {previous_last + 1}..{previous_last + len(ranks)})")
        previous_last = ranks[-1]


def parse_rank_table(document, path='<rank table>'):
    """A RankTable from an already parsed JSON `document`; `path` only names it in messages."""
    if not isinstance(document, dict):
        raise RankTableError(f"{path}: the rank table must be a JSON object, got {type(document).__name__}")
    servers = document.get('server_list')
    if servers is None:
        raise RankTableError(f"{path} has no 'server_list' (expected the HCCL rank table format "
                             f"version 1.0, as written by utils/hccl_tools.py)")
    if not isinstance(servers, list) or not servers:
        raise RankTableError(f"{path}: 'server_list' must be a non-empty list")
    if 'server_count' in document:
        server_count = _non_negative_int(document['server_count'], f"{path}: server_count")
        if server_count != len(servers):
            raise RankTableError(f"{path}: server_count is {server_count} but server_list has "
                                 f"{len(servers)} servers")
    entries: List[RankEntry] = []
    server_index = {}
    for index, server in enumerate(servers):
        server_entries = _server_entries(path, index, server)
        server_id = server_entries[0].server_id
        if server_id in server_index:
            raise RankTableError(f"{path}: server_id {server_id} is listed twice (server_list[{server_index[server_id]}]"
                                 f" and server_list[{index}])")
        server_index[server_id] = index
        entries.extend(server_entries)

    by_rank = _entries_by(path, entries, 'rank_id')
    missing = sorted(set(range(len(entries))) - set(by_rank))
    if missing:
        raise RankTableError(f"{path}: rank ids must be exactly 0..{len(entries) - 1} for {len(entries)} devices; "
                             f"missing {', '.join(map(str, missing))}, found {', '.join(map(str, sorted(by_rank)))}")
    _entries_by(path, entries, 'device_ip')  # each device IP belongs to one device of the job
    if len(servers) > 1:
        _check_several_servers(path, document, servers, entries)
    return RankTable(path=path, ranks=tuple(by_rank[rank] for rank in range(len(entries))))


def load_rank_table(path):
    """Read and validate the rank table at `path`; raises RankTableError with the reason if it is unusable."""
    return parse_rank_table(_read_json(str(path)), str(path))


def _validate_command(args):
    """`validate` subcommand: the launcher's view of the table on stdout; exit status 2 if invalid."""
    try:
        table = load_rank_table(args.file)
        ranks = table.ranks if args.server_id is None else table.ranks_of(args.server_id)
    except RankTableError as error:
        print(f"invalid rank table: {error}", file=sys.stderr)
        return EXIT_INVALID
    print(f"RANK_SIZE {table.rank_size}")
    for entry in ranks:
        print(f"{entry.rank_id} {entry.device_id} {entry.server_id}")
    return 0


def main(argv=None):
    """Command line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(prog='python -m zoo_core.runtime.rank_table', description=__doc__.split('\n')[0])
    commands = parser.add_subparsers(dest='command', required=True)
    validate = commands.add_parser('validate', help='check a rank table and list its ranks for a launcher')
    validate.add_argument('file', help='the rank table JSON file')
    validate.add_argument('--server_id', default=None,
                          help='list only the ranks of this server (multi-server tables)')
    args = parser.parse_args(argv)
    return _validate_command(args)


if __name__ == '__main__':
    sys.exit(main())
