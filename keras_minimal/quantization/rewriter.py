"""The graph walk that builds a quantisation-aware model: tensors, their grids, names."""

import keras

from keras_minimal.layers.activation_quantizer import ActivationQuantizer

# The grid of a tensor whose range its own layer fixes (QuantizedActivation's output).
FIXED_GRID = "fixed"
# The names Keras gives an unnamed keras.Input (with a process-wide counter).
_KERAS_INPUT_NAMES = ("input_layer", "keras_tensor")


def _consumers(model):
    """id(layer) → the layers that consume its outputs ("output" for a model output)."""
    consumers = {}
    for nodes in model._nodes_by_depth.values():
        for node in nodes:
            if node.is_input:
                continue
            for tensor in node.input_tensors:
                producer = tensor._keras_history.operation
                consumers.setdefault(id(producer), []).append(node.operation)
    for tensor in model.outputs:
        consumers.setdefault(id(tensor._keras_history.operation), []).append("output")
    return consumers


class Rewriter:
    """Calls each layer's quantisation rule on the new tensors, keeping track of the
    8-bit grid each new tensor lies on (the ActivationQuantizer whose range it is
    quantised over) so that every tensor of the new model is quantised exactly once.

    Args:
        model: the float functional model (fused) to rebuild.
        rule_for: layer → rule(rewriter, layer, *args, **kwargs) → output tensor(s).
        ema_decay: for every ActivationQuantizer.
    """

    def __init__(self, model, rule_for, ema_decay):
        self.rule_for = rule_for
        self.ema_decay = ema_decay
        self.grid = {}  # id(new tensor) → its ActivationQuantizer, or FIXED_GRID
        self.fused = {}  # id(new tensor) → the following relu/relu6 already applied to it
        self._tensors = []  # the new tensors, alive while their ids are keys above
        self._consumers = _consumers(model)
        self._reserved = {layer.name for layer in model._flatten_layers()}
        self._taken = set()
        self._input_names = {}  # id(new model input) → the name of its quantiser

    def call(self, layer, *args, **kwargs):
        if isinstance(layer, keras.Model):
            return layer._run_through_graph(args[0], call_fn=self.call)
        return self.rule_for(layer)(self, layer, *args, **kwargs)

    # -- names and layers ----------------------------------------------------------------
    def unique_name(self, name):
        """`name` if free, else `name_2`, `name_3`, ...: a float layer's name is kept for
        the layer that replaces it (the first to ask), derived names avoid all of them."""
        candidate, count = name, 1
        while candidate in self._taken or (candidate != name and candidate in self._reserved):
            count += 1
            candidate = f"{name}_{count}"
        self._taken.add(candidate)
        return candidate

    def copy(self, layer, cls=None, **overrides):
        """A new float32 layer of `layer`'s config and name (and class, unless `cls`),
        without weights."""
        config = {**layer.get_config(), **overrides, "dtype": "float32"}
        config["name"] = self.unique_name(layer.name)
        return (cls or type(layer)).from_config(config)

    def new(self, cls, name, **config):
        return cls(name=self.unique_name(name), dtype="float32", **config)

    # -- grids ---------------------------------------------------------------------------
    def _register(self, tensor, grid):
        self.grid[id(tensor)] = grid
        self._tensors.append(tensor)
        return tensor

    def quantized(self, tensor):
        """`tensor` on an 8-bit grid: a model input gets its own ActivationQuantizer, named
        after the input (by position when Keras named it: its name counts the inputs built
        so far in the process, and a checkpoint must find the same name in a rebuilt model)."""
        if id(tensor) in self.grid:
            return tensor
        name = self._input_names.get(id(tensor)) or tensor._keras_history.operation.name
        return self.track(tensor, f"{name}_quant")

    def name_inputs(self, old_inputs, new_inputs):
        """Remember the quantiser name of each new model input (see quantized)."""
        for index, (old, new) in enumerate(zip(old_inputs, new_inputs, strict=True)):
            name = old._keras_history.operation.name
            if name.startswith(_KERAS_INPUT_NAMES):
                name = "input" if len(old_inputs) == 1 else f"input_{index}"
            self._input_names[id(new)] = name
            self._tensors.append(new)

    def track(self, tensor, name, **options):
        """`tensor` fake-quantised over a new tracked range (ActivationQuantizer `name`)."""
        quantizer = self.new(ActivationQuantizer, name, ema_decay=self.ema_decay, **options)
        return self._register(quantizer(tensor), quantizer)

    def same_grid(self, output, source):
        """`output` holds values of `source` only (pooling maxima, padding, reshapes)."""
        return self._register(output, self.grid[id(source)])

    def fixed(self, output):
        return self._register(output, FIXED_GRID)

    def regrid(self, output, source, name):
        """`output` (averages of `source`'s values) rounded back to `source`'s grid, which
        TFLite keeps for it, as its kernel rounds; a tracked range when `source`'s is fixed."""
        quantizer = self.grid[id(source)]
        if not isinstance(quantizer, ActivationQuantizer):
            return self.track(output, name)
        return self._register(quantizer(output, average=True), quantizer)

    def fuse(self, tensor, kind):
        """Mark `tensor` as computed with the activation `kind` of a later layer fused."""
        self.fused[id(tensor)] = kind
        return tensor

    def fused_activation(self, tensor):
        """The later activation already applied to `tensor` (None if none)."""
        return self.fused.get(id(tensor))

    def is_model_output(self, layer):
        return "output" in self._consumers.get(id(layer), [])

    def only_consumer(self, layer):
        """The one layer that consumes `layer`'s output, or None (several, or an output)."""
        consumers = self._consumers.get(id(layer), [])
        if len(consumers) == 1 and consumers[0] != "output":
            return consumers[0]
        return None
