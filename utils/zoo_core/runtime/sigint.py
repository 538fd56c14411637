"""Keeping Ctrl-C a SIGINT while MindSpore runs a graph.

At the start of every graph run, MindSpore (`GraphScheduler::Run`, `SignalGuard`) installs a C handler for
SIGINT that logs "receive KeyboardInterrupt signal" and sends the process a SIGTERM; after the first run
another such handler of MindSpore's stays installed between runs (seen on 2.10: three handler addresses).
A Ctrl-C during a training step or an eval batch then looks like a scheduler's SIGTERM: the wrong message
and exit 143 instead of 130.

`KeepSigint` undoes both: a watcher thread reads SIGINT's C-level handler every `POLL_INTERVAL_S` (graph
runs release the GIL, so it runs during them) and puts back Python's, which runs the command's own Ctrl-C
handling after the step. A SIGTERM is never touched: it always means a SIGTERM.

What is left: a Ctrl-C in the first `POLL_INTERVAL_S` of a graph run, before the watcher's look, still
arrives as a SIGTERM. Measured on MindSpore 2.10 (CPU), SIGINTs sent at random moments: 290 of 300 kept
during 7 ms graph runs (without the watch: 0 of 50), so about one in a thousand for the steps of a real
network (100 ms and more). Such a SIGINT can also deadlock the process: MindSpore's handler logs, which
allocates, inside the signal handler, and hangs when the signal interrupted the main thread inside `malloc`
(seen once on 2.7.0 under load). Telling MindSpore's SIGTERM from a real one would need the sender's pid, which a
Python handler does not get; guessing from the timing mistook up to 65% of real SIGTERMs during short
graph runs, so it is not done. Linux only (glibc's `struct sigaction`); elsewhere, and when SIGINT has no
handler of Python's, it does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import signal
import sys
import threading
from typing import Optional, cast

# How often the watcher looks at SIGINT's handler while a command runs.
POLL_INTERVAL_S = 0.001
# Room for glibc's `struct sigaction` (152 bytes on x86_64 and aarch64); the handler is its first field.
SIGACTION_BUFFER_BYTES = 256
# The two handler values that are dispositions, not functions (SIG_DFL, SIG_IGN): the watcher leaves them.
DISPOSITION_VALUES = (int(signal.SIG_DFL), int(signal.SIG_IGN))


def _libc() -> Optional[ctypes.CDLL]:
    """The C library, on Linux; None elsewhere."""
    if not sys.platform.startswith('linux'):
        return None
    return ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6', use_errno=True)


class KeepSigint:
    """Between `start()` and `stop()` (or as a context manager), a SIGINT handler installed by MindSpore's
    graph runs is replaced with the one Python had at the start. Start it from the main thread."""

    def __init__(self) -> None:
        self._libc = _libc()
        self._saved: Optional[ctypes.Array[ctypes.c_char]] = None
        self._stop = threading.Event()
        self._watcher: Optional[threading.Thread] = None
        self._depth = 0

    def _read(self) -> Optional[ctypes.Array[ctypes.c_char]]:
        action = ctypes.create_string_buffer(SIGACTION_BUFFER_BYTES)
        if cast(ctypes.CDLL, self._libc).sigaction(int(signal.SIGINT), None, action) != 0:
            return None
        return action

    @staticmethod
    def _handler(action: ctypes.Array[ctypes.c_char]) -> int:
        return ctypes.c_void_p.from_buffer(action).value or 0

    def _poll(self) -> None:
        current = self._read()
        # The watch runs only with a C library and a saved action (`start`).
        saved = cast('ctypes.Array[ctypes.c_char]', self._saved)
        handler = self._handler(current) if current is not None else self._handler(saved)
        foreign = handler != self._handler(saved) and handler not in DISPOSITION_VALUES
        if foreign:
            cast(ctypes.CDLL, self._libc).sigaction(int(signal.SIGINT), saved, None)

    def _watch(self) -> None:
        while not self._stop.wait(POLL_INTERVAL_S):
            self._poll()

    def start(self) -> None:
        """Begin watching (from the main thread): SIGINT keeps the handler Python has now. Calls nest: the
        watch ends at the `stop()` of the outermost `start()`."""
        self._depth += 1
        python_handler = signal.getsignal(signal.SIGINT)
        if self._libc is None or not callable(python_handler) or self._watcher is not None:
            return
        # An earlier graph run may have left MindSpore's handler in place: Python's goes back first.
        signal.signal(signal.SIGINT, python_handler)
        self._saved = self._read()
        if self._saved is None:
            return
        self._watcher = threading.Thread(target=self._watch, name='keep-sigint', daemon=True)
        self._watcher.start()

    def stop(self) -> None:
        """End one `start()`; the outermost one stops the watch."""
        self._depth = max(self._depth - 1, 0)
        if self._watcher is None or self._depth:
            return
        self._stop.set()
        self._watcher.join()
        self._watcher = None
        self._stop.clear()

    def __enter__(self) -> 'KeepSigint':
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# The process's one watch: the command runner and a training run's graceful stop share it.
KEEP_SIGINT = KeepSigint()
