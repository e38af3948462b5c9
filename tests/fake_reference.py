"""A stand-in for benchmarks/reference_latency.py in the tests of --reference: a `python -c`
command that appends its arguments to a log file and prints a JSON line with median_ms = 2 ms ×
the number of lines then in the log, and each --key=value argument as "key": "value"."""

import json
import shlex
import sys

_CODE = """
import json, sys
log, arguments = sys.argv[1], sys.argv[2:]
with open(log, "a") as f:
    f.write(json.dumps(arguments) + "\\n")
with open(log) as f:
    lines = len(f.readlines())
values = dict(a[2:].split("=", 1) for a in arguments if a.startswith("--"))
print("warming up")
print(json.dumps({"median_ms": 2.0 * lines, **values}))
"""


def fake_reference_command(log, arguments=""):
    return (
        f"{shlex.quote(sys.executable)} -c {shlex.quote(_CODE)} {shlex.quote(str(log))} {arguments}"
    )


def logged(log):
    """What was written to the log, one JSON value a line."""
    with open(log) as f:
        return [json.loads(line) for line in f]
