import keras
import numpy as np
import pytest
from keras.ops import convert_to_numpy as to_numpy

from keras_minimal.layers import WSConv2D
from tests.numpy_reference import conv2d_same, scaled_standardized_kernel

pytestmark = pytest.mark.multibackend


def _randomize(layer, seed=0, kernel_scale=1.0):
    rng = np.random.default_rng(seed)
    kernel = rng.normal(0.3, kernel_scale, layer.kernel.shape).astype("float32")
    bias = rng.normal(size=layer.bias.shape).astype("float32")
    gain = rng.uniform(0.5, 2.0, layer.gain.shape).astype("float32")
    layer.set_weights([kernel, bias, gain])
    return kernel, bias, gain


@pytest.mark.parametrize(
    "form, kernel_size, strides, groups, side",
    [
        ("timm", 3, 1, 1, 8),
        ("timm", 3, 2, 2, 9),  # odd side: TF SAME pads one more pixel after than before
        ("timm", 1, 1, 1, 5),
        ("deepmind", 3, 2, 4, 8),
    ],
)
def test_matches_numpy_standardisation_and_same_padding(form, kernel_size, strides, groups, side):
    x = np.random.default_rng(1).normal(size=(2, side, side, 8)).astype("float32")
    layer = WSConv2D(
        12, kernel_size, strides=strides, groups=groups, padding="same", standardization=form
    )
    layer.build(x.shape)
    kernel, bias, gain = _randomize(layer)
    epsilon = {"timm": 1e-5, "deepmind": 1e-4}[form]
    standardized = scaled_standardized_kernel(kernel, gain, epsilon, form)
    expected = conv2d_same(x, standardized, bias, stride=strides, groups=groups)
    np.testing.assert_allclose(to_numpy(layer(x)), expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(
        to_numpy(layer.standardized_kernel()), standardized, rtol=1e-5, atol=1e-6
    )


def test_the_two_forms_differ_only_for_tiny_variance():
    layer = {form: WSConv2D(4, 3, standardization=form) for form in ("timm", "deepmind")}
    for form in layer:
        layer[form].build((1, 6, 6, 2))
    fan_in = 3 * 3 * 2
    # Ordinary kernels: both are (W − μ)/(σ·sqrt(N)) up to ε.
    for form in layer:
        _randomize(layer[form], seed=3)
    np.testing.assert_allclose(
        to_numpy(layer["timm"].standardized_kernel()),
        to_numpy(layer["deepmind"].standardized_kernel()),
        rtol=1e-3,
    )
    # A kernel of variance 1e-8: timm divides by sqrt(1e-8 + 1e-5)·sqrt(N), DeepMind by
    # sqrt(max(1e-8·N, 1e-4)) = 1e-2.
    for form in layer:
        _randomize(layer[form], seed=3, kernel_scale=1e-4)
    timm, deepmind = (to_numpy(layer[f].standardized_kernel()) for f in ("timm", "deepmind"))
    ratio = np.sqrt(np.maximum(1e-8 * fan_in, 1e-4)) / (np.sqrt(1e-8 + 1e-5) * np.sqrt(fan_in))
    np.testing.assert_allclose(timm / deepmind, ratio, rtol=2e-2)


def test_gain_is_a_trainable_per_output_channel_weight():
    layer = WSConv2D(6, 3, gain_initializer="zeros")
    layer.build((1, 5, 5, 3))
    assert [v.name for v in layer.trainable_weights] == ["kernel", "bias", "gain"]
    assert layer.gain.shape == (6,)
    np.testing.assert_array_equal(to_numpy(layer(np.ones((1, 5, 5, 3), "float32"))), 0.0)


def test_config_round_trip_and_keras_file_keep_the_gain(tmp_path):
    inputs = keras.Input((7, 7, 4))
    conv = WSConv2D(6, 3, strides=2, padding="same", groups=2, standardization="deepmind")
    model = keras.Model(inputs, conv(inputs))
    _randomize(conv)
    clone = WSConv2D.from_config(conv.get_config())
    assert clone.get_config() == conv.get_config()
    assert (clone.standardization, clone.epsilon, clone.groups) == ("deepmind", 1e-4, 2)
    x = np.random.default_rng(0).normal(size=(2, 7, 7, 4)).astype("float32")
    path = tmp_path / "ws.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(to_numpy(loaded(x)), to_numpy(model(x)), rtol=1e-6)
    np.testing.assert_array_equal(to_numpy(loaded.layers[-1].gain), to_numpy(conv.gain))


def test_mixed_float16_policy_computes_in_float16_close_to_float32():
    x = np.random.default_rng(0).normal(size=(2, 6, 6, 4)).astype("float32")
    reference = WSConv2D(8, 3, padding="same")
    reference.build(x.shape)
    weights = _randomize(reference)
    half = WSConv2D(8, 3, padding="same", dtype="mixed_float16")
    half.build(x.shape)
    half.set_weights(list(weights))
    out = half(x)
    assert keras.backend.standardize_dtype(out.dtype) == "float16"
    expected = to_numpy(reference(x))
    np.testing.assert_allclose(to_numpy(out).astype("float32"), expected, rtol=2e-2, atol=2e-2)


def test_mixed_float16_statistics_of_a_large_kernel_do_not_overflow():
    # Standardisation is scale-invariant. Kernel entries of ~1,000 are float16 numbers, but
    # their squared deviations (~1e6) are not: the statistics must be taken in float32.
    x = np.random.default_rng(0).normal(size=(2, 6, 6, 4)).astype("float32")
    half = WSConv2D(8, 3, padding="same", dtype="mixed_float16")
    half.build(x.shape)
    kernel, bias, gain = _randomize(half)
    kernel = kernel * 1000.0
    half.set_weights([kernel, bias, gain])
    out = to_numpy(half(x)).astype("float32")
    expected = conv2d_same(x, scaled_standardized_kernel(kernel, gain, 1e-5, "timm"), bias)
    np.testing.assert_allclose(out, expected, rtol=2e-2, atol=2e-2)


def test_rejects_unknown_forms_and_bad_epsilon():
    with pytest.raises(ValueError, match="standardization must be one of.*Received: standardiza"):
        WSConv2D(4, 3, standardization="bn")
    with pytest.raises(ValueError, match="epsilon must be positive. Received: epsilon=0.0"):
        WSConv2D(4, 3, epsilon=0)
