"""The layers ConvNeXt and NFNet bring to quantisation-aware export: a full-integer TFLite
file whose every quantised tensor (each step of a layer normalisation, each average
pooling's output) is the Keras QAT model's within one step, judged layer by layer
(deploy.layerwise_agreement); and the two families end to end."""

import keras
import numpy as np
import pytest

from keras_minimal.applications import ConvNeXt, NFNet
from keras_minimal.deploy import export
from keras_minimal.deploy.layerwise_agreement import layerwise_agreement
from keras_minimal.deploy.quantize_aware_export import float_operators
from keras_minimal.layers.quantized_layer_normalization import QuantizedLayerNormalization
from keras_minimal.quantization import ActivationQuantizer, quantize_aware
from keras_minimal.training.digits import load_digits_rgb

pytestmark = pytest.mark.slow

MIN_EXACT = 0.99


def _fine_tuned(model, x, y, epochs=2):
    keras.utils.set_random_seed(0)
    qat = quantize_aware(model)
    qat.compile(
        keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    qat.fit(x, y, epochs=epochs, batch_size=16, verbose=0)
    return qat


def _exported(qat, images, tmp_path):
    """(the verified full-integer file, {label: LayerAgreement})."""
    path = tmp_path / f"{qat.name}.tflite"
    result = export(
        qat, path, "tflite", quantization="int8", batch_size=1, verification_data=images
    )
    assert result.passed and float_operators(path) == []
    return path, {r.layer: r for r in layerwise_agreement(qat, path, images)}


def _assert_all_agree(layers):
    for result in layers.values():
        assert result.tensor is not None, result.layer  # a TFLite tensor on the same grid
        assert result.max_steps <= 1 and result.exact >= MIN_EXACT, result


def _random_data(shape, count=32, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(count, *shape)).astype("float32"), rng.integers(0, 3, count)


def test_a_layer_norm_whose_variance_rounds_to_zero_trains_and_exports_full_integer(tmp_path):
    """Equal channels (a flat image region) have variance 0, which rounds to the zero
    level: 1/√0 took the inverse std's range to inf and training to NaN, and the export
    left float operators."""
    inputs = keras.Input((6, 6, 8), name="features")
    x = keras.layers.LayerNormalization(epsilon=1e-6, name="norm")(inputs)
    x = keras.layers.Dense(8, name="pointwise")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    model = keras.Model(inputs, keras.layers.Dense(3, name="logits")(x), name="flat_region")
    x, y = _random_data((6, 6, 8))
    x[:, :2, :2] = 0.5
    qat = _fine_tuned(model, x, y)
    assert all(np.all(np.isfinite(w)) for w in qat.get_weights())
    _, layers = _exported(qat, x[:16], tmp_path)
    assert layers["norm/inverse_std_quantizer"].exact >= MIN_EXACT  # saturated as TFLite
    _assert_all_agree(layers)


def test_an_average_pooling_output_is_rounded_as_tflites_int8_kernel_rounds(tmp_path):
    """TFLite's int8 AVERAGE_POOL_2D rounds the mean of the int8 levels half away from
    zero; a 2×2 mean is a tie one time in four, and after a ReLU (zero point −128) almost
    every tie lies below int8 zero, where plain fake quantisation rounds up."""
    inputs = keras.Input((8, 8, 3), name="image")
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv")(inputs)
    x = keras.layers.AveragePooling2D(2, name="shortcut_pool")(x)
    x = keras.layers.Conv2D(8, 1, activation="relu", name="pointwise")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    model = keras.Model(inputs, keras.layers.Dense(3, name="logits")(x), name="pooled")
    x, y = _random_data((8, 8, 3))
    _, layers = _exported(_fine_tuned(model, x, y), x[:16], tmp_path)
    pooled = layers["shortcut_pool/conv_quant"]  # the pooling's output, on conv's grid
    assert pooled.tensor.endswith("shortcut_pool_1/AvgPool") and pooled.exact >= MIN_EXACT
    _assert_all_agree(layers)


def test_a_layer_norm_with_beta_near_zero_has_its_last_two_steps_told_apart(tmp_path):
    """γ·x̂ and γ·x̂ + β (TFLite's MUL and ADD tensors) have ranges within rounding of each
    other when β ≈ 0, as a head LayerNorm after pooling has after a short fine-tune: both
    grids match both tensors, and each quantiser gets the one it computes."""
    inputs = keras.Input((4, 4, 8), name="features")
    x = keras.layers.Conv2D(16, 1, name="pointwise")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.LayerNormalization(epsilon=1e-6, name="head_norm")(x)
    model = keras.Model(inputs, keras.layers.Dense(3, name="logits")(x), name="head")
    model.get_layer("head_norm").beta.assign(np.resize([1e-7, -1e-7], 16).astype("float32"))
    x, _ = _random_data((4, 4, 8))
    qat = quantize_aware(model)
    for _ in range(2):
        qat(x, training=True)  # ranges set, weights (β) as they are
    norm = qat.get_layer("head_norm")
    scaled = next(q for q in norm.step_quantizers if q.name == "scaled_quantizer")
    ranges = [
        [float(v.numpy()) for v in (q.range_min, q.range_max)]
        for q in (scaled, qat.get_layer("head_norm_quant"))
    ]
    np.testing.assert_allclose(ranges[0], ranges[1], rtol=1e-5)  # the same grid
    _, layers = _exported(qat, x[:16], tmp_path)
    assert layers["head_norm_quant"].tensor.endswith("head_norm_1/add_1")
    assert layers["head_norm/scaled_quantizer"].tensor.endswith("head_norm_1/mul_2")
    _assert_all_agree(layers)


def _tiny_convnext(size):
    return ConvNeXt(
        [1, 1], [8, 16], input_shape=(size, size, 3), classes=10, classifier_activation=None
    )


def _tiny_nfnet(size):
    return NFNet(
        [1, 1],
        [32, 64],
        group_size=8,
        stem_chs=16,
        input_shape=(size, size, 3),
        classes=10,
        classifier_activation=None,
    )


@pytest.mark.parametrize("build", [_tiny_convnext, _tiny_nfnet], ids=["convnext", "nfnet"])
def test_a_fine_tuned_family_model_exports_with_every_tensor_within_one_step(build, tmp_path):
    size = 16
    (x_train, y_train), (x_test, _) = load_digits_rgb(size)
    keras.utils.set_random_seed(0)
    qat = _fine_tuned(build(size), x_train[:64], y_train[:64], epochs=1)
    _, layers = _exported(qat, x_test[:16], tmp_path)
    # Every quantiser is compared: each layer normalisation step on its own.
    expected = {layer.name for layer in qat.layers if isinstance(layer, ActivationQuantizer)}
    for norm in (layer for layer in qat.layers if isinstance(layer, QuantizedLayerNormalization)):
        expected |= {f"{norm.name}/{q.name}" for q in norm.step_quantizers}
    assert expected <= set(layers)
    _assert_all_agree(layers)
