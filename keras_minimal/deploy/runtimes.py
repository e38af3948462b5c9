"""Run an exported artefact in its real runtime: TF SavedModel, LiteRT interpreter, onnxruntime."""

import numpy as np

RUNTIMES = {
    "saved_model": "TensorFlow SavedModel",
    "tflite": "LiteRT interpreter (ai-edge-litert, XNNPACK)",
    "onnx": "onnxruntime (CPUExecutionProvider)",
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


def _tflite(path, threads):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise ImportError(
            "Running .tflite files needs pip install 'keras-minimal[export]'."
        ) from None
    interpreter = Interpreter(model_path=path, num_threads=threads)
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


def load_runtime(format, path, threads=2):
    """A callable float32 NHWC batch → float32 outputs running `path` in its runtime."""
    return _LOADERS[format](str(path), threads)
