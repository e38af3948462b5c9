"""QuantizedLayerNormalization where a position's variance rounds to zero on its 8-bit grid
(equal channels, as a flat image region gives): 1/√0 saturates at the top of the inverse
std's range, as TFLite's int8 RSQRT does, instead of turning the ranges and weights NaN;
on every backend."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_minimal.layers.quantized_layer_normalization import QuantizedLayerNormalization

pytestmark = pytest.mark.multibackend


def _inputs():
    x = np.random.default_rng(0).normal(size=(2, 3, 3, 8)).astype("float32")
    x[0, 0, 0] = 0.7  # equal channels: variance 0
    return x


def _range(quantizer):
    return tuple(float(ops.convert_to_numpy(v)) for v in (quantizer.range_min, quantizer.range_max))


def test_a_variance_that_rounds_to_zero_takes_the_top_of_the_inverse_std_range():
    x = _inputs()
    layer = QuantizedLayerNormalization(epsilon=1e-6)
    layer.build(x.shape)
    steps = {}

    def record(quantizer, tensor):
        quantized = quantizer(tensor, training=True)
        steps[quantizer.name] = ops.convert_to_numpy(quantized)
        return quantized

    out = ops.convert_to_numpy(layer.compute_steps(x, record, training=True))
    assert np.all(np.isfinite(out))
    shifted, inverse_std = steps["shifted_quantizer"], steps["inverse_std_quantizer"]
    assert shifted[0, 0, 0, 0] == 0.0  # ε = 1e-6 is below half a step of the variance grid
    quantizers = {q.name: q for q in layer.step_quantizers}
    low, high = _range(quantizers["inverse_std_quantizer"])
    positive = shifted > 0
    # The range is that of the other positions' 1/√v; the zero-variance one takes its top.
    assert low == 0.0 and high == pytest.approx((1 / np.sqrt(shifted[positive])).max(), rel=1e-6)
    assert inverse_std[0, 0, 0, 0] == pytest.approx(high, rel=1e-6)
    # Inference (a plain rsqrt, as exported) computes the same on the ranges training set.
    np.testing.assert_allclose(ops.convert_to_numpy(layer(x)), out, rtol=1e-6, atol=1e-6)


def test_training_through_a_zero_variance_position_keeps_weights_and_ranges_finite():
    x = _inputs()
    layer = QuantizedLayerNormalization(epsilon=1e-6)
    model = keras.Sequential([keras.Input(x.shape[1:]), layer])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    model.fit(x, x * 0.5, epochs=3, batch_size=2, verbose=0)
    for variable in model.weights:
        assert np.all(np.isfinite(ops.convert_to_numpy(variable))), variable.path
    gamma = ops.convert_to_numpy(layer.gamma)
    assert not np.allclose(gamma, 1.0)  # it trained
