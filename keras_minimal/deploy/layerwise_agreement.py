"""Layer by layer: does a full-integer TFLite file compute what its quantisation-aware
Keras model computes?

An end-to-end comparison cannot tell a faithful export from a wrong one on a deep, thin
network: the two compute each int8 tensor in different arithmetic (TFLite's int32 bias
and fixed-point rescaling, the fake-quantised graph's float32), a value that lies within
a hair of a rounding boundary lands one step apart now and then, and the layers after it
amplify that step. Here each quantised tensor of the Keras model is instead computed from
TFLite's own values of the tensors before it (teacher forcing), so that every layer is
judged on its own: a faithful layer is exact on nearly every element and never more than
one step off. The file runs with the interpreter's default kernels (XNNPACK), as it does
for its users.
"""

import dataclasses
import re
import warnings

import numpy as np
from keras import ops

from keras_minimal.deploy.quantize_aware_export import float_operators
from keras_minimal.layers.activation_quantizer import ActivationQuantizer
from keras_minimal.layers.quantized_activation import QuantizedActivation

_LEVELS = 255


@dataclasses.dataclass
class LayerAgreement:
    """How one quantised tensor of the Keras model compares with TFLite's.

    `tensor` is the TFLite tensor it was matched with (None: no tensor of the file has
    its grid and size, and the other fields are None). `exact`: fraction of elements on
    the same int8 level; `within_one_step`: at most one level apart; `max_steps`: the
    largest difference in levels.
    """

    layer: str
    step: float
    tensor: str | None = None
    exact: float | None = None
    within_one_step: float | None = None
    max_steps: int | None = None


def _grid(layer):
    """(step, int8 zero point) of the 8-bit grid a quantiser writes, as TFLite stores it."""
    if isinstance(layer, ActivationQuantizer):
        low, high = (float(ops.convert_to_numpy(v)) for v in (layer.range_min, layer.range_max))
    else:
        low, high = layer.output_range
    step = (high - low) / _LEVELS
    return step, int(np.round(-low / step)) - 128


def _is_quantizer(layer):
    return isinstance(layer, (ActivationQuantizer, QuantizedActivation))


class _TFLiteTensors:
    """Every int8 activation tensor of a .tflite file, dequantised, over some images."""

    def __init__(self, path, images):
        from ai_edge_litert.interpreter import Interpreter

        floats = float_operators(path)
        if floats:
            raise ValueError(
                f"{path} is not a full-integer TFLite file: float operators are left "
                f"({', '.join(sorted(set(floats)))}), so there is no int8 tensor to compare "
                "there. Compare the file that export(qat_model, ..., quantization='int8') "
                f"wrote and verified. Received: {path}"
            )
        with warnings.catch_warnings():  # keeping every tensor is the point here
            warnings.filterwarnings("ignore", ".*experimental_preserve_all_tensors")
            interpreter = Interpreter(model_path=str(path), experimental_preserve_all_tensors=True)
        interpreter.allocate_tensors()
        details = [
            t
            for t in interpreter.get_tensor_details()
            if t["dtype"] == np.int8 and t["quantization"][0] > 0 and len(t["shape"]) >= 2
        ]
        self.details = {t["index"]: t for t in details}
        values = {index: [] for index in self.details}
        (input_detail,) = interpreter.get_input_details()
        for image in images:
            interpreter.set_tensor(input_detail["index"], _as_input(image[None], input_detail))
            interpreter.invoke()
            for index in values:
                values[index].append(interpreter.get_tensor(index)[0].copy())
        self.levels = {index: np.stack(v).astype("int32") for index, v in values.items()}

    def find(self, layer, elements):
        """The index of the tensor on `layer`'s grid with `elements` values per image (by
        the name of the quantiser or of a layer it quantises when several are), or None."""
        step, zero_point = _grid(layer)
        found = [
            index
            for index, t in self.details.items()
            if int(t["quantization"][1]) == zero_point
            and np.isclose(t["quantization"][0], step, rtol=1e-5)
            and int(np.prod(t["shape"][1:])) == elements
        ]
        if len(found) > 1:
            names = "|".join(re.escape(n) for n in {layer.name, *_producer_names(layer)})
            pattern = re.compile(rf"/({names})(_\d+)?/")
            found = [i for i in found if pattern.search(self.details[i]["name"])]
        return found[0] if len(found) == 1 else None

    def dequantized(self, index):
        scale, zero_point = self.details[index]["quantization"]
        return (self.levels[index] - zero_point).astype("float32") * scale


def _producer_names(layer):
    return [
        tensor._keras_history.operation.name
        for node in layer._inbound_nodes
        for tensor in node.input_tensors
    ]


def _as_input(batch, detail):
    if detail["dtype"] != np.int8:
        return batch.astype(detail["dtype"])
    scale, zero_point = detail["quantization"]
    levels = np.floor(batch / scale + 0.5) + zero_point
    return np.clip(levels, -128, 127).astype(np.int8)


def layerwise_agreement(model, tflite_path, images, teacher_forcing=True):
    """[LayerAgreement] for each quantised tensor of the quantisation-aware `model`, in
    graph order, against the full-integer TFLite file exported from it (batch 1, float
    or int8 input), each computed from TFLite's values of the tensors before it; with
    `teacher_forcing=False`, from the Keras model's own (to see differences grow)."""
    images = np.asarray(images, "float32")
    tflite = _TFLiteTensors(tflite_path, images)
    results = []

    def call(layer, *args, **kwargs):
        outputs = layer(*args, **kwargs)
        if not _is_quantizer(layer):
            return outputs
        values = ops.convert_to_numpy(outputs)
        step = _grid(layer)[0]
        index = tflite.find(layer, values[0].size)
        if index is None:
            results.append(LayerAgreement(layer.name, step))
            return outputs
        ours = np.round(values.reshape(tflite.levels[index].shape) / step)
        theirs = tflite.dequantized(index)
        difference = np.abs(np.round(theirs / step) - ours)
        results.append(
            LayerAgreement(
                layer.name,
                step,
                tflite.details[index]["name"],
                float(np.mean(difference == 0)),
                float(np.mean(difference <= 1)),
                int(difference.max()),
            )
        )
        if not teacher_forcing:
            return outputs
        return ops.convert_to_tensor(theirs.reshape(values.shape))

    model._run_through_graph(ops.convert_to_tensor(images), call_fn=call)
    return results
