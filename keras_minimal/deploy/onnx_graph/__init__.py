"""Rewrites of tf2onnx's output that onnxruntime runs faster, with the same maths.

One module per rewrite; `rewrite_model` applies them in order. The export's parity check
runs on the rewritten file. onnx is an optional dependency (the "export" extra), so only
`optimize_onnx_file` is importable without it.
"""


def optimize_onnx_file(path):
    """Apply every rewrite to the ONNX file at `path`, in place."""
    import onnx  # the "export" extra; the rest of keras_minimal.deploy imports without it

    from keras_minimal.deploy.onnx_graph.pipeline import rewrite_model

    model = onnx.load(path)
    if rewrite_model(model):
        onnx.checker.check_model(model)
        onnx.save(model, path)
