"""Parity of an exported artefact with the Keras model: numbers, verdict, report.json, table."""

import json
import os
from dataclasses import asdict, dataclass

import numpy as np

# max |artefact − Keras| allowed, relative to max |Keras|, per numeric form.
TOLERANCES = {"float32": 1e-4, "float16": 1e-2, "bfloat16": 5e-2, "int8": 0.25}


class ExportVerificationError(RuntimeError):
    """An artefact could not be run, or its outputs do not match the Keras model."""


@dataclass
class ParityCheck:
    artefact: str
    runtime: str
    numerics: str
    max_abs_error: float
    max_rel_error: float
    top1_agreement: float
    tolerance: float
    passed: bool
    error: str | None = None


def compare(artefact, runtime, numerics, reference, outputs):
    reference = np.asarray(reference, dtype="float64")
    outputs = np.asarray(outputs, dtype="float64")
    tolerance = TOLERANCES[numerics]
    if outputs.shape != reference.shape or not np.all(np.isfinite(outputs)):
        problem = (
            f"shape {outputs.shape} instead of {reference.shape}"
            if outputs.shape != reference.shape
            else "non-finite outputs"
        )
        return ParityCheck(
            artefact, runtime, numerics, float("inf"), float("inf"), 0.0, tolerance, False, problem
        )
    max_abs = float(np.max(np.abs(outputs - reference)))
    max_rel = max_abs / max(float(np.max(np.abs(reference))), 1e-12)
    agreement = (
        float(np.mean(outputs.argmax(-1) == reference.argmax(-1))) if reference.ndim == 2 else 1.0
    )
    return ParityCheck(
        artefact, runtime, numerics, max_abs, max_rel, agreement, tolerance, max_rel <= tolerance
    )


def failed_run(artefact, runtime, numerics, error):
    return ParityCheck(
        artefact,
        runtime,
        numerics,
        float("inf"),
        float("inf"),
        0.0,
        TOLERANCES[numerics],
        False,
        f"{type(error).__name__}: {error}",
    )


def format_table(checks):
    lines = [
        f"{'artefact':<34}{'runtime':<16}{'numerics':<9}{'max abs':>10}{'max rel':>10}"
        f"{'top-1':>8}{'tol':>8}  result"
    ]
    for c in checks:
        verdict = "pass" if c.passed else "FAIL: " + (c.error or "outside tolerance")
        lines.append(
            f"{os.path.basename(c.artefact):<34}{c.runtime.split(' ')[0]:<16}{c.numerics:<9}"
            f"{c.max_abs_error:>10.2e}{c.max_rel_error:>10.2e}{c.top1_agreement:>8.1%}"
            f"{c.tolerance:>8.0e}  {verdict}"
        )
    return "\n".join(lines)


def write_report(path, checks, details):
    payload = {
        **details,
        "checks": [asdict(c) for c in checks],
        "passed": all(c.passed for c in checks),
    }
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(payload, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)
    return payload
