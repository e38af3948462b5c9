"""The 8-bit range of one activation tensor, tracked in training, fixed at inference."""

import keras
from keras import ops

from keras_minimal.layers.fake_quant import fake_quantize, fake_quantize_average

# A tensor that is all zeros (a branch whose gain is still 0) gets a range of this width:
# a zero-width range has no scale (TFLite and tf2onnx divide by it).
MIN_RANGE_WIDTH = 1e-6


@keras.saving.register_keras_serializable(package="keras_minimal")
class ActivationQuantizer(keras.layers.Layer):
    """Fake-quantises its input to 8 bits over a tracked range (per tensor, asymmetric).

    As tensorflow-model-optimization's default activation quantiser: in training, each
    batch's [min(x, 0), max(x, 0)] updates an exponential moving average of decay
    `ema_decay`, and the batch is quantised over the updated range; at inference the
    stored range is used as it is. The first training batch sets the range outright
    (PyTorch's observers do the same) instead of averaging it into the initial ±6, so a
    short fine-tune does not keep a range from before it saw data. The range always
    contains 0 (TFLite's zero point must be a grid level) and is at least
    MIN_RANGE_WIDTH wide. ±inf (1/√0 in QuantizedLayerNormalization) is quantised to
    the end of the range, as TFLite's int8 kernels saturate, and leaves the range alone.

    The range and the number of batches seen (`steps`) are non-trainable variables:
    they are saved with the model and restored by checkpoints.

    Args:
        ema_decay: decay of the moving averages (0.999 as tfmot).
        initial_range: (min, max) before any training batch.
        fixed_range: (min, max) that never changes, for outputs whose TFLite kernel
            fixes the scale (softmax and sigmoid: [0, 255/256]).
    """

    def __init__(self, ema_decay=0.999, initial_range=(-6.0, 6.0), fixed_range=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= float(ema_decay) < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1). Received: ema_decay={ema_decay!r}")
        for name, value in (("initial_range", initial_range), ("fixed_range", fixed_range)):
            if value is not None and not (
                len(value) == 2 and value[0] <= 0.0 <= value[1] and value[0] < value[1]
            ):
                raise ValueError(
                    f"{name} must be (min, max) with min ≤ 0 ≤ max and min < max (zero must "
                    f"be representable). Received: {name}={value!r}"
                )
        self.ema_decay = float(ema_decay)
        self.initial_range = tuple(float(v) for v in initial_range)
        self.fixed_range = None if fixed_range is None else tuple(float(v) for v in fixed_range)

    def build(self, input_shape):
        low, high = self.fixed_range or self.initial_range
        # Every replica sees its own batch: the ranges average over replicas.
        options = dict(shape=(), trainable=False, aggregation="mean", dtype="float32")
        self.range_min = self.add_weight(
            name="range_min", initializer=keras.initializers.Constant(low), **options
        )
        self.range_max = self.add_weight(
            name="range_max", initializer=keras.initializers.Constant(high), **options
        )
        self.steps = self.add_weight(
            name="steps",
            shape=(),
            initializer="zeros",
            dtype="int32",
            trainable=False,
            aggregation="only_first_replica",
        )

    def call(self, inputs, training=None, update_range=True, average=False):
        """`update_range=False`: quantise over this range without updating it (a second
        tensor that TFLite keeps on the same grid). `average=True`: `inputs` average
        values on this grid (an average pooling's output, which TFLite's int8 kernel
        keeps on its input's grid): rounded as that kernel rounds (fake_quantize_average),
        without updating the range."""
        low, high = self.range_min, self.range_max
        if average:
            return fake_quantize_average(inputs, low, high)
        if training and update_range and self.fixed_range is None:
            low, high = self._update(inputs)
        return fake_quantize(inputs, low, high)

    def _update(self, inputs):
        x = ops.cast(ops.stop_gradient(inputs), "float32")
        x = ops.where(ops.isinf(x), 0.0, x)  # saturates at an end; must not widen the range
        batch_min = ops.minimum(ops.min(x), 0.0)
        batch_max = ops.maximum(ops.max(x), 0.0)
        first = ops.equal(self.steps, 0)
        decay = self.ema_decay
        low = ops.where(first, batch_min, decay * self.range_min + (1.0 - decay) * batch_min)
        high = ops.where(first, batch_max, decay * self.range_max + (1.0 - decay) * batch_max)
        high = ops.maximum(high, low + MIN_RANGE_WIDTH)
        self.range_min.assign(low)
        self.range_max.assign(high)
        self.steps.assign(self.steps + 1)
        return low, high

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            ema_decay=self.ema_decay,
            initial_range=list(self.initial_range),
            fixed_range=None if self.fixed_range is None else list(self.fixed_range),
        )
        return config


def activation_quantizers(model):
    """Every ActivationQuantizer of `model` (and of the models and layers nested in it)."""
    return [layer for layer in model._flatten_layers() if isinstance(layer, ActivationQuantizer)]


def is_quantize_aware(model):
    """Whether `model` fake-quantises its activations (built by quantize_aware)."""
    return bool(activation_quantizers(model))
