"""TensorFlow's own logging kept out of a tool's output unless --verbose (see tools/cli.py).

TensorFlow and the libraries it loads write their native (C++) log lines straight to file
descriptor 2: absl's start-up lines at import (whatever TF_CPP_MIN_LOG_LEVEL says), "failed
call to cuInit", the TFLite converter's and interpreter's notices. No logging level reaches
them all, so while a tool runs, descriptor 2 points to /dev/null and Python's sys.stderr to a
copy of the real one: everything Python writes (the `error:` line, tracebacks, warnings, the
library's logging) is still shown, and faulthandler reports a crash in native code there.
The INFO records of TensorFlow's, tf2onnx's and absl's Python loggers are dropped.
"""

import contextlib
import faulthandler
import functools
import logging
import os
import sys
import warnings

from absl import flags
from absl import logging as absl_logging

# Python loggers whose INFO records are TensorFlow's chatter (SavedModel writing, tf2onnx steps;
# TensorFlow logs through both its own logger and absl's).
CHATTY_LOGGERS = ("tensorflow", "tf2onnx", "absl")
# Warnings third-party code raises on every run, which the user cannot act on.
THIRD_PARTY_WARNINGS = (
    # keras' bundled tf2onnx checks hasattr(np, "object") on import.
    (FutureWarning, r"In the future `np\.object` will be defined"),
)
VERBOSE_HELP = (
    "Also show TensorFlow's own logging (native C++ lines, TensorFlow/tf2onnx INFO), hidden "
    "by default."
)


def define_verbose_flag():
    """--verbose, listed in the --help of the tool being run (absl names it by sys.argv[0])."""
    flags.DEFINE_bool("verbose", False, VERBOSE_HELP, module_name=sys.argv[0])


def below_warning_from_chatty_loggers(record):
    """Whether `record` is INFO (or DEBUG) of TensorFlow's, tf2onnx's or absl's loggers."""
    return record.levelno < logging.WARNING and record.name.split(".")[0] in CHATTY_LOGGERS


def _shown(record):
    return not below_warning_from_chatty_loggers(record)


def _stream_handlers(stream):
    """The logging handlers that write to `stream`: the root logger's and absl's own."""
    handlers = list(logging.getLogger().handlers)
    handlers.append(absl_logging.get_absl_handler().python_handler)
    return [h for h in handlers if isinstance(h, logging.StreamHandler) and h.stream is stream]


@contextlib.contextmanager
def _python_stderr_apart_from_descriptor_2():
    """Descriptor 2 to /dev/null; sys.stderr (and the handlers that used it) to a copy of it.

    The handlers also drop the chatty loggers' INFO: a filter on the handler, as absl resets
    its logger's level whenever it (re)installs its handler.
    """
    old_stderr = sys.stderr
    old_stderr.flush()
    saved_fd = os.dup(2)
    new_stderr = open(
        os.dup(saved_fd),
        "w",
        buffering=1,
        encoding=old_stderr.encoding,
        errors=old_stderr.errors,
    )
    handlers = _stream_handlers(old_stderr)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    sys.stderr = new_stderr
    for handler in handlers:
        handler.setStream(new_stderr)
        handler.addFilter(_shown)
    faulthandler_was_enabled = faulthandler.is_enabled()
    faulthandler.enable(file=new_stderr)
    try:
        yield
    finally:
        new_stderr.flush()
        os.dup2(saved_fd, 2)
        os.close(saved_fd)
        sys.stderr = old_stderr
        for handler in handlers:
            handler.setStream(old_stderr)
            handler.removeFilter(_shown)
        faulthandler.disable()
        if faulthandler_was_enabled:
            faulthandler.enable(file=old_stderr)
        new_stderr.close()


@contextlib.contextmanager
def tensorflow_logging_hidden():
    """Run the body with TensorFlow's logging hidden and everything of Python's shown."""
    level = os.environ.get("TF_CPP_MIN_LOG_LEVEL")
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # read once, when TensorFlow is imported
    try:
        with (
            _python_stderr_apart_from_descriptor_2(),
            warnings.catch_warnings(),
        ):
            for category, message in THIRD_PARTY_WARNINGS:
                warnings.filterwarnings("ignore", message=message, category=category)
            yield
    finally:
        if level is None:
            os.environ.pop("TF_CPP_MIN_LOG_LEVEL")
        else:
            os.environ["TF_CPP_MIN_LOG_LEVEL"] = level


def unless_verbose(main):
    """`main`, run inside tensorflow_logging_hidden() unless --verbose was given."""

    @functools.wraps(main)
    def quiet_main(argv):
        if flags.FLAGS.verbose:
            return main(argv)
        with tensorflow_logging_hidden():
            return main(argv)

    return quiet_main
