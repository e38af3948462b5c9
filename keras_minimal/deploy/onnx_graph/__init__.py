"""Rewrites of tf2onnx's output that onnxruntime runs faster, with the same maths.

One module per rewrite; `pipeline.rewrite_model` applies them in order. The export's parity
check runs on the rewritten file. onnx (the "export" extra) is imported only when a rewrite
runs (`proto.py`).
"""

from keras_minimal.deploy.onnx_graph.pipeline import rewrite_model
from keras_minimal.deploy.onnx_graph.proto import load_model, save_checked_model


def optimize_onnx_file(path):
    """Apply every rewrite to the ONNX file at `path`, in place."""
    model = load_model(path)
    if rewrite_model(model):
        save_checked_model(model, path)
