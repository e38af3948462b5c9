"""The clipping maths against a direct numpy implementation, on every parameter layout."""

import keras
import numpy as np
import pytest
from keras.ops import convert_to_numpy as to_numpy

from keras_minimal.layers import BandedDepthwiseConv2D
from keras_minimal.training.agc import AGCSettings, clip_gradients, clip_rules, unit_axes
from tests.training.agc_models import every_parameter_kind, kind_of, unit_norms

pytestmark = pytest.mark.multibackend

CLIPPING, EPSILON = 0.05, 1e-3


def numpy_clip(gradient, parameter, kind, clipping=CLIPPING, epsilon=EPSILON):
    """‖G_i‖ ≤ λ·max(‖W_i‖, ε), unit by unit, with explicit reshapes."""
    g_norm = unit_norms(gradient, kind)
    max_norm = clipping * np.maximum(unit_norms(parameter, kind), epsilon)
    factor = np.where(g_norm > max_norm, max_norm / np.maximum(g_norm, 1e-6), 1.0)
    if kind == "whole":
        return gradient * factor[0]
    if kind == "depthwise":
        return gradient * factor.reshape(1, 1, *gradient.shape[2:])
    return gradient * factor


def _parameters_and_gradients(model, seed=0):
    """Parameters (biases and gains made non-zero) and gradients whose units range from far
    below to far above their clipping bound."""
    rng = np.random.default_rng(seed)
    parameters, gradients = [], []
    for variable in model.trainable_weights:
        shape = tuple(variable.shape)
        parameter = rng.normal(size=shape).astype("float32")
        if variable.path == "conv/bias":
            parameter[:] = 0.0  # a zero parameter: the bound is λ·ε
        variable.assign(parameter)
        units = shape[-1] if len(shape) > 1 else 1
        scale = np.exp(rng.uniform(-6, 2, units)).astype("float32")
        gradient = rng.normal(size=shape).astype("float32") * (
            scale if len(shape) > 1 else scale[0]
        )
        parameters.append(parameter)
        gradients.append(gradient)
    return parameters, gradients


def test_every_layout_is_clipped_unit_by_unit_like_numpy():
    model = every_parameter_kind()
    parameters, gradients = _parameters_and_gradients(model)
    rules = clip_rules(model, AGCSettings(CLIPPING, exclude=(), epsilon=EPSILON))
    clipped = clip_gradients(gradients, [v for v in model.trainable_weights], rules, CLIPPING)
    kinds = set()
    any_clipped = any_kept = False
    for variable, g, p, result in zip(
        model.trainable_weights, gradients, parameters, clipped, strict=True
    ):
        kind = kind_of(variable.path)
        kinds.add(kind)
        expected = numpy_clip(g, p, kind)
        np.testing.assert_allclose(to_numpy(result), expected, rtol=1e-5, err_msg=variable.path)
        same = np.isclose(expected, g).reshape(-1)
        any_clipped |= not same.all()
        any_kept |= same.any()
    assert kinds == {"conv", "depthwise", "dense", "whole"}
    assert any_clipped and any_kept
    shapes = {v.path: tuple(v.shape) for v in model.trainable_weights}
    assert shapes["grouped/kernel"] == (3, 3, 4, 8) and shapes["skip/skip_gain"] == ()
    assert shapes["depthwise/kernel"] == (3, 3, 8, 1)


def test_zero_parameters_may_still_move_by_clipping_times_epsilon():
    gradient = np.full((5,), 10.0, "float32")
    (result,) = clip_gradients(
        [gradient], [np.zeros(5, "float32")], [unit_axes_rule((5,))], CLIPPING, EPSILON
    )
    np.testing.assert_allclose(np.linalg.norm(to_numpy(result)), CLIPPING * EPSILON, rtol=1e-5)


def unit_axes_rule(shape, layer=None):
    from keras_minimal.training.agc import ClipRule

    return ClipRule(axes=unit_axes(shape, layer))


def test_loss_scaled_gradients_are_clipped_unscaled_and_overflow_passes_through():
    rng = np.random.default_rng(0)
    parameter = rng.normal(size=(6, 3)).astype("float32")
    gradient = rng.normal(size=(6, 3)).astype("float32") * np.array([1e-4, 1.0, 10.0], "float32")
    rule = unit_axes_rule(parameter.shape, keras.layers.Dense(3))
    scale = 2.0**15
    (scaled,) = clip_gradients([gradient * scale], [parameter], [rule], CLIPPING, loss_scale=scale)
    np.testing.assert_allclose(
        to_numpy(scaled) / scale, numpy_clip(gradient, parameter, "dense"), rtol=1e-6
    )
    overflow = gradient.copy()
    overflow[0, 0] = np.inf
    (passed,) = clip_gradients([overflow], [parameter], [rule], CLIPPING, loss_scale=scale)
    np.testing.assert_array_equal(to_numpy(passed), overflow)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_low_precision_gradients_with_large_norms_are_clipped_not_zeroed(dtype):
    # Unit norms of ~2,700: a float16 sum of squares overflows to inf past ~256.
    rng = np.random.default_rng(0)
    parameter = rng.normal(0, 0.02, (3, 3, 512, 4)).astype("float32")
    gradient = rng.normal(0, 10.0, (3, 3, 512, 4)).astype("float32")
    low = keras.ops.cast(gradient, dtype)
    rule = unit_axes_rule(parameter.shape, keras.layers.Conv2D(4, 3))
    (clipped,) = clip_gradients([low], [keras.ops.cast(parameter, dtype)], [rule], CLIPPING)
    assert keras.backend.standardize_dtype(clipped.dtype) == dtype
    expected = numpy_clip(to_numpy(keras.ops.cast(low, "float32")), parameter, "conv")
    np.testing.assert_allclose(
        to_numpy(keras.ops.cast(clipped, "float32")), expected, rtol=2e-2, atol=1e-6
    )


def test_unit_axes_of_keras_layouts():
    assert unit_axes((3, 3, 16, 32), keras.layers.Conv2D(32, 3)) == (0, 1, 2)
    assert unit_axes((3, 3, 16, 2), keras.layers.DepthwiseConv2D(3)) == (0, 1)
    assert unit_axes((3, 3, 8, 16), keras.layers.Conv2DTranspose(8, 3)) == (0, 1, 3)
    assert unit_axes((5, 16, 32), keras.layers.Conv1D(32, 5)) == (0, 1)
    separable = keras.layers.SeparableConv2D(8, 3)
    assert unit_axes((3, 3, 16, 1), separable, "depthwise_kernel") == (0, 1)
    assert unit_axes((1, 1, 16, 8), separable, "pointwise_kernel") == (0, 1, 2)
    assert unit_axes((64, 10)) == (0,)
    assert unit_axes((64, 4, 16)) == (0,)  # multi-head dense (in, heads, dim)
    assert unit_axes((32,)) is None and unit_axes(()) is None
    # Rank decides, as in DeepMind's unitwise_norm: a fan-in of 1 still has a unit per output.
    assert unit_axes((1, 1, 1, 8), keras.layers.Conv2D(8, 1)) == (0, 1, 2)
    assert unit_axes((1, 4)) == (0,)
    banded = BandedDepthwiseConv2D(7)
    assert unit_axes((7, 7, 16, 1), banded, "kernel") == (0, 1)


def test_a_fan_in_of_one_is_clipped_per_output_unit():
    parameter = np.array([[1.0, 100.0, 1.0, 1.0]], "float32")
    gradient = np.full((1, 4), 0.5, "float32")
    (result,) = clip_gradients([gradient], [parameter], [unit_axes_rule((1, 4))], 0.1, EPSILON)
    np.testing.assert_allclose(to_numpy(result), [[0.1, 0.5, 0.1, 0.1]], rtol=1e-6)
