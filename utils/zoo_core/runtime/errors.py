"""One way to fail: the base class of every user mistake, and the runner that turns one into a line.

A user mistake (a wrong flag, a missing file, weights of another network, ...) raises a subclass of
`ZooError`; `run_command` prints it as one line `error: ...` on stderr and returns `EXIT_USAGE_ERROR`,
without a traceback. A run that was set up right but failed on the way (a diverging loss) raises a
`RunFailedError` and exits `EXIT_RUN_FAILED`. Anything else is a bug and keeps its traceback.
"""
import sys

EXIT_OK = 0
EXIT_RUN_FAILED = 1
EXIT_USAGE_ERROR = 2


class ZooError(ValueError):
    """A mistake in what the user asked for: reported as one line, exit status 2."""


class MissingFileError(ZooError, FileNotFoundError):
    """A file or folder the user named does not exist."""


class RunFailedError(RuntimeError):
    """A correctly configured run that could not go on (e.g. a diverging loss): one line, exit status 1."""


def report(error):
    """Print `error` as the one line `error: <message>` on stderr."""
    print(f"error: {error}", file=sys.stderr)


def run_command(command, *args, **kwargs):
    """Call `command(*args, **kwargs)`; returns the process exit status.

    `ZooError` -> its line and `EXIT_USAGE_ERROR`; `RunFailedError` -> its line and `EXIT_RUN_FAILED`;
    success -> the command's own exit status when it returns an `int`, else `EXIT_OK`. Other exceptions
    propagate with their traceback: they are bugs.
    """
    try:
        status = command(*args, **kwargs)
    except ZooError as error:
        report(error)
        return EXIT_USAGE_ERROR
    except RunFailedError as error:
        report(error)
        return EXIT_RUN_FAILED
    return status if isinstance(status, int) and not isinstance(status, bool) else EXIT_OK
