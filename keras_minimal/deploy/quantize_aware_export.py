"""Exporting a quantisation-aware model: its trained ranges are the int8 parameters.

A model of keras_minimal.quantization.quantize_aware computes with fake quantisation
(TensorFlow's FakeQuantWithMinMaxVars ops on the TensorFlow backend). The TFLite
converter reads those ops as each tensor's quantisation parameters, so a full-integer
file comes out without a representative dataset; tf2onnx writes them as
QuantizeLinear/DequantizeLinear pairs (the weights are folded: float32 values already on
their int8 grid). Both are verified against the quantisation-aware Keras model itself.
"""

from keras import ops

from keras_minimal.deploy.parity import QAT_NUMERICS
from keras_minimal.layers.activation_quantizer import ActivationQuantizer, is_quantize_aware
from keras_minimal.layers.fake_quant import NUM_BITS, converter_graph
from keras_minimal.layers.quantized_activation import QuantizedActivation

NUMERICS = QAT_NUMERICS
_LEVELS = 2**NUM_BITS - 1
# The ops that convert at the float edges of a full-integer graph (float in/out).
_EDGE_OPS = ("QUANTIZE", "DEQUANTIZE")

__all__ = [
    "NUMERICS",
    "check_arguments",
    "converter_graph",
    "converter_options",
    "float_operators",
    "is_quantize_aware",
    "output_step",
    "quantizer_range",
]


def check_arguments(format, quantization, representative_data):
    """ValueError for export options that do not apply to a quantisation-aware model."""
    if format == "tflite" and quantization != "int8":
        raise ValueError(
            "A quantisation-aware model exports to TFLite as int8, with the ranges it "
            f"trained: pass quantization='int8'. Received: quantization={quantization!r}"
        )
    if representative_data is not None:
        raise ValueError(
            "A quantisation-aware model brings its own int8 ranges: representative_data "
            "(post-training calibration) does not apply. Pass the images as "
            "verification_data to verify the export on them. Received: representative_data "
            f"of type {type(representative_data).__name__}"
        )


def converter_options(int8_io):
    """TFLite converter options: the FakeQuant ranges, no representative dataset."""
    import tensorflow as tf

    options = {"optimizations": [tf.lite.Optimize.DEFAULT]}
    if int8_io:
        options.update(inference_input_type=tf.int8, inference_output_type=tf.int8)
    return options


def float_operators(path):
    """The operators of the .tflite file at `path` that compute in float (a full-integer
    file has none; QUANTIZE / DEQUANTIZE at its float edges do not count)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(
        model_path=str(path),
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    dtypes = {t["index"]: t["dtype"].__name__ for t in interpreter.get_tensor_details()}
    found = []
    for op in interpreter._get_ops_details():
        tensors = [i for i in (*op["inputs"], *op["outputs"]) if i >= 0]
        if op["op_name"] not in _EDGE_OPS and any("float" in dtypes[i] for i in tensors):
            found.append(op["op_name"])
    return found


def quantizer_range(layer):
    """(low, high) of the 8-bit grid an ActivationQuantizer or QuantizedActivation writes,
    or None for another layer."""
    if isinstance(layer, ActivationQuantizer):
        return tuple(float(ops.convert_to_numpy(v)) for v in (layer.range_min, layer.range_max))
    if isinstance(layer, QuantizedActivation):
        return tuple(layer.output_range)
    return None


def output_step(model):
    """The spacing of the 8-bit grid of a quantisation-aware model's output, or None when
    its last layer is not a quantiser."""
    layer = model.outputs[0]._keras_history.operation if len(model.outputs) == 1 else None
    grid = quantizer_range(layer)
    return None if grid is None else (grid[1] - grid[0]) / _LEVELS
