"""Latency and throughput of one model across runtimes (Keras, XLA, bf16, SavedModel, TFLite, ORT).

Every exported runtime goes through `export()`, so each artefact is also verified
against the Keras model before it is timed.
"""

import os
import tempfile

import numpy as np

from keras_minimal.deploy.exporter import ExportVerificationError, export
from keras_minimal.deploy.flops import count_macs
from keras_minimal.deploy.latency import inference_function, measure_latency
from keras_minimal.deploy.parity import top1_agreement
from keras_minimal.deploy.precision import with_dtype_policy
from keras_minimal.deploy.runtimes import load_runtime

RUNTIMES = (
    "keras",  # TensorFlow tf.function, oneDNN kernels
    "keras_xla",  # tf.function(jit_compile=True)
    "keras_bf16",  # mixed_bfloat16 policy (AMX / AVX512_BF16 on this CPU)
    "saved_model",
    "tflite",  # LiteRT interpreter, XNNPACK
    "tflite_int8",  # full-integer post-training quantisation
    "onnx",  # onnxruntime
    "onnx_int8",  # onnxruntime static QDQ quantisation (per-channel weights)
)
_NUMERICS = {"keras_bf16": "bfloat16", "tflite_int8": "int8", "onnx_int8": "int8"}


def _gemms_with_scalar_bias(path):
    """Gemm nodes whose bias C is a 0-d constant (tf2onnx folds a following scalar Add into C).

    onnxruntime's static quantiser (1.32) expands a bias to the per-channel weight scales and
    cannot reshape the result back to (): PP-LCNet's SE layers hit this. They are left in float.
    """
    import onnx

    graph = onnx.load(path, load_external_data=False).graph
    scalars = {t.name for t in graph.initializer if len(t.dims) == 0}
    return [
        node.name
        for node in graph.node
        if node.op_type == "Gemm" and len(node.input) > 2 and node.input[2] in scalars
    ]


def _quantize_onnx(source, target, calibration, input_name, batch_size):
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Reader(CalibrationDataReader):
        def __init__(self):
            images = np.concatenate([calibration] * -(-batch_size // len(calibration)))
            starts = range(0, len(images) - batch_size + 1, batch_size)
            self.batches = iter([{input_name: images[i : i + batch_size]} for i in starts])

        def get_next(self):
            return next(self.batches, None)

    quantize_static(
        source,
        target,
        Reader(),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        nodes_to_exclude=_gemms_with_scalar_bias(source),
    )


def runtime_function(model, runtime, workdir, batch_size=1, threads=2, calibration=None):
    """A callable NHWC float32 batch → outputs running `model` in `runtime`."""
    if runtime == "keras":
        return inference_function(model)
    if runtime == "keras_xla":
        return inference_function(model, jit_compile=True)
    if runtime == "keras_bf16":
        return inference_function(with_dtype_policy(model, "mixed_bfloat16"))
    if runtime not in RUNTIMES:
        raise ValueError(f"Unknown runtime {runtime!r}; choose from {RUNTIMES}.")
    fmt = runtime.removesuffix("_int8")
    name = f"{model.name}_b{batch_size}_{runtime}"
    path = os.path.join(workdir, name + ("" if fmt == "saved_model" else f".{fmt}"))
    options = {"fuse": False, "batch_size": batch_size, "overwrite": True, "threads": threads}
    if runtime == "tflite_int8":
        try:
            export(
                model, path, fmt, quantization="int8", representative_data=calibration, **options
            )
        except ExportVerificationError as error:
            # int8 drift on uncalibrated random weights is expected; the row reports it.
            path = error.result.path
    else:
        export(model, path, fmt, **options)
    if runtime == "onnx_int8":
        quantized = path.replace(".onnx", "_int8.onnx")
        _quantize_onnx(path, quantized, calibration, "image", batch_size)
        path = quantized
    return load_runtime(fmt, path, threads)


def _inputs(model, batch_size, seed=0):
    shape = (batch_size, *model.input.shape[1:])
    return np.random.default_rng(seed).uniform(0, 255, shape).astype("float32")


def benchmark_model(
    model,
    runtimes,
    batch_sizes=(1, 32),
    runs=20,
    warmup=5,
    threads=2,
    throughput_runs=5,
    workdir=None,
    calibration=None,
):
    """Rows of {runtime, batch, median_ms, p90_ms, images_per_s, max_rel_error} for `model`."""
    calibration = calibration if calibration is not None else _inputs(model, 16, seed=1)
    rows = []
    keras_function = inference_function(model)
    references = {batch: keras_function(_inputs(model, batch)) for batch in batch_sizes}
    with tempfile.TemporaryDirectory() as tmp:
        for runtime in runtimes:
            for batch in batch_sizes:
                numerics = _NUMERICS.get(runtime, "float32")
                try:
                    function = runtime_function(
                        model, runtime, workdir or tmp, batch, threads, calibration
                    )
                except Exception as error:  # one runtime failing must not hide the others
                    rows.append(
                        {
                            "runtime": runtime,
                            "numerics": numerics,
                            "batch": batch,
                            "error": f"{type(error).__name__}: {error}",
                        }
                    )
                    continue
                inputs = _inputs(model, batch)
                timing = measure_latency(
                    function, inputs, warmup=warmup, runs=runs if batch == 1 else throughput_runs
                )
                reference = np.asarray(references[batch], "float32")
                outputs = np.asarray(function(inputs), "float32")
                scale = max(float(np.max(np.abs(reference))), 1e-12)
                error = float(np.max(np.abs(outputs - reference))) / scale
                rows.append(
                    {
                        "runtime": runtime,
                        "numerics": numerics,
                        "batch": batch,
                        **timing,
                        "images_per_s": batch * 1000.0 / timing["median_ms"],
                        "max_rel_error_vs_keras": error,
                    }
                )
    return rows


def model_summary(model):
    return {
        "params": int(sum(np.prod(v.shape) for v in model.trainable_variables)),
        "gmacs": count_macs(model) / 1e9,
        "image_size": int(model.input.shape[1]),
    }


def format_rows(rows):
    # As wide as the longest runtime, such as a reference's "ref:torch.onnx+ort".
    width = max([14] + [len(r["runtime"]) + 1 for r in rows])
    header = (
        f"{'model':<22}{'graph':<8}{'runtime':<{width}}{'batch':>6}{'median ms':>11}"
        f"{'p90 ms':>9}{'img/s':>9}{'GMACs':>8}{'rel err':>10}  vs reference"
    )
    lines = [header]
    for r in rows:
        if "error" in r:
            lines.append(
                f"{r['model']:<22}{r.get('graph', ''):<8}{r['runtime']:<{width}}"
                f"{r['batch']:>6}  FAILED: {r['error'][:200]}"
            )
            continue
        error = r.get("max_rel_error_vs_keras")
        lines.append(
            f"{r['model']:<22}{r.get('graph', ''):<8}{r['runtime']:<{width}}{r['batch']:>6}"
            f"{r['median_ms']:>11.2f}{r.get('p90_ms', float('nan')):>9.2f}"
            f"{r.get('images_per_s', float('nan')):>9.1f}{r.get('gmacs', float('nan')):>8.2f}"
            + (f"{error:>10.1e}" if error is not None else f"{'':>10}")
            + _versus_reference(r)
        )
    return "\n".join(lines)


def _versus_reference(row):
    """Our row's ratio to each reference timed around it, or a reference's two timings."""
    if "before_median_ms" in row:
        return f"  before {row['before_median_ms']:.2f}, after {row['after_median_ms']:.2f} ms"
    ratios = row.get("over_reference", {})
    return "".join(f"  {ratio:.2f}× {label}" for label, ratio in ratios.items())


def plot_latency_vs_gmacs(rows, path):
    """Latency at the smallest batch against GMACs, one series per runtime (as in the papers)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measured = [r for r in rows if "error" not in r and "gmacs" in r]
    batch = min((r["batch"] for r in measured), default=1)
    figure, axes = plt.subplots(figsize=(7, 5))
    for runtime in sorted({r["runtime"] for r in rows}):
        points = sorted(
            (r["gmacs"], r["median_ms"], f"{r['model']} ({r['graph']})")
            for r in measured
            if r["runtime"] == runtime and r["batch"] == batch
        )
        if not points:
            continue
        axes.plot([p[0] for p in points], [p[1] for p in points], "o", label=runtime)
        for gmacs, ms, label in points:
            axes.annotate(label, (gmacs, ms), fontsize=6, xytext=(3, 3), textcoords="offset points")
    axes.set_xlabel("GMACs per image")
    axes.set_ylabel(f"latency, batch {batch} (ms)")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def describe_environment():
    """Machine and library versions, recorded next to every benchmark result."""
    import datetime
    import platform
    import sys

    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = {"python": platform.python_version()}
    for module in ("keras", "tensorflow", "jax", "torch", "numpy", "onnxruntime", "ai_edge_litert"):
        if module in sys.modules:
            versions[module] = getattr(sys.modules[module], "__version__", "?")
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "versions": versions,
        "command": " ".join(sys.argv),
    }


def batched_outputs(function, images, batch_size=1):
    """`function`'s outputs (any runtime) on `images` in fixed-size batches; a last batch
    smaller than `batch_size` is left out."""
    usable = len(images) - len(images) % batch_size
    return np.concatenate(
        [np.asarray(function(images[i : i + batch_size])) for i in range(0, usable, batch_size)]
    )


def top1(outputs, labels):
    """The fraction of `outputs` whose largest logit is at the label (the first len(outputs)
    labels, as batched_outputs leaves a short last batch out)."""
    return float(np.mean(np.asarray(outputs).argmax(-1) == labels[: len(outputs)]))


def top1_accuracy(function, images, labels, batch_size=1):
    """Top-1 accuracy of `function` (any runtime) over images in fixed-size batches."""
    return top1(batched_outputs(function, images, batch_size), labels)


def top1_scores(outputs, labels, reference):
    """Top-1 accuracy of a numeric form's `outputs` and its top-1 agreement with
    `reference`, float32's outputs on the same images (a tie counts as in parity)."""
    outputs = np.asarray(outputs, "float64")
    return {
        "top1": top1(outputs, labels),
        "top1_agreement": top1_agreement(np.asarray(reference, "float64"), outputs),
    }
