"""VanillaNet's series-informed activation."""

import keras
from keras import layers

from keras_minimal.layers.banded_depthwise_conv import BandedDepthwiseConv2D
from keras_minimal.layers.initializers import reference_trunc_normal
from keras_minimal.validation import is_integer


@keras.saving.register_keras_serializable(package="keras_minimal")
class SeriesActivation(layers.Layer):
    """Base activation, then a depthwise (2n+1)×(2n+1) convolution (+ BatchNorm).

    The depthwise convolution sums `act_num` shifted and weighted copies of the
    activated input in each direction (Chen et al. 2023, eq. 6), which gives a
    shortcut-free network more non-linearity per layer.

    Training form: activation → depthwise conv (no bias, padding n) → BatchNorm.
    Deploy form (`deploy=True`): activation → depthwise conv with bias, the form
    after folding the BatchNorm (see `keras_minimal.deploy.fusion`).

    Args:
        act_num: n ≥ 0; the kernel is (2n+1)×(2n+1). 0 gives a per-channel scale.
        deploy: build the fused (BatchNorm-free) form.
        activation: the base activation, any name or callable Keras accepts.
        epsilon: BatchNorm epsilon (the reference uses 1e-6).
        momentum: BatchNorm moving-average momentum (Keras convention: 0.9 is
            PyTorch's momentum=0.1).
        banded: compute the depthwise kernel in row bands of at most 25 taps
            (`BandedDepthwiseConv2D`: the same weights and function), the form TFLite's
            XNNPACK runs several times faster; TensorFlow prefers the single kernel.
    """

    def __init__(
        self,
        act_num=3,
        deploy=False,
        activation="relu",
        epsilon=1e-6,
        momentum=0.9,
        banded=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not is_integer(act_num) or act_num < 0:
            raise ValueError(
                "act_num must be an integer ≥ 0 (the depthwise kernel is (2n+1)×(2n+1)). "
                f"Received: act_num={act_num!r}"
            )
        self.act_num = act_num = int(act_num)
        self.deploy = bool(deploy)
        self.activation = keras.activations.get(activation)
        self.epsilon = epsilon
        self.momentum = momentum
        self.banded = bool(banded)
        if self.banded:
            self.depthwise = BandedDepthwiseConv2D(
                2 * act_num + 1, use_bias=self.deploy, dtype=self.dtype_policy, name="depthwise"
            )
        else:
            self.depthwise = layers.DepthwiseConv2D(
                kernel_size=2 * act_num + 1,
                padding="same",
                use_bias=self.deploy,
                depthwise_initializer=reference_trunc_normal(),
                data_format="channels_last",
                dtype=self.dtype_policy,
                name="depthwise",
            )
        self.batch_norm = None
        if not self.deploy:
            self.batch_norm = layers.BatchNormalization(
                epsilon=epsilon, momentum=momentum, dtype=self.dtype_policy, name="bn"
            )

    def build(self, input_shape):
        self.depthwise.build(input_shape)
        if self.batch_norm is not None:
            self.batch_norm.build(input_shape)

    def call(self, inputs, training=None):
        x = self.depthwise(self.activation(inputs))
        if self.batch_norm is not None:
            x = self.batch_norm(x, training=training)
        return x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            act_num=self.act_num,
            deploy=self.deploy,
            activation=keras.activations.serialize(self.activation),
            epsilon=self.epsilon,
            momentum=self.momentum,
            banded=self.banded,
        )
        return config
