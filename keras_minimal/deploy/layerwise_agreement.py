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

from keras_minimal.deploy.quantize_aware_export import float_operators, quantizer_range
from keras_minimal.layers.activation_quantizer import ActivationQuantizer
from keras_minimal.layers.quantized_activation import QuantizedActivation
from keras_minimal.layers.quantized_layer_normalization import QuantizedLayerNormalization

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
    low, high = quantizer_range(layer)
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
        self.claimed = set()  # the tensors matched so far

    def find(self, grid, values, names):
        """The index of the tensor on `grid` (step, zero point) with the size of `values`
        (one image's) that the Keras quantiser computing `values` writes, or None. When
        several tensors have that grid and size (a tensor and its reshape; γ·x and γ·x + β
        with β ≈ 0 have ranges within rounding of each other), the one named after a
        layer in `names`, not matched before, whose levels are nearest `values`'."""
        step, zero_point = grid
        found = [
            index
            for index, t in self.details.items()
            if int(t["quantization"][1]) == zero_point
            and np.isclose(t["quantization"][0], step, rtol=1e-5)
            and int(np.prod(t["shape"][1:])) == values[0].size
        ]
        if len(found) > 1:
            pattern = re.compile(rf"/({'|'.join(re.escape(n) for n in names)})(_\d+)?/")
            found = [i for i in found if pattern.search(self.details[i]["name"])]
            found = [i for i in found if i not in self.claimed] or found
            levels = np.round(values / step)
            found = sorted(
                found,
                key=lambda i: np.sum(
                    np.round(self.dequantized(i) / step) != levels.reshape(self.levels[i].shape)
                ),
            )[:1]
        if not found:
            return None
        self.claimed.add(found[0])
        return found[0]

    def dequantized(self, index):
        scale, zero_point = self.details[index]["quantization"]
        return (self.levels[index] - zero_point).astype("float32") * scale


def _producers(layer, average):
    """The names of the layers whose outputs `layer` quantises: its own tensor's producers
    (average=False), or the average poolings whose outputs it rounds onto its grid."""
    return [
        tensor._keras_history.operation.name
        for node in layer._inbound_nodes
        if bool(node.arguments.kwargs.get("average")) == average
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
    `teacher_forcing=False`, from the Keras model's own (to see differences grow). The
    steps of a QuantizedLayerNormalization (TFLite's MEAN, SUB, MUL, ... between them) are
    compared one by one, as "<layer>/<step quantiser>"; an average pooling's output, which
    TFLite keeps on its input's grid, as "<pooling layer>/<input's quantiser>"."""
    images = np.asarray(images, "float32")
    tflite = _TFLiteTensors(tflite_path, images)
    results = []

    def compare(quantizer, outputs, label, names):
        """`outputs` of `quantizer` against its TFLite tensor; TFLite's values in their
        place when teacher forcing."""
        values = ops.convert_to_numpy(outputs)
        grid = _grid(quantizer)
        index = tflite.find(grid, values, names)
        if index is None:
            results.append(LayerAgreement(label, grid[0]))
            return outputs
        ours = np.round(values.reshape(tflite.levels[index].shape) / grid[0])
        theirs = tflite.dequantized(index)
        difference = np.abs(np.round(theirs / grid[0]) - ours)
        results.append(
            LayerAgreement(
                label,
                grid[0],
                tflite.details[index]["name"],
                float(np.mean(difference == 0)),
                float(np.mean(difference <= 1)),
                int(difference.max()),
            )
        )
        if not teacher_forcing:
            return outputs
        return ops.convert_to_tensor(theirs.reshape(values.shape))

    def call(layer, *args, **kwargs):
        if isinstance(layer, QuantizedLayerNormalization):
            return layer.compute_steps(
                args[0],
                lambda q, x: compare(q, q(x), f"{layer.name}/{q.name}", {layer.name}),
            )
        outputs = layer(*args, **kwargs)
        if not _is_quantizer(layer):
            return outputs
        if kwargs.get("average"):
            pooling = next(averages[id(layer)])
            return compare(layer, outputs, f"{pooling}/{layer.name}", {pooling})
        return compare(layer, outputs, layer.name, {layer.name, *_producers(layer, False)})

    averages = {
        id(layer): iter(_producers(layer, True))
        for layer in model.layers
        if isinstance(layer, ActivationQuantizer)
    }

    model._run_through_graph(ops.convert_to_tensor(images), call_fn=call)
    return results
