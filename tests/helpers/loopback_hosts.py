"""Two "hosts" on this machine for multi-host msrun tests: host 0 at 127.0.0.1, host 1 reaching it at 127.0.0.2.

msrun starts the scheduler on the host whose own address is `--master_addr`. Were both launches given
127.0.0.1, both would start one, as no two real hosts would. So host 1 is given `HOST1_MASTER_ADDR`
(127.0.0.2: on the loopback network but not an address of this machine's interfaces, so msrun on host 1
starts no scheduler, as on a second machine), and a `TcpRelay` carries 127.0.0.2:PORT to the scheduler on
127.0.0.1:PORT. Everything else (the workers' own connections) goes over 127.0.0.1 as it would over the
hosts' network.

The relay listens only once the scheduler does: until then a connection to 127.0.0.2:PORT is refused, as one to
a real host whose scheduler has not started. (A relay that accepted and then hung up instead left MindSpore
2.7.0's worker retrying a dead connection until the cluster timed out.)
"""
import os
import signal
import socket
import threading
import time

HOST0_MASTER_ADDR = '127.0.0.1'
HOST1_MASTER_ADDR = '127.0.0.2'
RELAY_BUFFER_BYTES = 1 << 16
RELAY_BACKLOG = 64
# How often the relay looks for the scheduler before it starts listening.
SCHEDULER_POLL_S = 0.05


def free_port(host=HOST0_MASTER_ADDR):
    """A TCP port free on `host` now."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class TcpRelay:
    """Forwards every connection to (listen_host, port) to (target_host, port), in daemon threads."""

    def __init__(self, port, listen_host=HOST1_MASTER_ADDR, target_host=HOST0_MASTER_ADDR):
        self.target = (target_host, port)
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind((listen_host, port))
        self.connections = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _target_listens(self):
        try:
            socket.create_connection(self.target).close()
        except OSError:
            return False
        return True

    def _accept(self):
        while not self.closed and not self._target_listens():
            time.sleep(SCHEDULER_POLL_S)
        try:
            self.server.listen(RELAY_BACKLOG)
        except OSError:
            return
        while not self.closed:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            self.connections += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()

    @staticmethod
    def _pipe(source, sink):
        try:
            while True:
                data = source.recv(RELAY_BUFFER_BYTES)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        """Stop accepting and cut every relayed connection."""
        self.closed = True
        self.server.close()
        for connection in self.connections:
            try:
                connection.close()
            except OSError:
                pass


def descendants(pid):
    """Every process below `pid` (children first found through /proc), whatever session they run in."""
    found, queue = [], [pid]
    while queue:
        parent = queue.pop()
        try:
            tasks = os.listdir(f'/proc/{parent}/task')
        except FileNotFoundError:
            continue
        for task in tasks:
            try:
                with open(f'/proc/{parent}/task/{task}/children', encoding='ascii') as handle:
                    children = [int(child) for child in handle.read().split()]
            except FileNotFoundError:
                continue
            found += children
            queue += children
    return found


def kill_host(pid):
    """SIGKILL `pid` and all its descendants at once, as a host losing power would stop them."""
    victims = descendants(pid) + [pid]
    for victim in victims:
        try:
            os.kill(victim, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return victims
