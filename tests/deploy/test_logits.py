"""What a model outputs, and the twin that computes its logits before the final softmax."""

import keras
import numpy as np
import pytest

from keras_minimal.applications import PPLCNet
from keras_minimal.deploy.logits import (
    FEATURES,
    LOGITS,
    OUTPUTS,
    PROBABILITIES,
    logits_model,
    output_kind,
)


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _functional(head):
    inputs = keras.Input((6,))
    hidden = keras.layers.Dense(5, activation="relu", name="hidden")(inputs)
    return keras.Model(inputs, head(hidden))


def _dense_softmax(x):
    return keras.layers.Dense(4, activation="softmax", name="scores")(x)


def _activation_softmax(x):
    return keras.layers.Activation("softmax")(keras.layers.Dense(4, name="scores")(x))


def _softmax_layer(x):
    return keras.layers.Softmax()(keras.layers.Dense(4, name="scores")(x))


def _sequential():
    return keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(5, activation="relu", name="hidden"),
            keras.layers.Dense(4, activation="softmax", name="scores"),
        ]
    )


@pytest.mark.parametrize(
    "model",
    [
        lambda: _functional(_dense_softmax),
        lambda: _functional(_activation_softmax),
        lambda: _functional(_softmax_layer),
        _sequential,
    ],
    ids=["dense", "activation", "softmax_layer", "sequential"],
)
def test_the_twin_computes_what_the_softmax_takes_with_the_same_weights(model):
    model = model()
    x = np.random.default_rng(0).normal(size=(3, 6)).astype("float32")
    hidden_kernel, hidden_bias = model.get_layer("hidden").get_weights()
    kernel, bias = model.get_layer("scores").get_weights()
    logits = np.maximum(x @ hidden_kernel + hidden_bias, 0.0) @ kernel + bias
    assert output_kind(model) == PROBABILITIES
    twin_logits = keras.ops.convert_to_numpy(logits_model(model)(x))
    np.testing.assert_allclose(twin_logits, logits, rtol=1e-5, atol=1e-6)
    probabilities = keras.ops.convert_to_numpy(model(x))
    np.testing.assert_allclose(probabilities, _softmax(logits), rtol=1e-5, atol=1e-7)


def test_models_without_a_final_softmax_have_no_twin_and_say_what_they_output():
    shape = (32, 32, 3)
    cases = [
        (PPLCNet(0.25, input_shape=shape, classes=3, classifier_activation=None), LOGITS),
        (PPLCNet(0.25, input_shape=shape, classes=3, classifier_activation="sigmoid"), OUTPUTS),
        (PPLCNet(0.25, input_shape=shape, include_top=False, pooling="avg"), FEATURES),
        (_functional(lambda x: keras.layers.Dense(4)(x)), OUTPUTS),
    ]
    for model, kind in cases:
        assert output_kind(model) == kind
        assert logits_model(model) is None
    softmax = PPLCNet(0.25, input_shape=shape, classes=3)
    assert output_kind(softmax) == PROBABILITIES and logits_model(softmax) is not None
