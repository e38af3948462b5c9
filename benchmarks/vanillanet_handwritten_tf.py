"""The VanillaNet deploy graph written directly in TensorFlow ops: a ceiling for ours.

The same maths as the fused Keras model, in the form TensorFlow's CPU runtime likes best:
each stage's 1×1 convolution is one MatMul with its bias add and ReLU fused into it
(grappler's _FusedMatMul; ReLU commutes with the max pool after it). If the Keras deploy
graph times the same as this, the fused network is as fast as TensorFlow can run it.
"""

import numpy as np
import tensorflow as tf


def _weights(model, name):
    return [tf.constant(w) for w in model.get_layer(name).get_weights()]


def _series_activation_tail(x, kernel, bias):
    """The deploy series activation after its ReLU: depthwise conv with bias."""
    return tf.nn.bias_add(tf.nn.depthwise_conv2d(x, kernel, [1, 1, 1, 1], "SAME"), bias)


def _pointwise_relu(x, kernel, bias):
    batch, height, width, channels = x.shape
    y = tf.nn.relu(tf.nn.bias_add(tf.matmul(tf.reshape(x, [-1, channels]), kernel), bias))
    return tf.reshape(y, [batch, height, width, kernel.shape[1]])


def handwritten_deploy_function(fused, strides):
    """x → outputs of `fused` (a deploy VanillaNet with the top and MaxPool stages)."""
    scale, offset = (tf.constant(np.asarray(v, "float32")) for v in _rescaling(fused))
    stem_kernel, stem_bias = _weights(fused, "stem_conv")
    stem_act = _weights(fused, "stem_act")
    stages = [
        (_weights(fused, f"stages_{i}_conv"), _weights(fused, f"stages_{i}_act"), stride)
        for i, stride in enumerate(strides)
    ]
    head_kernel, head_bias = _weights(fused, "predictions")
    classifier_activation = fused.get_layer("predictions").activation

    @tf.function
    def run(x):
        x = x * scale + offset
        x = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, stem_kernel, 4, "VALID"), stem_bias))
        x = _series_activation_tail(x, *stem_act)
        for (kernel, bias), act, stride in stages:
            x = _pointwise_relu(x, kernel, bias)
            if stride > 1:
                x = tf.nn.max_pool2d(x, stride, stride, "VALID")
            x = _series_activation_tail(x, *act)
        x = tf.reduce_mean(x, axis=[1, 2])
        return classifier_activation(tf.nn.bias_add(tf.matmul(x, head_kernel), head_bias))

    return lambda x: run(x).numpy()


def _rescaling(fused):
    layer = fused.get_layer("preprocessing")
    return layer.scale, layer.offset
