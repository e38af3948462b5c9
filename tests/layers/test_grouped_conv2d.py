import keras
import numpy as np
import pytest
from keras.ops import convert_to_numpy as to_numpy

from keras_minimal.layers import GroupedConv2D
from tests.numpy_reference import conv2d_same

pytestmark = pytest.mark.multibackend


@pytest.mark.parametrize("groups, strides, side", [(1, 1, 6), (2, 2, 9), (4, 1, 7)])
def test_matches_numpy_grouped_convolution(groups, strides, side):
    x = np.random.default_rng(0).normal(size=(2, side, side, 8)).astype("float32")
    layer = GroupedConv2D(12, 3, strides=strides, groups=groups, padding="same")
    layer.build(x.shape)
    rng = np.random.default_rng(1)
    kernel = rng.normal(size=layer.kernel.shape).astype("float32")
    bias = rng.normal(size=layer.bias.shape).astype("float32")
    layer.set_weights([kernel, bias])
    expected = conv2d_same(x, kernel, bias, stride=strides, groups=groups)
    np.testing.assert_allclose(to_numpy(layer(x)), expected, rtol=1e-4, atol=1e-4)


def test_same_weights_and_outputs_as_conv2d():
    x = np.random.default_rng(0).normal(size=(1, 8, 8, 6)).astype("float32")
    grouped = GroupedConv2D(9, 3, groups=3, padding="same")
    plain = keras.layers.Conv2D(9, 3, groups=3, padding="same")
    grouped.build(x.shape)
    plain.build(x.shape)
    plain.set_weights(grouped.get_weights())  # the same variables, in the same layout
    np.testing.assert_allclose(to_numpy(grouped(x)), to_numpy(plain(x)), rtol=1e-5, atol=1e-5)
    clone = GroupedConv2D.from_config(grouped.get_config())
    assert clone.groups == 3 and clone.filters == 9


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="TensorFlow tracing")
def test_tensorflow_graph_has_no_xla_call():
    import tensorflow as tf

    layer = GroupedConv2D(8, 3, groups=2, padding="same")
    layer.build((1, 8, 8, 4))
    graph = tf.function(layer).get_concrete_function(tf.TensorSpec((1, 8, 8, 4))).graph
    op_types = {op.type for op in graph.get_operations()}
    assert "Conv2D" in op_types
    assert not op_types & {"StatefulPartitionedCall", "PartitionedCall", "XlaLaunch"}
