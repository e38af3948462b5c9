"""How every tool runs: `run(main)` instead of absl's `app.run(main)`.

- --help, -h, -?, --helpshort, --helpfull print the help on stdout and exit 0.
- A user error (a bad, unknown or missing flag, a file that cannot be read or written, a full
  disk, a value the library refuses) prints one line `error: <message>` on stderr and exits 2.
- Anything else is a bug: its traceback goes through (exit 1).
- TensorFlow's own logging is hidden unless --verbose (tools/quiet.py).
"""

import errno
import functools
import sys

from absl import app, flags

from tools import quiet

USER_ERROR_STATUS = 2
# A path the user named that is missing, of the wrong kind or not theirs to use.
FILE_ERRORS = (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)
FULL_DISK_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
HELP_ALIASES = ("-h", "--h")


def is_user_error(error):
    """Whether `error` comes from what the user passed (else it is a bug, shown as a traceback)."""
    if isinstance(error, (app.UsageError, ValueError, TypeError, *FILE_ERRORS)):
        return True
    return isinstance(error, OSError) and error.errno in FULL_DISK_ERRNOS


def one_line(message):
    """`message` with its line breaks folded: '; ' between lines, a space after punctuation."""
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    folded = lines[0] if lines else ""
    for line in lines[1:]:
        folded += (" " if folded.endswith((".", ":", ";", ",")) else "; ") + line
    return folded


def fail(message):
    """Print `error: <message>` as one line on stderr and exit with the user-error status."""
    sys.stderr.write(f"error: {one_line(message)}\n")
    sys.stderr.flush()
    sys.exit(USER_ERROR_STATUS)


def parse_flags(argv):
    """absl's flag parsing, with help exiting 0 and a parsing error as one `error:` line."""
    end = argv.index("--") if "--" in argv else len(argv)
    argv = [
        "--help" if 0 < index < end and arg in HELP_ALIASES else arg
        for index, arg in enumerate(argv)
    ]
    try:
        return flags.FLAGS(argv)
    except SystemExit:
        # Only absl's help flags exit while parsing: they print the help, then exit 1.
        sys.exit(0)
    except flags.Error as error:
        fail(f"{one_line(error)} (--help lists the flags)")


def reporting_user_errors(main):
    """`main`, with a user error (see is_user_error) turned into one `error:` line and exit 2."""

    @functools.wraps(main)
    def checked_main(argv):
        try:
            return main(argv)
        except Exception as error:
            if not is_user_error(error):
                raise
            fail(str(error) or type(error).__name__)

    return checked_main


def run(main, quiet_tensorflow=True):
    """app.run(main) with the help and error behaviour of the module docstring; with
    `quiet_tensorflow`, a --verbose flag and TensorFlow's logging hidden unless it is given."""
    if quiet_tensorflow:
        quiet.define_verbose_flag()
        main = quiet.unless_verbose(main)
    app.run(reporting_user_errors(main), flags_parser=parse_flags)
