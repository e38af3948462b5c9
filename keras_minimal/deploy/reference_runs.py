"""Comparison commands timed around our runtimes, in the same run (tools/benchmark.py --reference).

A reference command prints one JSON line with at least "median_ms" (the last JSON line of its
stdout counts), e.g. benchmarks/reference_latency.py. For each model and batch size it runs
twice, once before our runtimes and once after, so that a machine whose speed drifts during the
run (a busy neighbour, thermal limits) slows the reference and ours alike; its reported median
is the mean of the two, and each of our rows of that model and batch gets
`over_reference[label]` = our median / the reference's.

Before each run, these placeholders in the command are replaced by the values of the runs it
is compared with: {model} (the registered name), {batch}, {image_size} (the input side), {runs}
(timed runs) and {warmup} (untimed runs first).
"""

import json
import shlex
import subprocess

PLACEHOLDERS = ("model", "batch", "image_size", "runs", "warmup")


def run_reference_command(command):
    """Run a comparison command that prints one JSON line {"median_ms", ...} last."""
    completed = subprocess.run(shlex.split(command), capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(
            f"Reference command failed ({completed.returncode}): {command}\n"
            f"{completed.stderr[-2000:]}"
        )
    lines = [line for line in completed.stdout.splitlines() if line.strip().startswith("{")]
    if not lines:
        raise RuntimeError(f"Reference command printed no JSON line: {command}")
    result = json.loads(lines[-1])
    median = result.get("median_ms")
    if isinstance(median, bool) or not isinstance(median, (int, float)) or not median > 0:
        raise RuntimeError(
            f"Reference command printed no positive median_ms in its JSON line: {command}\n"
            f"{lines[-1][:500]}"
        )
    return result


def fill_placeholders(command, **values):
    """`command` with each {name} of PLACEHOLDERS replaced by values[name] (other braces, such
    as a JSON literal in `python -c`, stay as they are)."""
    for name in PLACEHOLDERS:
        command = command.replace(f"{{{name}}}", str(values[name]))
    return command


def check_reference_commands(references, models, batch_sizes):
    """Refuse a command that would be compared with runs it does not time: one without {model}
    next to several models, or without {batch} next to several batch sizes."""
    for label, command in references:
        for placeholder, values in (("model", models), ("batch", batch_sizes)):
            if len(values) > 1 and f"{{{placeholder}}}" not in command:
                raise ValueError(
                    f"--reference {label} is compared with each {placeholder} of "
                    f"{list(values)} but its command has no {{{placeholder}}} to time each: "
                    f"write {{{placeholder}}} where the command takes it (e.g. "
                    f"--{placeholder}={{{placeholder}}}). Received: {command}"
                )


def _check_measures_the_same(label, result, values):
    for key in ("model", "batch", "image_size"):
        if key in result and str(result[key]) != str(values[key]):
            raise ValueError(
                f"--reference {label} timed {key} {result[key]!r}, to be compared with "
                f"{key} {values[key]!r}: write {{{key}}} in its command so that it times what "
                f"it is compared with. Received: {key}={result[key]!r} in its JSON line"
            )


def time_between_references(measure, references, run=None, **values):
    """Our rows from `measure()`, each reference of `references` ((label, command) pairs) run
    before and after it; returns our rows, with over_reference, then one row per reference.

    `values` fill the placeholders (see the module docstring); `run(label, command)` returns a
    command's JSON line (default: run_reference_command).
    """
    run = run or (lambda label, command: run_reference_command(command))
    commands = [(label, fill_placeholders(command, **values)) for label, command in references]

    def run_all():
        results = []
        for label, command in commands:
            result = run(label, command)
            _check_measures_the_same(label, result, values)
            results.append(result)
        return results

    before = run_all()
    ours = measure()
    after = run_all()
    reference_rows = []
    for (label, command), first, last in zip(commands, before, after, strict=True):
        median = (first["median_ms"] + last["median_ms"]) / 2
        reference_rows.append(
            {
                "model": values["model"],
                "graph": last.get("graph", ""),
                "runtime": f"ref:{label}",
                "batch": values["batch"],
                "image_size": values["image_size"],
                "median_ms": median,
                "before_median_ms": first["median_ms"],
                "after_median_ms": last["median_ms"],
                "images_per_s": values["batch"] * 1000.0 / median,
                "command": command,
                "before": first,
                "after": last,
            }
        )
        for row in ours:
            if "error" not in row:
                row.setdefault("over_reference", {})[label] = row["median_ms"] / median
    return ours + reference_rows
