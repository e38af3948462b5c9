"""Parity of an exported artefact with the Keras model: numbers, verdict, report.json, table.

A check compares what an artefact computes in its runtime with what the Keras model
computes on the same images: `compared` says what that is (deploy/logits.py) — the
logits, the probabilities a model ending in a softmax outputs, a backbone's features or
the outputs of a model of unknown meaning. A softmax model is checked twice, on its
logits (through a twin without the softmax) and on its actual outputs: probabilities
alone hide errors (a saturated softmax reads 1e-32 against 1e-30) or drown in rounding
(a flat one quantises to zeros). Each check records the max absolute error, the max
relative error (max |ours − keras| / max |keras|) and the top-1 agreement (the fraction
of images whose top class agrees with Keras', top1_agreement; None where the outputs are
not a batch of vectors).

Verdicts:
- float32, float16, bfloat16: max relative error ≤ 1e-4, 1e-2, 5e-2 (TOLERANCES).
- int8: top-1 agreement ≥ INT8_MIN_TOP1 on class scores (logits, probabilities) and
  max relative error ≤ INT8_LOGIT_TOLERANCE on everything but probabilities, whose
  error is that of the logits through exp(): judged by their top-1 alone.

Measured with TFLite full-integer quantisation (int8 I/O) in LiteRT, calibrated on 200
digits training images preprocessed right or wrong, compared on the first 32 / all 360
digits test images: top-1 agreement, then relative logit error.

    model (Keras test accuracy)           calibration        top-1        rel. logit error
    VanillaNet, the demo's (99.4 %)       right              1.00 / 1.00  0.02 / 0.07
                                          noise U(0, 255)    1.00 / 1.00  0.29 / 0.36
                                          [0, 1]             0.03 / 0.10  1.32 / 1.28
                                          normalised twice   0.03 / 0.10  1.33 / 1.28
    VanillaNet of the tests (98.6 %)      right              1.00 / 1.00  0.02 / 0.06
                                          noise U(0, 255)    1.00 / 1.00  0.15 / 0.24
                                          [0, 1]             0.12 / 0.09  1.22 / 1.26
                                          normalised twice   0.12 / 0.09  1.22 / 1.27
    PP-LCNet x0.25 32², 15 epochs (75 %)  right              1.00 / 0.90  0.19 / 0.25
                                          noise U(0, 255)    0.72 / 0.70  0.59 / 0.40
                                          [0, 1]             0.06 / 0.11  1.36 / 0.99
                                          normalised twice   0.06 / 0.11  1.38 / 0.99
    PP-LCNet x0.25 32², 10 epochs (68 %)  right              0.69 / 0.76  0.27 / 0.41
                                          [0, 1]             0.03 / 0.11  1.20 / 0.88
    PP-LCNet x0.25 32², 40 epochs (58 %)  right              0.84 / 0.71  0.38 / 0.66
                                          [0, 1]             0.09 / 0.09  1.14 / 1.08

A quantisation-aware model (numerics "int8-qat") is compared with its own fake-quantised
outputs, by the same criteria. Each int8 kernel matches its fake-quantised layer to
within one step of its output grid (measured op by op: convolutions, depthwise, hard
swish, ReLU6, GELU); the steps where the integer kernel and the float computation round
a value to neighbouring levels are rare, but a deep, thin network amplifies them as a
float model amplifies input noise. Measured on the digits (all 360 test images; the
last row is benchmarks/results/pplcnet_x0_25_64px_qat_accuracy.json):

    QAT model (Keras QAT accuracy)          top-1 (logits)  rel. logit error  within 1 step
    tiny CNN 16² of the export tests (87 %) 1.00            0.015             1.00
    PP-LCNet x0.25 32², 15 + 1 QAT (71 %)   0.84            0.39              0.12
    PP-LCNet x0.25 64², 30 + 3 QAT (81 %)   0.93            0.35              0.18

The PP-LCNet QAT model is itself that sensitive: moving 0.2 % of its input pixels by one
level of its input grid changes its own (Keras) top-1 on 11 % of the images. A tighter
bound would refuse correct exports of such models; a broken one (a range not honoured,
a wrong scale or zero point) falls to chance, as a wrong calibration does.

A wrong calibration leaves the int8 model at chance (≤ 0.12 on 10 classes); a right one
agrees on ≥ 0.69 of the images, even for a badly generalising PP-LCNet whose uncertain
predictions flip under quantisation. Hence top-1 ≥ 0.5: a majority of the images keep
their class. The logits' error, ≤ 0.66 of max |logit| when calibrated right against
≥ 0.88 when wrong, is the accumulated quantisation of every layer: 3–80 times the
output's own step (its calibrated range / 255, under 1 % of max |logit|), so a bound of
a few steps would fail right calibrations. 0.75 lies between the two and catches a
wrong output scale or zero point, which the top-1 agreement alone would not see. Noise
as calibration data passes (0.70–1.00 / 0.15–0.59): a degraded export, which the report
shows, not a broken one.
"""

import json
import os
from dataclasses import asdict, dataclass

import numpy as np

from keras_minimal.deploy.logits import LOGITS, OUTPUTS, PROBABILITIES

# max |artefact − Keras| allowed, relative to max |Keras|, per numeric form (int8: on
# logits, features and other outputs, with the top-1 criterion; see the module docstring).
# A quantisation-aware model's artefact, against the model's own fake-quantised outputs,
# is judged as int8 (see the module docstring).
QAT_NUMERICS = "int8-qat"
TOLERANCES = {"float32": 1e-4, "float16": 1e-2, "bfloat16": 5e-2, "int8": 0.75, QAT_NUMERICS: 0.75}
INT8_LOGIT_TOLERANCE = TOLERANCES["int8"]
INT8_MIN_TOP1 = 0.5


class ExportVerificationError(RuntimeError):
    """An artefact could not be run, or its outputs do not match the Keras model."""


@dataclass
class ParityCheck:
    artefact: str
    runtime: str
    numerics: str
    max_abs_error: float
    max_rel_error: float
    top1_agreement: float | None
    tolerance: float | None  # on max_rel_error; None: not judged on it
    passed: bool
    error: str | None = None
    compared: str = OUTPUTS
    min_top1_agreement: float | None = None  # None: not judged on it
    # Outputs on an 8-bit grid (quantisation-aware models): its spacing, and the fraction
    # of output elements within one step of Keras'. Reported, not judged.
    output_step: float | None = None
    within_one_step: float | None = None

    def failures(self):
        """Why the check failed, in words (empty when it passed)."""
        if self.error:
            return [self.error]
        problems = []
        if self.min_top1_agreement is not None and not (
            self.top1_agreement is not None and self.top1_agreement >= self.min_top1_agreement
        ):
            problems.append(f"top-1 agreement below {self.min_top1_agreement:.0%}")
        if self.tolerance is not None and not self.max_rel_error <= self.tolerance:
            problems.append("outside tolerance")
        return problems


def criteria(numerics, compared):
    """(tolerance on the max relative error, minimum top-1 agreement) of a check; None
    where it is not judged on that number."""
    if numerics not in ("int8", QAT_NUMERICS):
        return TOLERANCES[numerics], None
    min_top1 = INT8_MIN_TOP1 if compared in (LOGITS, PROBABILITIES) else None
    return (None if compared == PROBABILITIES else TOLERANCES[numerics]), min_top1


def top1_agreement(reference, outputs):
    """The fraction of rows whose top class in `reference` is top in `outputs` too; a tie
    of k classes at the top of `outputs` counts 1/k, what breaking it at random gives (a
    quantised output cannot order classes closer than its step, and all zeros order none),
    unless `reference` ties the same classes (both on one 8-bit grid): that row agrees."""
    top = outputs == outputs.max(-1, keepdims=True)
    same_top = np.all(top == (reference == reference.max(-1, keepdims=True)), axis=-1)
    hits = top[np.arange(len(reference)), reference.argmax(-1)]
    return float(np.mean(np.where(same_top, 1.0, hits / top.sum(-1))))


def compare(artefact, runtime, numerics, reference, outputs, compared=OUTPUTS, output_step=None):
    """The check of `outputs` against `reference`; `output_step`: the spacing of the
    outputs' 8-bit grid, to report the fraction within one step."""
    reference = np.asarray(reference, dtype="float64")
    outputs = np.asarray(outputs, dtype="float64")
    tolerance, min_top1 = criteria(numerics, compared)
    if outputs.shape != reference.shape or not np.all(np.isfinite(outputs)):
        problem = (
            f"shape {outputs.shape} instead of {reference.shape}"
            if outputs.shape != reference.shape
            else "non-finite outputs"
        )
        return failed_run(artefact, runtime, numerics, problem, compared)
    max_abs = float(np.max(np.abs(outputs - reference)))
    max_rel = max_abs / max(float(np.max(np.abs(reference))), 1e-12)
    agreement = top1_agreement(reference, outputs) if reference.ndim == 2 else None
    check = ParityCheck(
        artefact,
        runtime,
        numerics,
        max_abs,
        max_rel,
        agreement,
        tolerance,
        False,
        compared=compared,
        min_top1_agreement=min_top1,
    )
    if output_step:
        check.output_step = output_step
        # A hair over one step: the two sides dequantise in different float orders.
        close = np.abs(outputs - reference) <= output_step * (1 + 1e-3)
        check.within_one_step = float(np.mean(close))
    check.passed = not check.failures()
    return check


def failed_run(artefact, runtime, numerics, error, compared=OUTPUTS):
    """A check that could not compare: `error` (an exception, or a problem in words)."""
    tolerance, min_top1 = criteria(numerics, compared)
    if isinstance(error, BaseException):
        error = f"{type(error).__name__}: {error}"
    return ParityCheck(
        artefact,
        runtime,
        numerics,
        float("inf"),
        float("inf"),
        None,
        tolerance,
        False,
        error,
        compared,
        min_top1,
    )


def _criterion(check):
    parts = []
    if check.min_top1_agreement is not None:
        parts.append(f"top-1≥{check.min_top1_agreement:.0%}")
    if check.tolerance is not None:
        parts.append(
            f"rel≤{check.tolerance:.0e}" if check.tolerance < 0.1 else f"rel≤{check.tolerance:g}"
        )
    return ", ".join(parts)


def format_table(checks):
    lines = [
        f"{'artefact':<34}{'runtime':<13}{'numerics':<9}{'compares':<14}{'max abs':>10}"
        f"{'max rel':>10}{'top-1':>8}  {'criterion':<21}result"
    ]
    for c in checks:
        verdict = "pass" if c.passed else "FAIL: " + "; ".join(c.failures())
        top1 = "—" if c.top1_agreement is None else f"{c.top1_agreement:.1%}"
        lines.append(
            f"{os.path.basename(c.artefact):<34}{c.runtime.split(' ')[0]:<13}{c.numerics:<9}"
            f"{c.compared:<14}{c.max_abs_error:>10.2e}{c.max_rel_error:>10.2e}{top1:>8}  "
            f"{_criterion(c):<21}{verdict}"
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
