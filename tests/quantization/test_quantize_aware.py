"""quantize_aware: where fake quantisation goes (against numpy), family models, .keras
round trip, and the refusals that name the layer and the fix."""

import keras
import numpy as np
import pytest
from keras import ops

import keras_minimal
from keras_minimal.layers import (
    QuantizedConv2D,
    QuantizedDense,
    QuantizedDepthwiseConv2D,
)
from keras_minimal.quantization import activation_quantizers, quantize_aware
from tests.numpy_reference import conv2d, fake_quant, symmetric_int8


def _numpy(value):
    return ops.convert_to_numpy(value)


def _batch_range(x):
    return min(float(x.min()), 0.0), max(float(x.max()), 0.0)


def _tiny_cnn():
    inputs = keras.Input((6, 6, 3), name="pixels")
    x = keras.layers.Conv2D(4, 1, name="conv")(inputs)
    x = keras.layers.ReLU(name="relu")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = keras.layers.Dense(3, name="head")(x)
    model = keras.Model(inputs, outputs, name="tiny")
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.weights])
    return model


def test_tiny_cnn_is_fake_quantised_where_tflite_quantises_against_numpy():
    """Input, conv output (the ReLU after it fused), Dense output: each rounded to 8 bits
    over the range the first training batch sets; conv weights per output channel,
    Dense weights per tensor."""
    model = _tiny_cnn()
    before = [w.copy() for w in model.get_weights()]
    qat = quantize_aware(model)
    types = {layer.name: type(layer) for layer in qat.layers}
    assert types["conv"] is QuantizedConv2D and types["head"] is QuantizedDense
    assert [q.name for q in activation_quantizers(qat)] == [
        "pixels_quant",
        "conv_quant",
        "head_quant",
    ]  # no quantiser after the ReLU: TFLite fuses it into the convolution
    x = np.random.default_rng(1).uniform(-1, 2, (8, 6, 6, 3)).astype("float32")
    qat(x, training=True)  # the first batch sets every range
    kernel, bias, dense_kernel, dense_bias = before
    xq = fake_quant(x, *_batch_range(x))
    h = np.maximum(conv2d(xq, symmetric_int8(kernel, axis=-1), bias), 0.0)
    hq = fake_quant(h, *_batch_range(h)).reshape(len(x), -1)
    out = hq @ symmetric_int8(dense_kernel) + dense_bias
    expected = fake_quant(out, *_batch_range(out))
    np.testing.assert_allclose(_numpy(qat(x)), expected, atol=1e-4)
    # The float model is left as it was.
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), before, strict=True))
    assert not activation_quantizers(model)


def _ranges(model):
    return np.array(
        [[_numpy(q.range_min), _numpy(q.range_max)] for q in activation_quantizers(model)]
    )


@pytest.mark.parametrize(
    "name, size", [("pplcnet_x0_25", 32), ("vanillanet_5", 32)], ids=["pplcnet", "vanillanet"]
)
def test_family_models_are_fused_then_quantised(name, size):
    model = keras_minimal.create_model(name, classes=10, input_shape=(size, size, 3))
    if hasattr(model, "set_act_learn"):
        model.set_act_learn(1.0)
    fused = keras_minimal.deploy.to_deploy(model)
    qat = quantize_aware(model)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in qat.layers)
    convolutions = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.Dense)
    float_weighted = [layer for layer in fused.layers if isinstance(layer, convolutions)]
    quantized = (QuantizedConv2D, QuantizedDepthwiseConv2D, QuantizedDense)
    # Every weighted layer of the fused graph keeps its name, quantisation-aware.
    names = {layer.name for layer in qat.layers if isinstance(layer, quantized)}
    assert float_weighted and {layer.name for layer in float_weighted} <= names
    x = np.random.default_rng(0).uniform(0, 255, (4, size, size, 3)).astype("float32")
    initial = _ranges(qat)
    qat(x, training=True)
    assert np.all(_ranges(qat) != initial)  # every tracked range has moved off ±6
    float_out, qat_out = _numpy(fused(x)), _numpy(qat(x))
    assert qat_out.shape == float_out.shape and np.all(np.isfinite(qat_out))


def test_keras_file_round_trip_keeps_ranges_steps_and_outputs(tmp_path):
    qat = quantize_aware(_tiny_cnn())
    x = np.random.default_rng(2).uniform(-1, 2, (8, 6, 6, 3)).astype("float32")
    qat(x, training=True)
    qat(x * 1.5, training=True)
    path = tmp_path / "qat.keras"
    qat.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(_ranges(loaded), _ranges(qat))
    assert [int(_numpy(q.steps)) for q in activation_quantizers(loaded)] == [2, 2, 2]
    np.testing.assert_array_equal(_numpy(loaded(x)), _numpy(qat(x)))


# -- refusals ---------------------------------------------------------------------------------
def test_a_layer_without_an_int8_form_is_named_with_what_to_do():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3)(inputs)
    x = keras.layers.UpSampling2D(name="upsample")(x)
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x))
    with pytest.raises(
        ValueError, match=r"'upsample' \(UpSampling2D\): quantize_aware has no int8"
    ):
        quantize_aware(model)
    with pytest.raises(ValueError, match="Replace the layer with these"):
        quantize_aware(model)


def test_an_unsupported_activation_is_named_with_the_supported_ones():
    inputs = keras.Input((8, 8, 3))
    outputs = keras.layers.Conv2D(4, 3, activation="silu", name="swish_conv")(inputs)
    with pytest.raises(ValueError, match=r"'swish_conv'.*'silu'.*Retrain with one of them"):
        quantize_aware(keras.Model(inputs, outputs))


def test_an_unfolded_batch_norm_is_refused_with_the_fix():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    outputs = keras.layers.BatchNormalization(name="bn")(x)
    with pytest.raises(
        ValueError, match=r"'bn' \(BatchNormalization\) is not folded.*fold_batch_norm"
    ):
        quantize_aware(keras.Model(inputs, outputs))


def test_vanillanet_before_lambda_reaches_one_is_refused_with_the_fix():
    model = keras_minimal.create_model("vanillanet_5", classes=10, input_shape=(32, 32, 3))
    model.set_act_learn(0.5)
    with pytest.raises(ValueError, match=r"cannot be fused yet.*act_learn=0.5.*set_act_learn"):
        quantize_aware(model)


def test_a_quantisation_aware_model_is_not_quantised_twice():
    qat = quantize_aware(_tiny_cnn())
    with pytest.raises(ValueError, match="quantisation-aware already"):
        quantize_aware(qat)


def test_a_subclassed_model_is_refused():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.conv = keras.layers.Conv2D(2, 1)

        def call(self, x):
            return self.conv(x)

    net = Net()
    net(np.zeros((1, 4, 4, 3), "float32"))
    with pytest.raises(TypeError, match="Build it with the functional API.*Received: a Net"):
        quantize_aware(net)


def test_a_relu_after_max_pooling_is_fused_into_the_convolution_before_it():
    """VanillaNet's series activations: conv → max pool → ReLU computes as conv+ReLU →
    max pool (they commute), one int8 tensor where TFLite writes one."""
    inputs = keras.Input((8, 8, 3), name="pixels")
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    x = keras.layers.MaxPooling2D(name="pool")(x)
    model = keras.Model(inputs, keras.layers.ReLU(name="relu")(x))
    qat = quantize_aware(model)
    assert [q.name for q in activation_quantizers(qat)] == ["pixels_quant", "conv_quant"]
    assert keras.activations.serialize(qat.get_layer("conv").activation) == "relu"
    x = np.random.default_rng(3).normal(size=(2, 8, 8, 3)).astype("float32")
    qat(x, training=True)
    assert np.all(_numpy(qat(x)) >= 0.0)


def test_output_probabilities_are_rounded_at_inference_only():
    """Probabilities rounded to 1/256 in training would put a true class at 0 (an
    infinite, clipped loss); the exported file's grid applies at inference."""
    inputs = keras.Input((4,), name="features")
    logits = keras.layers.Dense(3, name="head")(inputs)
    model = keras.Model(inputs, keras.layers.Softmax(name="softmax")(logits))
    model.get_layer("head").set_weights([np.eye(4, 3, dtype="float32") * 9, np.zeros(3, "float32")])
    qat = quantize_aware(model)
    x = np.array([[1.0, 0.0, 0.0, 0.0]], "float32")
    training, inference = _numpy(qat(x, training=True)), _numpy(qat(x))
    assert 0.0 < training[0, 1] < 1.0 / 512  # e^-9 / sum: not on the 1/256 grid
    assert inference[0, 1] == 0.0 and np.allclose(inference * 256, np.round(inference * 256))
