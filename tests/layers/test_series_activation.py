import keras
import numpy as np
import pytest
from keras.ops import convert_to_numpy as to_numpy

from keras_minimal.layers import SeriesActivation
from tests.helpers import randomize_batch_norms
from tests.numpy_reference import batch_norm, depthwise_conv2d, relu

pytestmark = pytest.mark.multibackend


def _input(shape=(2, 9, 9, 4), seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


@pytest.mark.parametrize("act_num", [0, 1, 3])
def test_training_form_is_relu_depthwise_conv_batch_norm(act_num):
    x = _input()
    layer = SeriesActivation(act_num)
    layer.build(x.shape)
    randomize_batch_norms(layer)
    kernel = keras.ops.convert_to_numpy(layer.depthwise.kernel)
    assert kernel.shape == (2 * act_num + 1, 2 * act_num + 1, 4, 1)
    bn = layer.batch_norm
    expected = batch_norm(
        depthwise_conv2d(relu(x), kernel, padding=act_num),
        *(
            keras.ops.convert_to_numpy(v)
            for v in (bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance)
        ),
        1e-6,
    )
    np.testing.assert_allclose(to_numpy(layer(x, training=False)), expected, rtol=1e-5, atol=1e-5)


def test_deploy_form_has_a_bias_and_no_batch_norm():
    x = _input()
    layer = SeriesActivation(2, deploy=True)
    layer.build(x.shape)
    rng = np.random.default_rng(1)
    kernel = rng.normal(size=(5, 5, 4, 1)).astype("float32")
    bias = rng.normal(size=(4,)).astype("float32")
    layer.depthwise.set_weights([kernel, bias])
    assert layer.batch_norm is None
    assert len(layer.trainable_weights) == 2
    expected = depthwise_conv2d(relu(x), kernel, bias, padding=2)
    np.testing.assert_allclose(to_numpy(layer(x)), expected, rtol=1e-5, atol=1e-5)


def test_any_base_activation():
    x = _input()
    layer = SeriesActivation(1, deploy=True, activation="tanh")
    layer.build(x.shape)
    kernel = np.zeros((3, 3, 4, 1), "float32")
    kernel[1, 1] = 1.0
    layer.depthwise.set_weights([kernel, np.zeros(4, "float32")])
    np.testing.assert_allclose(to_numpy(layer(x)), np.tanh(x), rtol=1e-5, atol=1e-6)


def test_config_round_trip():
    layer = SeriesActivation(2, deploy=True, activation="gelu", epsilon=1e-5, name="act")
    clone = SeriesActivation.from_config(layer.get_config())
    assert (clone.act_num, clone.deploy, clone.epsilon, clone.name) == (2, True, 1e-5, "act")
    assert clone.activation is keras.activations.gelu


@pytest.mark.parametrize("act_num", [-1, 1.5, "3", True])
def test_rejects_bad_act_num(act_num):
    with pytest.raises(ValueError, match="act_num must be an integer ≥ 0"):
        SeriesActivation(act_num)


def test_batch_norm_epsilon_defaults_to_1e_6():
    """Running variances of the order of ε make ε visible (the reference uses 1e-6)."""
    x = _input()
    layer = SeriesActivation(1)
    layer.build(x.shape)
    variance = np.random.default_rng(2).uniform(0.5, 2.0, 4).astype("float32") * 1e-6
    layer.batch_norm.moving_variance.assign(variance)
    kernel = to_numpy(layer.depthwise.kernel)
    expected = batch_norm(
        depthwise_conv2d(relu(x), kernel, padding=1), 1.0, 0.0, 0.0, variance, 1e-6
    )
    np.testing.assert_allclose(to_numpy(layer(x, training=False)), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("deploy", [False, True])
def test_banded_form_has_the_same_weights_and_function(deploy):
    x = _input(shape=(2, 9, 9, 4))
    plain = SeriesActivation(3, deploy=deploy)
    plain.build(x.shape)
    randomize_batch_norms(plain)
    banded = SeriesActivation(3, deploy=deploy, banded=True)
    banded.build(x.shape)
    assert [tuple(w.shape) for w in banded.weights] == [tuple(w.shape) for w in plain.weights]
    assert len(banded.trainable_weights) == len(plain.trainable_weights)
    banded.set_weights(plain.get_weights())
    np.testing.assert_allclose(
        to_numpy(banded(x, training=False)),
        to_numpy(plain(x, training=False)),
        rtol=1e-5,
        atol=1e-5,
    )
