"""export(): fuse → float32 → write SavedModel / TFLite / ONNX atomically → verify in a runtime."""

import contextlib
import functools
import inspect
import itertools
import os
import shutil
from dataclasses import dataclass

import numpy as np

from keras_minimal import model_families
from keras_minimal.deploy import quantize_aware_export as qat
from keras_minimal.deploy.logits import LOGITS, logits_model, output_kind
from keras_minimal.deploy.onnx_graph import optimize_onnx_file
from keras_minimal.deploy.parity import (
    ExportVerificationError,
    ParityCheck,
    compare,
    failed_run,
    format_table,
    write_report,
)
from keras_minimal.deploy.precision import check_not_quantized, is_float32, with_dtype_policy
from keras_minimal.deploy.runtimes import RUNTIMES, load_runtime
from keras_minimal.deploy.tf2onnx_memory import bounded_tf2onnx_memory
from keras_minimal.deploy.to_deploy import to_deploy
from keras_minimal.deploy.xnnpack import for_xnnpack
from keras_minimal.tempfiles import make_owned_dir, remove_dead_leftovers
from keras_minimal.validation import is_integer

FORMATS = ("saved_model", "tflite", "onnx")
QUANTIZATIONS = {"saved_model": (None,), "onnx": (None,), "tflite": (None, "fp16", "int8")}
# Opset 17 is the newest that tf2onnx 1.16/1.17 fully support and onnxruntime ≥ 1.14 runs.
DEFAULT_OPSET = 17
SUPPORTED_OPSETS = range(13, 19)
_KERAS_FORMATS = {"saved_model": "tf_saved_model", "tflite": "litert", "onnx": "onnx"}
_NUMERICS = {None: "float32", "fp16": "float16", "int8": "int8"}
# Images compared when num_verification is None: int8's verdict is a top-1 agreement,
# a fraction that needs more than a handful of images to mean something.
_DEFAULT_NUM_VERIFICATION = {"int8": 32, qat.NUMERICS: 32}
_FLOAT_NUM_VERIFICATION = 8
EXPORTED_GRAPH = "keras (exported graph)"
# Each artefact is written into a hidden folder next to it, named after its writer.
_WORKING_FOLDER_PREFIX = ".export-"


@dataclass
class ExportResult:
    path: str
    report_path: str
    checks: list
    passed: bool

    def table(self):
        return format_table(self.checks)


def _check_arguments(
    format,
    quantization,
    opset,
    representative_data,
    int8_io,
    path,
    overwrite,
    batch_size,
    num_verification,
    num_calibration,
    image_size=None,
    quantize_aware=False,
):
    if format not in FORMATS:
        raise ValueError(f"Unknown export format. Choose one of {FORMATS}. Received: {format!r}")
    if quantization not in QUANTIZATIONS[format]:
        raise ValueError(
            f"{format} supports quantization in {QUANTIZATIONS[format]} (fp16 and int8 are "
            f"TFLite post-training quantisation). Received: quantization={quantization!r}"
        )
    if format == "onnx" and opset not in SUPPORTED_OPSETS:
        raise ValueError(
            f"ONNX opset must be in {SUPPORTED_OPSETS.start}..{SUPPORTED_OPSETS.stop - 1} (what "
            f"tf2onnx converts and onnxruntime runs; default {DEFAULT_OPSET}). Received: {opset!r}"
        )
    if quantize_aware:
        qat.check_arguments(format, quantization, representative_data)
    elif quantization == "int8" and representative_data is None:
        raise ValueError(
            "int8 post-training quantisation needs representative_data: a few hundred "
            "preprocessed images like those the model will see (an array (N, H, W, C) or an "
            "iterable of batches), to calibrate the activation ranges."
        )
    if image_size is not None and (not is_integer(image_size) or image_size < 1):
        raise ValueError(
            f"image_size must be a positive integer (the exported side) or None. "
            f"Received: image_size={image_size!r}"
        )
    if int8_io and quantization != "int8":
        raise ValueError(f"int8_io=True needs quantization='int8'. Received: {quantization!r}")
    for name, value, none_means in (
        ("batch_size", batch_size, "a dynamic batch dimension"),
        ("num_verification", num_verification, "8 images, 32 for int8"),
        ("num_calibration", num_calibration, None),
    ):
        if value is None and none_means:
            continue
        if not is_integer(value) or value < 1:
            raise ValueError(
                f"{name} must be a positive integer"
                + (f" or None ({none_means})" if none_means else "")
                + f". Received: {name}={value!r}"
            )
    suffix = {"tflite": ".tflite", "onnx": ".onnx"}.get(format)
    if suffix and not str(path).endswith(suffix):
        raise ValueError(f"A {format} artefact's path must end with {suffix}. Received: {path!r}")
    if os.path.exists(path) and not overwrite:
        raise ValueError(
            f"{path!r} already exists; pass overwrite=True (--overwrite) to replace it."
        )


def input_shape_of(model):
    """The model's input shape without the batch (model.inputs: Sequential has no .input)."""
    return tuple(model.inputs[0].shape[1:])


def prepare_model(model, fuse=True, include_preprocessing=None, image_size=None):
    """The float32 Keras model that will be exported (fused, preprocessing and size as asked)."""
    check_not_quantized(model, "export")
    ours = model_families.is_ours(model)
    # A quantisation-aware model is built from the fused graph, in float32.
    if fuse and not qat.is_quantize_aware(model):
        if not ours:
            raise ValueError(
                "fuse=True needs a model built by keras_minimal.applications; pass fuse=False "
                f"(--nofuse) to export {model.name!r} as it is."
                + model_families.lost_record_hint(model)
            )
        try:
            model = to_deploy(model)
        except ValueError as error:
            raise ValueError(f"{error} Or export without fusion: fuse=False (--nofuse).") from None
    if not is_float32(model):
        model = with_dtype_policy(model, "float32")
    overrides = {}
    config = model.builder_config if ours else {}
    if include_preprocessing is not None and include_preprocessing != config.get(
        "include_preprocessing", include_preprocessing
    ):
        overrides["include_preprocessing"] = include_preprocessing
    input_shape = input_shape_of(model)
    is_image = len(input_shape) == 3
    if image_size is not None and is_image and input_shape[:2] != (image_size, image_size):
        overrides["input_shape"] = (image_size, image_size, input_shape[2])
    if overrides:
        if not ours:
            raise ValueError(
                f"Changing {sorted(overrides)} needs a model built by keras_minimal.applications; "
                "export this model with its own input size and preprocessing."
            )
        rebuilt = model_families.rebuild(model, **overrides)
        rebuilt.set_weights(model.get_weights())
        model = rebuilt
    if is_image and None in input_shape_of(model)[:2]:
        raise ValueError(
            f"Export needs a static image size; pass image_size (--image_size). Received: input "
            f"shape {(None, *input_shape_of(model))}"
        )
    return model


def _batches(data, batch_size):
    """Float32 NHWC batches of `batch_size` from an array or an iterable of arrays."""
    if isinstance(data, np.ndarray):
        for start in range(0, len(data) - batch_size + 1, batch_size):
            yield data[start : start + batch_size].astype("float32")
        return
    for batch in data:
        batch = np.asarray(batch[0] if isinstance(batch, (tuple, list)) else batch, "float32")
        for start in range(0, len(batch) - batch_size + 1, batch_size):
            yield batch[start : start + batch_size]


def _reusable(data, batch_size, num_calibration):
    """`data`, or the batches calibration takes from it when it is a one-shot iterator:
    the artefact and its logits twin calibrate on the same images."""
    if data is None or isinstance(data, np.ndarray) or iter(data) is not data:
        return data
    size = batch_size or 1
    return list(itertools.islice(_batches(data, size), -(-num_calibration // size)))


def _converter_options(
    quantization, representative_data, int8_io, num_calibration, batch_size, calibrated, model
):
    """TFLite converter options; int8 calibration appends each batch's size to `calibrated`."""
    import tensorflow as tf

    if qat.is_quantize_aware(model):
        return qat.converter_options(int8_io)
    if quantization is None:
        return {"target_spec": {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]}}
    if quantization == "fp16":
        return {
            "optimizations": [tf.lite.Optimize.DEFAULT],
            "target_spec": {
                "supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS],
                "supported_types": [tf.float16],
            },
        }

    # Batches of the exported graph's batch size: a static batch is built into its reshapes.
    size = batch_size or 1

    def representative_dataset():
        for i, batch in enumerate(_batches(representative_data, size)):
            if i * size >= num_calibration:
                return
            calibrated.append(len(batch))
            yield [batch]

    options = {
        "optimizations": [tf.lite.Optimize.DEFAULT],
        "representative_dataset": representative_dataset,
        "target_spec": {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]},
    }
    if int8_io:
        options.update(inference_input_type=tf.int8, inference_output_type=tf.int8)
    return options


def _write(
    model,
    tmp_path,
    format,
    batch_size,
    quantization,
    representative_data,
    int8_io,
    opset,
    num_calibration,
):
    import tensorflow as tf

    signature = [tf.TensorSpec((batch_size, *input_shape_of(model)), tf.float32, name="image")]
    options = {}
    calibrated = []
    if format == "tflite":
        options = _converter_options(
            quantization,
            representative_data,
            int8_io,
            num_calibration,
            batch_size,
            calibrated,
            model,
        )
        model = for_xnnpack(model)
    elif format == "onnx":
        options = {"opset_version": opset}
    # A quantisation-aware graph is traced as the converters read it (FakeQuant ops only).
    tracing = qat.converter_graph() if qat.is_quantize_aware(model) else contextlib.nullcontext()
    bounded = bounded_tf2onnx_memory() if format == "onnx" else contextlib.nullcontext()
    with tracing, bounded:
        model.export(
            tmp_path,
            format=_KERAS_FORMATS[format],
            input_signature=signature,
            verbose=False,
            **options,
        )
    # Without a calibration image the converter leaves the graph in float, silently.
    if quantization == "int8" and not calibrated and not qat.is_quantize_aware(model):
        raise ValueError(
            "int8 calibration received no image from representative_data: it is empty, or a "
            "one-shot iterator that verification used up. Pass an array, a list or a "
            "tf.data.Dataset, or the verification images as verification_data. Received: "
            f"a {type(representative_data).__name__}"
        )
    if format == "onnx":
        optimize_onnx_file(tmp_path)


def _check_image_shape(name, shape, model):
    expected = input_shape_of(model)
    if tuple(shape[1:]) != expected:
        raise ValueError(
            f"{name} must hold images of the exported model's input shape {expected} "
            f"(batches (N, {', '.join(map(str, expected))})). Received: shape {tuple(shape)}"
        )


def _first_batch_shape(data):
    """The shape of `data` (an array) or of its first batch (a list, tuple or tf.data
    Dataset; other iterables are not looked into, so that none of their items is lost)."""
    if isinstance(data, np.ndarray):
        return data.shape
    if isinstance(data, (list, tuple)) and data:
        first = data[0]
        return np.shape(first[0] if isinstance(first, (tuple, list)) else first)
    spec = getattr(data, "element_spec", None)
    if spec is not None:
        spec = spec[0] if isinstance(spec, tuple) else spec
        return tuple(spec.shape)
    return None


def _check_data_shape(name, data, model):
    shape = _first_batch_shape(data) if data is not None else None
    if shape is None:
        return
    expected = input_shape_of(model)
    if len(shape) != len(expected) + 1:
        raise ValueError(
            f"{name} must be batches of the model's inputs (N, {', '.join(map(str, expected))}); "
            f"add the batch axis to a single image (image[None]). Received: shape {tuple(shape)}"
        )
    if any(g is not None and g != w for g, w in zip(shape[1:], expected, strict=True)):
        _check_image_shape(name, shape, model)


def _verification_inputs(model, data, batch_size, count, name):
    """Up to `count` images to compare on; with a static batch, a whole number of batches
    (at least one)."""
    size = batch_size or 1
    needed = max(count // size, 1) * size
    if data is not None:
        images = list(itertools.islice(_batches(data, 1), needed))
        if len(images) < size:
            raise ValueError(
                f"{name} must hold at least {size} image(s) to verify the export "
                f"with. Received: {len(images)}"
            )
        inputs = np.concatenate(images[: len(images) // size * size])
        _check_image_shape(name, inputs.shape, model)
        return inputs
    shape = (needed, *input_shape_of(model))
    rng = np.random.default_rng(0)
    preprocessing = getattr(model, "builder_config", {}).get("include_preprocessing", False)
    if preprocessing:
        return rng.uniform(0, 255, shape).astype("float32")
    return rng.normal(size=shape).astype("float32")


def _predict(model, inputs):
    from keras import ops

    return np.asarray(ops.convert_to_numpy(model(inputs, training=False)), "float32")


def _run_in_batches(run, inputs, batch_size):
    """`run` over `inputs` in batches of a static `batch_size` (all at once when None)."""
    size = batch_size or len(inputs)
    return np.concatenate([run(inputs[i : i + size]) for i in range(0, len(inputs), size)])


def _numerics_of(model):
    """The numeric form a Keras model computes in, for the tolerance of comparing with it."""
    names = {
        layer.dtype_policy.compute_dtype for layer in model.layers if hasattr(layer, "dtype_policy")
    }
    return next((n for n in ("float16", "bfloat16") if n in names), "float32")


def _same_inputs(original, exported):
    """Whether `original` accepts the exported model's inputs with the same meaning."""
    same_preprocessing = getattr(original, "builder_config", {}).get(
        "include_preprocessing"
    ) == getattr(exported, "builder_config", {}).get("include_preprocessing")
    fits = all(
        a is None or a == b
        for a, b in zip(input_shape_of(original), input_shape_of(exported), strict=True)
    )
    return same_preprocessing and fits


def _keras_graph_check(original, model, inputs, reference, reference_logits):
    """The exported Keras graph (fused, float32, rebuilt) against the model as given, on
    the logits where the model ends in a softmax."""
    numerics = _numerics_of(original)
    original_logits = logits_model(original) if reference_logits is not None else None
    if original_logits is not None:
        expected = _predict(original_logits, inputs)
        return compare(EXPORTED_GRAPH, "Keras", numerics, expected, reference_logits, LOGITS)
    expected = _predict(original, inputs)
    return compare(EXPORTED_GRAPH, "Keras", numerics, expected, reference, output_kind(model))


def _runtime_check(
    format, threads, batch_size, path, numerics, inputs, tmp_path, expected, kind, step=None
):
    """`expected` against the artefact at `tmp_path` run in its runtime (reported as `path`);
    `step`: the spacing of the output's 8-bit grid, when it has one."""
    runtime = RUNTIMES[format]
    if numerics == qat.NUMERICS and format == "tflite":
        leftover = sorted(set(qat.float_operators(tmp_path)))
        if leftover:
            problem = f"not full-integer: float operators left ({', '.join(leftover)})"
            return failed_run(path, runtime, numerics, problem, kind)
    try:
        outputs = _run_in_batches(load_runtime(format, tmp_path, threads), inputs, batch_size)
    except Exception as error:  # the runtime's own error is the report
        return failed_run(path, runtime, numerics, error, kind)
    return compare(path, runtime, numerics, expected, outputs, kind, output_step=step)


def failed_artefact_path(path):
    """Where an artefact that failed verification is kept: <name>.failed[.tflite|.onnx]."""
    root, suffix = os.path.splitext(path.rstrip(os.sep))
    if os.path.isdir(path) or not suffix:
        return path.rstrip(os.sep) + ".failed"
    return f"{root}.failed{suffix}"


def _first_missing_directory(directory):
    """The outermost directory that os.makedirs(directory) would create, or None."""
    missing = None
    while directory and not os.path.exists(directory):
        missing = directory
        directory = os.path.dirname(directory)
    return missing


def _replace(tmp_path, path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.remove(path)
    os.replace(tmp_path, path)


def export(
    model,
    path,
    format,
    *,
    quantization=None,
    representative_data=None,
    int8_io=False,
    fuse=True,
    include_preprocessing=None,
    batch_size=None,
    image_size=None,
    opset=DEFAULT_OPSET,
    overwrite=False,
    verification_data=None,
    num_verification=None,
    num_calibration=200,
    threads=2,
):
    """Export `model` and verify the artefact in its real runtime.

    Args:
        model: a keras_minimal model (fused first unless fuse=False) or any Keras model.
        path: a directory for "saved_model", a .tflite or .onnx file otherwise.
        format: "saved_model", "tflite" or "onnx" (opset `opset`, default 17).
        quantization: TFLite only: None (float32), "fp16" or "int8" (full-integer
            post-training quantisation calibrated on `representative_data`). A
            quantisation-aware model (keras_minimal.quantization.quantize_aware) exports
            as "int8" with the ranges it trained (no representative_data) and is verified
            against its own fake-quantised outputs; to ONNX with QuantizeLinear /
            DequantizeLinear pairs over the same ranges.
        int8_io: int8 inputs and outputs too (with quantization="int8").
        include_preprocessing: None keeps the model's; True/False rebuilds it.
        batch_size: None for a dynamic batch dimension, an int for a static one.
        image_size: static side to export at when the model's size is dynamic.
        overwrite: replace an existing artefact. The artefact is written to a
            temporary path, verified there and only then moved into place: a failed
            export never leaves half a file, and one that fails verification is kept
            as `<name>.failed.<ext>` (`failed_artefact_path`) for inspection instead.
            The temporary path lies in a hidden folder `.export-<host>-<pid>-<random>` next
            to the artefact; one left by an export killed mid-write (its process gone) is
            removed by the next export into that folder.
        verification_data: images (N, H, W, C) or an iterable of batches to compare on:
            up to `num_verification` (None: 8, or 32 for int8, whose verdict is a top-1
            agreement), in whole batches for a static batch size.
            Default: the representative data, else random images. A one-shot iterator
            as representative_data gives its first images to verification; pass an
            array, a list or a tf.data.Dataset to calibrate on all of them.

    Returns:
        ExportResult; its report is also written to `<artefact>.report.json`.

    Raises:
        ValueError: bad arguments or data, before anything is written.
        ExportVerificationError: the artefact does not run in its runtime, or does not
        match the Keras model: within 1e-4 (float32) or 1e-2 (float16) of max |Keras
        output|; for int8, the same top-1 class on at least half of the images and
        logits within 0.75 of max |Keras logit| (deploy/parity.py says why). A model
        that ends in a softmax is verified on its logits as well as on its outputs.
        `error.result.path` is the kept artefact.
    """
    path = os.fspath(path)
    quantize_aware = qat.is_quantize_aware(model)
    _check_arguments(
        format,
        quantization,
        opset,
        representative_data,
        int8_io,
        path,
        overwrite,
        batch_size,
        num_verification,
        num_calibration,
        image_size,
        quantize_aware,
    )
    original = model
    model = prepare_model(model, fuse, include_preprocessing, image_size)
    _check_data_shape("representative_data", representative_data, model)
    _check_data_shape("verification_data", verification_data, model)
    numerics = _NUMERICS[quantization]
    if quantize_aware and format != "saved_model":  # a SavedModel keeps the float FakeQuant ops
        numerics = qat.NUMERICS
    if num_verification is None:
        num_verification = _DEFAULT_NUM_VERIFICATION.get(numerics, _FLOAT_NUM_VERIFICATION)
    inputs = _verification_inputs(
        model,
        verification_data if verification_data is not None else representative_data,
        batch_size,
        num_verification,
        "verification_data" if verification_data is not None else "representative_data",
    )
    kind = output_kind(model)
    # A model ending in a softmax is exported a second time without it, into the working
    # folder only, and verified on those logits as well as on its actual outputs.
    twin = logits_model(model)
    reference = _predict(model, inputs)
    reference_logits = None if twin is None else _predict(twin, inputs)
    if twin is not None and quantization == "int8":
        representative_data = _reusable(representative_data, batch_size, num_calibration)
    checks = []
    if model is not original and _same_inputs(original, model):
        checks.append(_keras_graph_check(original, model, inputs, reference, reference_logits))

    parent = os.path.dirname(os.path.abspath(path))
    created = _first_missing_directory(parent)
    os.makedirs(parent, exist_ok=True)
    suffix = "" if format == "saved_model" else os.path.splitext(path)[1]
    remove_dead_leftovers(parent, _WORKING_FOLDER_PREFIX)  # of exports killed mid-write
    tmp_dir = make_owned_dir(parent, _WORKING_FOLDER_PREFIX)
    try:
        options = (
            format,
            batch_size,
            quantization,
            representative_data,
            int8_io,
            opset,
            num_calibration,
        )
        tmp_path = os.path.join(tmp_dir, "artefact" + suffix)
        _write(model, tmp_path, *options)
        verify = functools.partial(
            _runtime_check, format, threads, batch_size, path, numerics, inputs
        )
        if twin is not None:
            logits_path = os.path.join(tmp_dir, "logits" + suffix)
            _write(twin, logits_path, *options)
            checks.append(verify(logits_path, reference_logits, LOGITS, qat.output_step(twin)))
        checks.append(verify(tmp_path, reference, kind, qat.output_step(model)))
        # Only a verified artefact takes the path (and replaces what was there).
        if not all(check.passed for check in checks):
            path = failed_artefact_path(path)
        _replace(tmp_path, path)
    except BaseException:
        if created:
            shutil.rmtree(created, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)

    report_path = f"{path.rstrip(os.sep)}.report.json"
    details = {
        "artefact": path,
        "format": format,
        "quantization": quantization,
        "opset": opset if format == "onnx" else None,
        "batch_size": batch_size,
        "input_shape": list(input_shape_of(model)),
        "fused": bool(fuse) or quantize_aware,
        "quantize_aware": quantize_aware,
        "outputs": kind,
        "num_verification_inputs": len(inputs),
    }
    payload = write_report(report_path, checks, details)
    result = ExportResult(path, report_path, checks, payload["passed"])
    if not result.passed:
        error = ExportVerificationError(
            f"Export verification failed for {path} (report: {report_path}):\n{result.table()}"
        )
        error.result = result
        raise error
    return result


def artefact_path(output_dir, name, format, quantization=None):
    """<output_dir>/<name>[_fp16|_int8].{tflite,onnx} or <name>_saved_model/; a name that
    already ends with the suffix keeps it once ("lc_int8" → lc_int8.tflite)."""
    suffix = (
        "_saved_model" if format == "saved_model" else f"_{quantization}" if quantization else ""
    )
    if name.endswith(suffix):
        suffix = ""
    if format == "saved_model":
        return os.path.join(output_dir, f"{name}{suffix}")
    return os.path.join(output_dir, f"{name}{suffix}.{format}")


def check_export_arguments(model, path, format, **options):
    """export()'s argument checks alone (nothing is built or written)."""
    bound = inspect.signature(export).bind(model, path, format, **options)
    bound.apply_defaults()
    arguments = bound.arguments
    _check_arguments(
        format,
        arguments["quantization"],
        arguments["opset"],
        arguments["representative_data"],
        arguments["int8_io"],
        os.fspath(path),
        arguments["overwrite"],
        arguments["batch_size"],
        arguments["num_verification"],
        arguments["num_calibration"],
        arguments["image_size"],
        qat.is_quantize_aware(model),
    )


def export_artefacts(model, output_dir, targets, name=None, **options):
    """Export to several (format, quantization) targets; returns every ExportResult.

    Every target's arguments are checked before the first is written. `int8_io` applies
    to the int8 TFLite targets. Unlike export(), a failed verification does not stop the
    others: check `passed`.
    """
    name = name or model.name
    int8_io = options.pop("int8_io", False)
    if int8_io and not any(quantization == "int8" for _, quantization in targets):
        raise ValueError(
            "int8_io=True applies to int8 TFLite targets, and none is asked for; add "
            f'("tflite", "int8") or drop int8_io. Received: targets={list(targets)!r}'
        )
    plan = []
    for format, quantization in targets:
        path = artefact_path(output_dir, name, format, quantization)
        if any(path == planned for planned, *_ in plan):
            raise ValueError(f"Each target once, please: {path!r} is asked for twice.")
        target_options = dict(
            options, quantization=quantization, int8_io=int8_io and quantization == "int8"
        )
        check_export_arguments(model, path, format, **target_options)
        plan.append((path, format, target_options))
    results = []
    for path, format, target_options in plan:
        try:
            results.append(export(model, path, format, **target_options))
        except ExportVerificationError as error:
            results.append(error.result)
    return results


__all__ = [
    "DEFAULT_OPSET",
    "FORMATS",
    "ExportResult",
    "ExportVerificationError",
    "ParityCheck",
    "export",
    "prepare_model",
]
