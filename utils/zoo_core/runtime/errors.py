"""One way to fail: the base class of every user mistake, and the runner that turns one into a line.

A user mistake (a wrong flag, a missing file, weights of another network, ...) raises a subclass of
`ZooError`; `run_command` prints it as one line `error: ...` on stderr and returns `EXIT_USAGE_ERROR`,
without a traceback. Ctrl-C and SIGTERM end a command with one line and 128 + the signal (130, 143), whether
they land in Python, during a graph compile or during a graph run (`runtime.sigint` keeps MindSpore from
turning a Ctrl-C into a SIGTERM; training has its own graceful stop, `engine.graceful_stop`). A run that was
set up right but failed on the way (a diverging loss) raises a
`RunFailedError` and exits `EXIT_RUN_FAILED`. Anything else is a bug and keeps its traceback.
"""
import signal
import sys
import threading

from zoo_core.runtime.sigint import KEEP_SIGINT

EXIT_OK = 0
EXIT_RUN_FAILED = 1
EXIT_USAGE_ERROR = 2
# A command stopped by signal N exits with 128 + N, as the shells report it (130 for Ctrl-C, 143 for SIGTERM).
EXIT_SIGNAL_BASE = 128


class ZooError(ValueError):
    """A mistake in what the user asked for: reported as one line, exit status 2."""


class MissingFileError(ZooError, FileNotFoundError):
    """A file or folder the user named does not exist."""


class RunFailedError(RuntimeError):
    """A correctly configured run that could not go on (e.g. a diverging loss): one line, exit status 1."""


class Interrupted(BaseException):
    """A command stopped by a signal (SIGTERM; SIGINT arrives as Python's KeyboardInterrupt). A
    `BaseException`, as KeyboardInterrupt: raised from the signal handler wherever the main thread is, it
    must not be swallowed by an `except Exception` on the way (logging's `Handler.emit` has one, and a
    SIGTERM that landed while a log line was written used to let eval run to the end)."""

    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_interrupted(signum, frame):
    raise Interrupted(signum)


def interrupted_message(signum):
    """The one line of a command stopped by `signum`."""
    name = 'SIGINT (Ctrl-C)' if signum == signal.SIGINT else signal.Signals(signum).name
    return f"interrupted by {name} before the command finished: its results were not written"


def report(error):
    """Print `error` as the one line `error: <message>` on stderr."""
    print(f"error: {error}", file=sys.stderr)


def run_command(command, *args, **kwargs):
    """Call `command(*args, **kwargs)`; returns the process exit status.

    `ZooError` -> its line and `EXIT_USAGE_ERROR`; `RunFailedError` -> its line and `EXIT_RUN_FAILED`;
    success -> the command's own exit status when it returns an `int`, else `EXIT_OK`. Other exceptions
    propagate with their traceback: they are bugs.
    """
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_interrupted) if main_thread else None
    try:
        if main_thread:
            KEEP_SIGINT.start()  # a Ctrl-C during a graph run stays a SIGINT
        status = command(*args, **kwargs)
    except ZooError as error:
        report(error)
        return EXIT_USAGE_ERROR
    except RunFailedError as error:
        report(error)
        return EXIT_RUN_FAILED
    except KeyboardInterrupt:
        report(interrupted_message(signal.SIGINT))
        return EXIT_SIGNAL_BASE + signal.SIGINT
    except Interrupted as stop:
        report(interrupted_message(stop.signum))
        return EXIT_SIGNAL_BASE + stop.signum
    finally:
        if main_thread:
            KEEP_SIGINT.stop()
            signal.signal(signal.SIGTERM, previous)
    return status if isinstance(status, int) and not isinstance(status, bool) else EXIT_OK
