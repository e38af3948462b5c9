"""Rewrites of tf2onnx's output that onnxruntime runs faster, with the same maths.

One module per rewrite; `pipeline.rewrite_model` applies them in order. The export's parity
check runs on the rewritten file. onnx (the "export" extra) is imported only when a rewrite
runs (`proto.py`).
"""

from keras_minimal.deploy.onnx_graph.pipeline import rewrite_model
from keras_minimal.deploy.onnx_graph.proto import is_valid_model, load_model, save_checked_model


def optimize_onnx_file(path):
    """Apply every rewrite to the ONNX file at `path`, in place. A file that is not valid ONNX
    (an op tf2onnx left unconverted, such as Keras' exact GELU's Erfc) is left as it is, for
    the export's parity check to report what the runtime says of it."""
    model = load_model(path)
    if is_valid_model(model) and rewrite_model(model):
        save_checked_model(model, path)
