"""Conv2D with scaled weight standardisation (NF-ResNets / NFNets)."""

import math

import keras
from keras import ops

from keras_minimal.layers.grouped_conv2d import GroupedConv2D

# name → default epsilon. timm's dm_nfnet_* models (the port of DeepMind's weights) use
# std_conv_eps=1e-5 inside the square root; DeepMind's Haiku code floors var·fan_in at 1e-4.
STANDARDIZATIONS = {"timm": 1e-5, "deepmind": 1e-4}


@keras.saving.register_keras_serializable(package="keras_minimal")
class WSConv2D(GroupedConv2D):
    """Conv2D whose kernel is standardised per output channel on every call, times a gain.

    For output channel o with the fan-in N = kh·kw·(in_channels / groups), mean μ_o and
    (biased) variance σ²_o of the kernel over its N entries, and learnable gain g_o:

    - `standardization="timm"` (timm's `ScaledStdConv2dSame`, used by its `dm_nfnet_*`
      models and the reference fixtures): Ŵ = g·(W − μ) / (sqrt(σ² + ε)·sqrt(N)), ε = 1e-5.
    - `standardization="deepmind"` (DeepMind's Haiku `WSConv2D`):
      Ŵ = g·(W − μ)·rsqrt(max(σ²·N, ε)), ε = 1e-4.

    The two agree to within ε: timm adds ε to σ² before the fan-in scaling, DeepMind
    floors the already fan-in-scaled variance. They differ only for kernels of tiny
    variance (e.g. all-equal weights: timm divides by sqrt(ε·N), DeepMind by sqrt(ε)).
    Activation gains (γ) are not part of this layer: NFNets apply them in the activation.
    Grouped convolutions run as GroupedConv2D does (no XLA on TensorFlow).

    The raw kernel is the trainable variable (the one that adaptive gradient clipping and
    weight decay see); `standardized_kernel()` is what the convolution uses, and what
    `keras_minimal.deploy.to_deploy` folds into a plain Conv2D. Under a mixed-precision
    policy the kernel arrives in the compute dtype; its statistics are still computed in
    float32, and the standardised kernel is cast back.

    Args:
        filters, kernel_size, **kwargs: as keras.layers.Conv2D (strides, padding, groups,
            use_bias, kernel_initializer, ...). NFNets use padding="same" (TF SAME, as the
            reference models).
        standardization: "timm" (default) or "deepmind", see above.
        epsilon: ε of the chosen form; None takes its default (1e-5 / 1e-4).
        gain_initializer: initialiser of the per-output-channel gain (default ones).
    """

    def __init__(
        self,
        filters,
        kernel_size,
        standardization="timm",
        epsilon=None,
        gain_initializer="ones",
        **kwargs,
    ):
        super().__init__(filters, kernel_size, **kwargs)
        if standardization not in STANDARDIZATIONS:
            raise ValueError(
                f"standardization must be one of {sorted(STANDARDIZATIONS)}: 'timm' for "
                "(W − mean)/(sqrt(var + ε)·sqrt(fan_in)), 'deepmind' for "
                "(W − mean)·rsqrt(max(var·fan_in, ε)). "
                f"Received: standardization={standardization!r}"
            )
        epsilon = STANDARDIZATIONS[standardization] if epsilon is None else float(epsilon)
        if not epsilon > 0:
            raise ValueError(f"epsilon must be positive. Received: epsilon={epsilon}")
        if self.data_format != "channels_last":
            raise ValueError(
                "WSConv2D supports data_format='channels_last' only. "
                f"Received: data_format={self.data_format!r}"
            )
        self.standardization = standardization
        self.epsilon = epsilon
        self.gain_initializer = keras.initializers.get(gain_initializer)

    def build(self, input_shape):
        super().build(input_shape)
        self.gain = self.add_weight(
            name="gain",
            shape=(self.filters,),
            initializer=self.gain_initializer,
            trainable=True,
            dtype=self.dtype,
        )

    @property
    def fan_in(self):
        """kh·kw·(input channels per group): the number of weights feeding one output."""
        return math.prod(self.kernel.shape[:-1])

    def standardized_kernel(self, kernel=None):
        """The kernel the convolution uses (float32 maths, returned in the kernel's dtype)."""
        kernel = self.kernel if kernel is None else kernel
        weights = ops.cast(kernel, "float32")
        gain = ops.cast(self.gain, "float32")
        mean = ops.mean(weights, axis=(0, 1, 2), keepdims=True)
        variance = ops.var(weights, axis=(0, 1, 2), keepdims=True)
        if self.standardization == "timm":
            scale = gain * ops.rsqrt(variance + self.epsilon) / math.sqrt(self.fan_in)
        else:
            scale = gain * ops.rsqrt(ops.maximum(variance * self.fan_in, self.epsilon))
        return ops.cast((weights - mean) * scale, kernel.dtype)

    def convolution_op(self, inputs, kernel):
        return super().convolution_op(inputs, self.standardized_kernel(kernel))

    # Conv2D saves only (kernel, bias); the gain is saved after them.
    def save_own_variables(self, store):
        super().save_own_variables(store)
        if self.built:
            store[str(2 if self.use_bias else 1)] = self.gain

    def load_own_variables(self, store):
        super().load_own_variables(store)
        if self.built:
            self.gain.assign(store[str(2 if self.use_bias else 1)])

    def get_config(self):
        config = super().get_config()
        config.update(
            standardization=self.standardization,
            epsilon=self.epsilon,
            gain_initializer=keras.initializers.serialize(self.gain_initializer),
        )
        return config
