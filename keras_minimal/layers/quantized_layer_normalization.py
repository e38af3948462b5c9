"""LayerNormalization over channels in the int8 steps a TFLite graph computes it in."""

import keras
from keras import ops

from keras_minimal.layers.activation_quantizer import ActivationQuantizer
from keras_minimal.layers.fake_quant import fake_quantize_weights

# The tensors between TFLite's MEAN, SUB, MUL, ADD and RSQRT kernels, each with a range.
_STEPS = ("mean", "centred", "squared", "variance", "shifted", "inverse_std", "normalized")


def _rsqrt_saturating(x):
    """1/√x with no gradient where x is 0 (a variance below half a step of its grid rounds
    to 0), for training: there 1/√0 = +inf, which the inverse-std quantiser writes as the
    top of its range (as TFLite's int8 RSQRT does for its zero level) without widening
    the range, and the gradient of rsqrt would be 0 · inf = NaN. At inference the plain
    rsqrt gives the same values (and the exported graph no extra operators)."""
    positive = ops.greater(x, 0.0)
    return ops.where(positive, ops.rsqrt(ops.where(positive, x, 1.0)), float("inf"))


@keras.saving.register_keras_serializable(package="keras_minimal")
class QuantizedLayerNormalization(keras.layers.LayerNormalization):
    """keras.layers.LayerNormalization (last axis) with every intermediate tensor of its
    int8 form fake-quantised, each over a range tracked by its own ActivationQuantizer:

        mean = E[x]; c = x − mean; v = E[c · c]; r = rsqrt(v + ε); y = (c · r) · γ + β

    γ and β are fake-quantised per tensor (symmetric int8), as TFLite's MUL and ADD take
    a constant. The output is quantised by the ActivationQuantizer after this layer.
    int8 layer normalisation is coarse (the rsqrt of an 8-bit variance): expect larger
    errors than convolutions have.

    Args:
        ema_decay: of the intermediate tensors' ranges (see ActivationQuantizer).
    """

    def __init__(self, ema_decay=0.999, **kwargs):
        super().__init__(**kwargs)
        if list(self.axis) != [-1] if isinstance(self.axis, (list, tuple)) else self.axis != -1:
            raise ValueError(
                f"QuantizedLayerNormalization normalises the last axis. Received: axis={self.axis}"
            )
        self.ema_decay = float(ema_decay)
        steps = _STEPS + (("scaled",) if self.scale and self.center else ())
        self.step_quantizers = [
            ActivationQuantizer(ema_decay, name=f"{step}_quantizer") for step in steps
        ]

    def build(self, input_shape):
        super().build(input_shape)
        for quantizer in self.step_quantizers:
            quantizer.build(input_shape)

    def call(self, inputs, training=None):
        return self.compute_steps(inputs, lambda q, x: q(x, training=training), training)

    def compute_steps(self, inputs, quantize, training=None):
        """The layer's output, with `quantize(step_quantizer, tensor)` giving each step's
        quantised tensor (deploy.layerwise_agreement passes one that compares each step
        with TFLite's and goes on from TFLite's values)."""
        inputs = ops.convert_to_tensor(inputs, self.compute_dtype)
        quantizer = {q.name.removesuffix("_quantizer"): q for q in self.step_quantizers}
        mean = quantize(quantizer["mean"], ops.mean(inputs, axis=-1, keepdims=True))
        centred = quantize(quantizer["centred"], inputs - mean)
        squared = quantize(quantizer["squared"], centred * centred)
        variance = quantize(quantizer["variance"], ops.mean(squared, axis=-1, keepdims=True))
        shifted = quantize(quantizer["shifted"], variance + self.epsilon)
        rsqrt = _rsqrt_saturating if training else ops.rsqrt
        inverse_std = quantize(quantizer["inverse_std"], rsqrt(shifted))
        outputs = quantize(quantizer["normalized"], centred * inverse_std)
        if self.scale:
            outputs = outputs * fake_quantize_weights(self.gamma)
        if self.scale and self.center:
            outputs = quantize(quantizer["scaled"], outputs)
        if self.center:
            outputs = outputs + fake_quantize_weights(self.beta)
        return outputs

    def get_config(self):
        config = super().get_config()
        config["ema_decay"] = self.ema_decay
        return config
