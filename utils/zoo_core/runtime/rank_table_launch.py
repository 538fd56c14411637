"""Start the ranks of an Ascend rank table that run on this server, and supervise them until they end.

    python -m zoo_core.runtime.rank_table_launch --rank_table FILE --output_dir OUT [--server_id ID]
        [--log_tail_lines N] -- COMMAND [ARGS...]

The table is loaded and validated (`zoo_core.runtime.rank_table`) before anything is created or started.
Each rank of this server (`--server_id`; needed only when the table lists several servers) then runs
COMMAND:

- in `OUT/train_parallel<rank>/`, its stdout and stderr going to the file `log` there;
- with `RANK_TABLE_FILE`, `RANK_SIZE`, `RANK_ID` and `DEVICE_ID` set, and the variables of the dynamic-cluster
  launchers (msrun, mpirun) removed: left in the shell, they would take precedence over the table;
- pinned with `taskset` to its share of the CPUs this process may use (as many consecutive ones each);
- in a session of its own, so that stopping a rank also stops its children (dataset workers).

Then it waits for all of them. When a rank fails, the others (which would wait for it in HCCL) get SIGTERM,
SIGKILL after `STOP_GRACE_SECONDS`, the failing rank's log tail is printed and the exit status is 1.
SIGINT or SIGTERM stops every rank the same way; exit status 130. A user mistake (an invalid table, a
table of several servers without `--server_id`) is one line `error: ...` on stderr, exit status 2, and
nothing is started. Standard library only: no MindSpore import.
"""
import argparse
import collections
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

from zoo_core.runtime.errors import EXIT_OK, RunFailedError, ZooError, report, run_command
from zoo_core.runtime.hccl_env import with_hccl_timeouts
from zoo_core.runtime.rank_table import RankTableError, load_rank_table

EXIT_INTERRUPTED = 130
# Seconds the other ranks get to exit after SIGTERM before SIGKILL.
STOP_GRACE_SECONDS = 10
# Seconds between two looks at the ranks while waiting for them.
POLL_SECONDS = 0.2
DEFAULT_LOG_TAIL_LINES = 40
# A process ended by signal N is reported as exit status 128 + N, as a shell does.
SIGNAL_EXIT_STATUS_BASE = 128
RANK_DIR_PREFIX = 'train_parallel'
RANK_LOG_NAME = 'log'
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# Variables by which msrun/mpirun launches are recognised (zoo_core.runtime.distributed): not for these ranks.
OTHER_LAUNCHER_ENV_VARS = ('MS_ROLE', 'MS_WORKER_NUM', 'MS_SCHED_HOST', 'MS_SCHED_PORT', 'MS_NODE_ID')


def say(message):
    """A progress line on stdout, flushed at once (it interleaves with the shell's own lines)."""
    print(message, flush=True)


def local_ranks(table, server_id):
    """The ranks of `table` that run on this server: the ranks of `server_id`, or all of a one-server table."""
    if server_id is not None:
        return table.ranks_of(server_id)
    if len(table.server_ids) > 1:
        raise ZooError(f"{table.path} lists {len(table.server_ids)} servers ({' '.join(table.server_ids)}); "
                       f"set SERVER_ID (--server_id) to this server's server_id and run the launch on every "
                       f"server; nothing was started")
    return table.ranks


def cpu_shares(allowed_cpus, count):
    """`count` lists of len(allowed_cpus) // count consecutive CPUs of `allowed_cpus`, or None if too few."""
    cpus = sorted(allowed_cpus)
    per_rank = len(cpus) // count
    if per_rank == 0:
        return None
    return [cpus[index * per_rank:(index + 1) * per_rank] for index in range(count)]


def cpu_list_text(cpus):
    """The CPUs as `taskset -c` takes them: "a-b" when consecutive, else "a,b,..."."""
    if len(cpus) > 1 and cpus[-1] - cpus[0] == len(cpus) - 1:
        return f"{cpus[0]}-{cpus[-1]}"
    return ','.join(map(str, cpus))


def exit_status(returncode):
    """A Popen return code as a shell reports it (128 + N for a process ended by signal N)."""
    return SIGNAL_EXIT_STATUS_BASE - returncode if returncode < 0 else returncode


def log_tail(path, lines):
    """The last `lines` lines of the log at `path`, framed as the shell launchers print them."""
    try:
        with open(path, encoding='utf-8', errors='replace') as handle:
            tail = ''.join(collections.deque(handle, maxlen=lines))
    except OSError as error:
        tail = f"(cannot read the log: {error})\n"
    return f"----- last {lines} lines of {path} -----\n{tail}----- end of {path} -----"


@dataclass
class Rank:
    """One started rank: its table entry, its log and its process."""
    rank_id: int
    device_id: int
    log_path: str
    process: subprocess.Popen


class RankSupervisor:
    """Starts the local ranks, waits for them, and stops them all on a failure or a stop signal."""

    def __init__(self, table, entries, output_dir, command, log_tail_lines):
        self.table = table
        self.entries = entries
        self.output_dir = output_dir
        self.command = command
        self.log_tail_lines = log_tail_lines
        self.ranks = []
        self.signal_received = False
        self.kill_deadline = None

    def logs_note(self):
        """Where the ranks' logs are, for the messages."""
        return f"logs: {self.output_dir}/{RANK_DIR_PREFIX}<rank>/{RANK_LOG_NAME}"

    def on_signal(self, *_):
        """Handler of the stop signals: only notes the signal; the waiting loop stops the ranks."""
        self.signal_received = True

    def rank_environment(self, entry):
        """This process's environment for one rank: the table's variables in, other launchers' out."""
        env = with_hccl_timeouts({key: value for key, value in os.environ.items() if key not in OTHER_LAUNCHER_ENV_VARS})
        env.update(RANK_TABLE_FILE=self.table.path, RANK_SIZE=str(self.table.rank_size),
                   RANK_ID=str(entry.rank_id), DEVICE_ID=str(entry.device_id))
        return env

    def pinning(self):
        """Per local rank, the `taskset` prefix of its command ([] for all when the ranks are not pinned)."""
        taskset = shutil.which('taskset')
        allowed = os.sched_getaffinity(0)
        shares = cpu_shares(allowed, len(self.entries))
        if taskset is None:
            say("taskset not found: the ranks are not pinned to CPU cores")
        elif shares is None:
            say(f"{len(allowed)} CPUs for {len(self.entries)} ranks: the ranks are not pinned to CPU cores")
        else:
            return [[taskset, '-c', cpu_list_text(share)] for share in shares]
        return [[] for _ in self.entries]

    def start(self):
        """Start every local rank (unless a stop signal comes first)."""
        try:
            os.makedirs(self.output_dir, exist_ok=True)
        except OSError as error:
            raise RunFailedError(f"cannot create the output folder {self.output_dir}: {error}") from None
        say(f"starting {len(self.entries)} of {self.table.rank_size} ranks of {self.table.path}: "
            f"{shlex.join(self.command)}; {self.logs_note()}")
        for entry, prefix in zip(self.entries, self.pinning()):
            if self.signal_received:
                break
            rank_dir = os.path.join(self.output_dir, f"{RANK_DIR_PREFIX}{entry.rank_id}")
            os.makedirs(rank_dir, exist_ok=True)
            log_path = os.path.join(rank_dir, RANK_LOG_NAME)
            with open(log_path, 'wb') as log:
                process = subprocess.Popen(prefix + self.command, cwd=rank_dir, env=self.rank_environment(entry),
                                           stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                           start_new_session=True)
            self.ranks.append(Rank(entry.rank_id, entry.device_id, log_path, process))
            cpus = f", CPUs {prefix[-1]}" if prefix else ""
            say(f"rank {entry.rank_id}: device {entry.device_id}{cpus}, pid {process.pid}")

    def stop(self, signum):
        """Send `signum` to every rank's session (the rank and its children)."""
        for rank in self.ranks:
            try:
                os.killpg(rank.process.pid, signum)
            except ProcessLookupError:
                pass

    def stop_all(self):
        """SIGTERM to every rank now, SIGKILL to those still running after the grace period."""
        self.stop(signal.SIGTERM)
        self.kill_deadline = time.monotonic() + STOP_GRACE_SECONDS

    def wait(self):
        """Wait for every rank; returns the first rank that failed by itself and its exit status, or None."""
        failed = None
        interrupted = False
        running = list(self.ranks)
        while running:
            if self.signal_received and not interrupted:
                interrupted = True
                print("interrupted: stopping all ranks", file=sys.stderr)
                self.stop_all()
            for rank in list(running):
                returncode = rank.process.poll()
                if returncode is None:
                    continue
                running.remove(rank)
                if returncode != 0 and failed is None and not self.signal_received:
                    failed = (rank, exit_status(returncode))
                    print(f"rank {rank.rank_id} failed (exit status {failed[1]}): stopping the other ranks",
                          file=sys.stderr)
                    self.stop_all()
            if running and self.kill_deadline is not None and time.monotonic() >= self.kill_deadline:
                self.stop(signal.SIGKILL)
                self.kill_deadline = None
            if running:
                time.sleep(POLL_SECONDS)
        return failed

    def run(self):
        """Start, wait, report; returns the exit status (EXIT_OK or EXIT_INTERRUPTED) or raises RunFailedError."""
        self.start()
        failed = self.wait()
        if self.signal_received:
            report(f"interrupted; all ranks were stopped; {self.logs_note()}")
            return EXIT_INTERRUPTED
        if failed is not None:
            rank, status = failed
            print(log_tail(rank.log_path, self.log_tail_lines), file=sys.stderr)
            raise RunFailedError(f"rank {rank.rank_id} (device {rank.device_id}) failed with exit status {status}; "
                                 f"{self.logs_note()}")
        say(f"all {len(self.ranks)} ranks finished; {self.logs_note()}")
        return EXIT_OK


class OneLineErrorParser(argparse.ArgumentParser):
    """An argument parser whose mistakes raise ZooError (one `error: ...` line, exit status 2) instead of exiting."""

    def error(self, message):
        raise ZooError(f"{self.prog}: {message}")


def parse_args(argv):
    """The options before `--`, and the command after it."""
    if '--' not in argv:
        raise ZooError("expected '-- COMMAND [ARGS...]' after the options (the command each rank runs)")
    split = argv.index('--')
    parser = OneLineErrorParser(prog='python -m zoo_core.runtime.rank_table_launch',
                                description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--rank_table', required=True, help="HCCL rank table JSON (version 1.0)")
    parser.add_argument('--output_dir', required=True, help="folder of the ranks' train_parallel<rank>/ folders")
    parser.add_argument('--server_id', default=None, help="this server's server_id (tables of several servers)")
    parser.add_argument('--log_tail_lines', type=int, default=DEFAULT_LOG_TAIL_LINES,
                        help="lines of the failing rank's log printed on failure")
    args = parser.parse_args(argv[:split])
    args.command = argv[split + 1:]
    if not args.command:
        raise ZooError("no command after '--'")
    if args.log_tail_lines <= 0:
        raise ZooError(f"--log_tail_lines must be positive, got {args.log_tail_lines}")
    return args


def launch(argv):
    """Validate, then start and supervise the ranks; returns the exit status (see the module docstring)."""
    args = parse_args(argv)
    try:
        table = load_rank_table(os.path.realpath(args.rank_table))
        entries = local_ranks(table, args.server_id)
    except RankTableError as error:
        raise ZooError(f"invalid rank table: {error}; nothing was started") from None
    supervisor = RankSupervisor(table, entries, output_dir=os.path.realpath(args.output_dir),
                                command=args.command, log_tail_lines=args.log_tail_lines)
    previous_handlers = {signum: signal.signal(signum, supervisor.on_signal) for signum in STOP_SIGNALS}
    try:
        return supervisor.run()
    finally:
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)


def main(argv=None):
    """Command line entry point; returns the exit status."""
    return run_command(launch, sys.argv[1:] if argv is None else list(argv))


if __name__ == '__main__':
    sys.exit(main())
