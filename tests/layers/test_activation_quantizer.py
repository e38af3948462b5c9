"""ActivationQuantizer: the first batch sets the range, later ones move it by an EMA of
decay 0.999 (tfmot's default), inference uses it as it is; on every backend."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_minimal.layers import ActivationQuantizer
from keras_minimal.layers.fake_quant import fake_quantize, fake_quantize_average

pytestmark = pytest.mark.multibackend


def _range(quantizer):
    return tuple(float(ops.convert_to_numpy(v)) for v in (quantizer.range_min, quantizer.range_max))


def test_ranges_follow_the_batches_in_training_only():
    quantizer = ActivationQuantizer(ema_decay=0.9)
    first = np.array([[0.5, 2.0, 3.0]], "float32")  # no negative value: min is 0
    second = np.array([[-1.0, 1.0, 5.0]], "float32")
    quantizer(first)  # inference: nothing moves
    assert _range(quantizer) == (-6.0, 6.0) and int(ops.convert_to_numpy(quantizer.steps)) == 0
    out = quantizer(first, training=True)
    np.testing.assert_allclose(_range(quantizer), (0.0, 3.0))
    np.testing.assert_allclose(ops.convert_to_numpy(out), first, atol=3.0 / 255)
    out = quantizer(second, training=True)
    expected = (0.9 * 0.0 + 0.1 * -1.0, 0.9 * 3.0 + 0.1 * 5.0)
    np.testing.assert_allclose(_range(quantizer), expected, rtol=1e-6)
    # The batch is quantised over the updated range (as tfmot's MovingAvgQuantize).
    np.testing.assert_allclose(
        ops.convert_to_numpy(out), ops.convert_to_numpy(fake_quantize(second, *expected))
    )
    assert int(ops.convert_to_numpy(quantizer.steps)) == 2
    held = quantizer(second, update_range=False, training=True)
    assert _range(quantizer) == pytest.approx(expected)
    np.testing.assert_allclose(
        ops.convert_to_numpy(held), ops.convert_to_numpy(fake_quantize(second, *expected))
    )


def test_a_fixed_range_never_moves_and_an_all_zero_batch_keeps_a_positive_width():
    fixed = ActivationQuantizer(fixed_range=(0.0, 1.0))
    fixed(np.array([[4.0, -3.0]], "float32"), training=True)
    assert _range(fixed) == (0.0, 1.0)
    zero = ActivationQuantizer()
    out = zero(np.zeros((2, 3), "float32"), training=True)
    low, high = _range(zero)
    assert low == 0.0 and 0.0 < high <= 1e-5 and np.all(ops.convert_to_numpy(out) == 0.0)


def test_config_round_trip_and_bad_arguments():
    quantizer = ActivationQuantizer(ema_decay=0.99, initial_range=(-1.0, 2.0), name="q")
    copy = ActivationQuantizer.from_config(quantizer.get_config())
    assert (copy.ema_decay, copy.initial_range, copy.fixed_range) == (0.99, (-1.0, 2.0), None)
    with pytest.raises(ValueError, match=r"ema_decay must be in \[0, 1\). Received: ema_decay=1"):
        ActivationQuantizer(ema_decay=1)
    with pytest.raises(ValueError, match="zero must be representable.*Received: initial_range"):
        ActivationQuantizer(initial_range=(0.5, 2.0))
    with pytest.raises(ValueError, match="Received: fixed_range=\\(0.0, 0.0\\)"):
        ActivationQuantizer(fixed_range=(0.0, 0.0))
    assert keras.layers.deserialize(keras.layers.serialize(quantizer)).name == "q"


def test_infinity_saturates_at_the_end_of_the_range_without_widening_it():
    """1/√0 in a quantised layer normalisation: TFLite's int8 RSQRT writes its top level."""
    quantizer = ActivationQuantizer()
    out = quantizer(np.array([[0.5, 2.0, np.inf, -np.inf]], "float32"), training=True)
    assert _range(quantizer) == (0.0, 2.0)
    np.testing.assert_array_equal(ops.convert_to_numpy(out)[0, 2:], [2.0, 0.0])


def test_an_average_is_rounded_onto_the_grid_as_tflite_pools_without_moving_the_range():
    quantizer = ActivationQuantizer()
    quantizer(np.array([[-0.2, 51.6]], "float32"), training=True)
    averages = np.array([[0.5, 1.5, 30.25]], "float32") * (51.8 / 255) - 0.2
    out = quantizer(averages, average=True, training=True)
    assert _range(quantizer) == pytest.approx((-0.2, 51.6))
    expected = fake_quantize_average(averages, *_range(quantizer))
    np.testing.assert_allclose(ops.convert_to_numpy(out), ops.convert_to_numpy(expected))
