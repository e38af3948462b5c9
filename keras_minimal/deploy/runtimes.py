"""Run an exported artefact in its real runtime: TF SavedModel, LiteRT interpreter, onnxruntime."""

import numpy as np

RUNTIMES = {
    "saved_model": "TensorFlow SavedModel",
    "tflite": "LiteRT interpreter (ai-edge-litert, XNNPACK)",
    "onnx": "onnxruntime (CPUExecutionProvider)",
}

# LiteRT's kernel sets, by the name of their ai_edge_litert OpResolverType. An int8 file's
# outputs depend on which one runs it: they round requantisation and means differently, so
# a one-step difference may flip a class.
TFLITE_KERNELS = {
    "xnnpack": "AUTO",  # LiteRT's default: optimised built-in kernels with XNNPACK
    "builtin": "BUILTIN_WITHOUT_DEFAULT_DELEGATES",  # the same kernels without XNNPACK
    "reference": "BUILTIN_REF",  # TFLite's reference kernels (reference_ops)
}


def _saved_model(path, threads):
    import tensorflow as tf

    loaded = tf.saved_model.load(path)
    serve = loaded.signatures["serving_default"]
    (output_name,) = serve.structured_outputs

    def run(x):
        return serve(tf.constant(x))[output_name].numpy()

    return run


def _quantize(x, details):
    scale, zero_point = details["quantization"]
    info = np.iinfo(details["dtype"])
    return np.clip(np.round(x / scale + zero_point), info.min, info.max).astype(details["dtype"])


def _dequantize(y, details):
    scale, zero_point = details["quantization"]
    return (y.astype("float32") - zero_point) * scale


def _tflite(path, threads, kernels="xnnpack"):
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
    except ImportError:
        raise ImportError(
            "Running .tflite files needs pip install 'keras-minimal[export]'."
        ) from None
    resolver = getattr(OpResolverType, TFLITE_KERNELS[kernels])
    interpreter = Interpreter(
        model_path=path, num_threads=threads, experimental_op_resolver_type=resolver
    )
    interpreter.allocate_tensors()
    (inp,) = interpreter.get_input_details()
    (out,) = interpreter.get_output_details()
    quantized_input = np.issubdtype(inp["dtype"], np.integer)
    quantized_output = np.issubdtype(out["dtype"], np.integer)

    def run(x):
        if tuple(inp["shape"]) != x.shape:
            interpreter.resize_tensor_input(inp["index"], x.shape)
            interpreter.allocate_tensors()
            inp.update(interpreter.get_input_details()[0])
        interpreter.set_tensor(inp["index"], _quantize(x, inp) if quantized_input else x)
        interpreter.invoke()
        y = interpreter.get_tensor(out["index"])
        return _dequantize(y, out) if quantized_output else y.copy()

    return run


def _onnx(path, threads):
    try:
        import onnxruntime
    except ImportError:
        raise ImportError(
            "Running .onnx files needs pip install 'keras-minimal[export]'."
        ) from None
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    (inp,) = session.get_inputs()

    def run(x):
        return session.run(None, {inp.name: x})[0]

    return run


_LOADERS = {"saved_model": _saved_model, "tflite": _tflite, "onnx": _onnx}


def load_runtime(format, path, threads=2, tflite_kernels="xnnpack"):
    """A callable float32 NHWC batch → float32 outputs running `path` in its runtime;
    `tflite_kernels` picks LiteRT's kernel set for a .tflite file (TFLITE_KERNELS)."""
    if tflite_kernels not in TFLITE_KERNELS:
        raise ValueError(
            f"tflite_kernels must be one of {sorted(TFLITE_KERNELS)}. "
            f"Received: tflite_kernels={tflite_kernels!r}"
        )
    if format == "tflite":
        return _tflite(str(path), threads, tflite_kernels)
    if tflite_kernels != "xnnpack":
        raise ValueError(
            f"tflite_kernels picks a LiteRT kernel set, and a {format!r} artefact does not run "
            'in LiteRT; leave it at "xnnpack" for this format. '
            f"Received: format={format!r}, tflite_kernels={tflite_kernels!r}"
        )
    return _LOADERS[format](str(path), threads)
