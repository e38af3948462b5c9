"""NFNet (Brock et al. 2021, arXiv 2102.06171), exact to timm's `dm_nfnet_*` models.

timm's dm_nfnet_* models carry DeepMind's ImageNet weights (ported from the official
Haiku code) and are this module's reference (tests/data/nfnet_tiny_dm.npz): TF "SAME"
padding, activation gains γ applied in the activations, SkipInit gains, SE after the
last 1×1 convolution. Layer names follow timm's modules (see checkpoint.py):

    stem_conv1 … stem_conv4 (stem_act2 … stem_act4 between)
    stages_{s}_{b}_act1                     γ·β·act(x)
    stages_{s}_{b}_downsample_pool / _conv  transition shortcut
    stages_{s}_{b}_conv1, _act2, _conv2, _act2b, _conv2b, _act3, _conv3
    stages_{s}_{b}_se_pool, _se_fc1, _se_fc2, _se_gate
    stages_{s}_{b}_drop_path                (only with drop_path_rate > 0)
    stages_{s}_{b}_skip_gain                × skip_gain × 2 (SE gain) × α
    stages_{s}_{b}_add
    final_conv, final_act, head_pool, head_drop, predictions
"""

import contextlib
import sys

import keras
from keras import layers

from keras_minimal.applications import backbone
from keras_minimal.applications.nfnet.references import REFERENCES
from keras_minimal.applications.nfnet.sources import WEIGHT_SOURCES
from keras_minimal.applications.nfnet.variants import VARIANTS, find_variant
from keras_minimal.layers import (
    GroupedConv2D,
    ScaledActivation,
    SkipInitGain,
    WSConv2D,
    exact_gelu,
)
from keras_minimal.layers.scaled_activation import gelu_approximate
from keras_minimal.layers.ws_conv2d import STANDARDIZATIONS
from keras_minimal.training.agc.model import AdaptiveGradientClipping
from keras_minimal.validation import check_int, check_ints, check_rate

# γ: the gain that makes act(x) unit-variance for x ~ N(0, 1) (DeepMind nfnets base.py).
NONLINEARITY_GAINS = {
    "gelu": 1.7015043497085571,  # exact GELU (timm); DeepMind's is the tanh form below
    "gelu_approximate": 1.7015043497085571,
    "relu": 1.7139588594436646,
    "relu6": 1.7131484746932983,
    "silu": 1.7881293296813965,
    "elu": 1.2716004848480225,
    "celu": 1.270926833152771,
    "selu": 1.0008515119552612,
    "sigmoid": 4.803835391998291,
    "softplus": 1.9203323125839233,
    "tanh": 1.5939117670059204,
}
SE_GAIN = 2.0  # the SE output is doubled to keep the branch's variance (DeepMind, timm)
STEM_STRIDE = 4
FC_INITIALIZER_STDDEV = 0.01


# Keras maps a functional graph recursively, one Python frame per layer of its longest
# path; NFNet-F7 is ~1,400 layers deep, past Python's default limit of 1,000.
_FRAMES_PER_LAYER = 2
_LAYERS_PER_BLOCK = 16


@contextlib.contextmanager
def deep_graph_recursion_limit(num_blocks):
    previous = sys.getrecursionlimit()
    needed = _FRAMES_PER_LAYER * _LAYERS_PER_BLOCK * num_blocks + 1000
    sys.setrecursionlimit(max(previous, needed))
    try:
        yield
    finally:
        sys.setrecursionlimit(previous)


@keras.saving.register_keras_serializable(package="keras_minimal")
class NFNetModel(AdaptiveGradientClipping, backbone.BackboneModel):
    """A functional NFNet that can train with adaptive gradient clipping, as in the paper:

    model.enable_adaptive_gradient_clipping(clipping=0.01)  # excludes `predictions`
    model.compile(optimizer=..., loss=...)
    model.fit(...)
    """

    @classmethod
    def from_config(cls, config, custom_objects=None):
        depths = config.get("architecture", {}).get("config", {}).get("depths", ())
        with deep_graph_recursion_limit(sum(depths)):
            return super().from_config(config, custom_objects=custom_objects)


def _activation_function(name):
    # Keras' own exact "gelu" lowers to Erfc on TensorFlow, which tf2onnx cannot convert.
    return {"gelu": exact_gelu, "gelu_approximate": gelu_approximate}.get(name, name)


def _conv_initializer():
    # timm: kaiming_normal_(mode="fan_in", nonlinearity="linear"); DeepMind: the same.
    return keras.initializers.VarianceScaling(1.0, "fan_in", "untruncated_normal")


class _Builder:
    """Makes the layers of one network; holds the options every layer shares."""

    def __init__(self, reference, activation, standardization, deploy):
        self.reference = reference
        self.activation = activation
        self.gamma = NONLINEARITY_GAINS[activation]
        self.standardization = standardization
        self.deploy = deploy

    def conv(self, filters, kernel_size, name, strides=1, groups=1):
        kwargs = dict(
            strides=strides,
            padding="same",
            groups=groups,
            kernel_initializer=_conv_initializer(),
            bias_initializer="zeros",
            name=name,
        )
        if self.deploy:  # weight standardisation folded into the kernel (to_deploy)
            return GroupedConv2D(filters, kernel_size, **kwargs)
        return WSConv2D(filters, kernel_size, standardization=self.standardization, **kwargs)

    def act(self, name, beta=1.0):
        return ScaledActivation(
            _activation_function(self.activation), scale=self.gamma * beta, name=name
        )

    def dense(self, units, name, activation=None, initializer=None):
        return layers.Dense(
            units,
            activation=activation,
            kernel_initializer=initializer or _conv_initializer(),
            bias_initializer="zeros",
            name=name,
        )

    def stem(self, x, stem_chs):
        widths = self.reference.stem_widths(stem_chs)
        strides = (2, 1, 1, 2)
        for i, (width, stride) in enumerate(zip(widths, strides, strict=True)):
            if i:
                x = self.act(f"stem_act{i + 1}")(x)
            x = self.conv(width, 3, f"stem_conv{i + 1}", strides=stride)(x)
        return x

    def squeeze_excite(self, x, channels, se_ratio, prefix):
        gate = layers.GlobalAveragePooling2D(keepdims=True, name=f"{prefix}_se_pool")(x)
        # timm's SEModule width or DeepMind's; they agree for every published model.
        hidden = self.reference.se_hidden(channels, se_ratio)
        gate = self.dense(hidden, f"{prefix}_se_fc1", "relu")(gate)
        gate = self.dense(channels, f"{prefix}_se_fc2", "sigmoid")(gate)
        return layers.Multiply(name=f"{prefix}_se_gate")([x, gate])

    def block(self, x, block, prefix):
        """One pre-activation NF block; `block` holds its geometry (see _block_plan)."""
        out = self.act(f"{prefix}_act1", beta=block["beta"])(x)
        shortcut = x
        if block["transition"]:
            shortcut = out
            if block["stride"] > 1:
                shortcut = layers.AveragePooling2D(
                    2, block["stride"], padding="same", name=f"{prefix}_downsample_pool"
                )(shortcut)
            shortcut = self.conv(block["out_chs"], 1, f"{prefix}_downsample_conv")(shortcut)

        mid, groups = block["mid_chs"], block["groups"]
        out = self.conv(mid, 1, f"{prefix}_conv1")(out)
        out = self.act(f"{prefix}_act2")(out)
        out = self.conv(mid, 3, f"{prefix}_conv2", strides=block["stride"], groups=groups)(out)
        out = self.act(f"{prefix}_act2b")(out)
        out = self.conv(mid, 3, f"{prefix}_conv2b", groups=groups)(out)
        out = self.act(f"{prefix}_act3")(out)
        out = self.conv(block["out_chs"], 1, f"{prefix}_conv3")(out)
        out = self.squeeze_excite(out, block["out_chs"], block["se_ratio"], prefix)
        if block["drop_path_rate"] > 0:
            # Stochastic depth: drop the whole residual branch per example (rescaled by
            # 1/keep, as timm's DropPath), i.e. dropout with one mask value per example.
            out = layers.Dropout(
                block["drop_path_rate"], noise_shape=(None, 1, 1, 1), name=f"{prefix}_drop_path"
            )(out)
        out = SkipInitGain(scale=SE_GAIN * block["alpha"], name=f"{prefix}_skip_gain")(out)
        return layers.Add(name=f"{prefix}_add")([out, shortcut])


def _block_plan(
    reference, depths, channels, stem_chs, group_size, bottle_ratio, se_ratio, alpha, rate
):
    """Per block: stage, index, widths, stride, β and drop-path rate (DeepMind nfnet.py)."""
    plan = []
    num_blocks = sum(depths)
    in_chs = stem_chs
    expected_std = 1.0
    for stage, (depth, out_chs) in enumerate(zip(depths, channels, strict=True)):
        stride = 1 if stage == 0 else 2  # the stem already downsamples by 4
        mid_chs = reference.bottleneck_width(out_chs, bottle_ratio, group_size)
        for index in range(depth):
            block_stride = stride if index == 0 else 1
            plan.append(
                {
                    "stage": stage,
                    "index": index,
                    "out_chs": out_chs,
                    "mid_chs": mid_chs,
                    "groups": mid_chs // group_size,
                    "stride": block_stride,
                    "transition": block_stride > 1 or in_chs != out_chs,
                    "beta": 1.0 / expected_std,
                    "alpha": alpha,
                    "se_ratio": se_ratio,
                    "drop_path_rate": rate * len(plan) / num_blocks,
                }
            )
            in_chs = out_chs
            # The expected variance resets after each stage's first block, then grows by α².
            if index == 0:
                expected_std = 1.0
            expected_std = (expected_std**2 + alpha**2) ** 0.5
    return plan


def _resolve_reference(reference, weights):
    """`reference`, or the one the weights named by `weights` were trained with."""
    source = WEIGHT_SOURCES.get(weights) if isinstance(weights, str) else None
    implied = source.options.get("reference") if source else None
    if reference is None:
        reference = implied or "timm"
    if reference not in REFERENCES:
        raise ValueError(
            f"reference must be one of {sorted(REFERENCES)}: whose definition of NFNet to "
            f"follow (timm's dm_nfnet_* or DeepMind's nfnets/nfnet.py). "
            f"Received: reference={reference!r}"
        )
    if implied and reference != implied:
        raise ValueError(
            f'weights="{weights}" are the weights of reference="{implied}"; with '
            f'reference="{reference}" use weights="imagenet", that reference\'s port of the '
            f"same weights. Received: reference={reference!r}"
        )
    return REFERENCES[reference]


def _check_architecture(rules, depths, channels, group_size, stem_chs, bottle_ratio, se_ratio):
    if len(depths) != len(channels):
        raise ValueError(
            "NFNet needs one width per stage. "
            f"Received: depths={list(depths)} channels={list(channels)}"
        )
    if rules.name == "timm" and stem_chs % 8:
        raise ValueError(
            "stem_chs must be a multiple of 8 (the stem's widths are stem_chs/8, /4, /2, 1×). "
            f"Received: stem_chs={stem_chs}"
        )
    if not bottle_ratio > 0 or not 0 < se_ratio <= 1:
        raise ValueError(
            "bottle_ratio must be positive and se_ratio in (0, 1]. "
            f"Received: bottle_ratio={bottle_ratio}, se_ratio={se_ratio}"
        )
    for width in channels:
        mid = width * bottle_ratio
        if rules.name == "timm" and (mid != int(mid) or int(mid) % group_size):
            raise ValueError(
                f"group_size={group_size} does not divide the grouped convolutions' width of the "
                f"stage of width {width}: {width} × bottle_ratio {bottle_ratio} = {mid:g} "
                "channels. Pick a group_size that divides every stage width × bottle_ratio "
                '(the published models: 128), or reference="deepmind", which rounds the '
                f"width down to a multiple of group_size. Received: group_size={group_size}, "
                f"channels={list(channels)}"
            )
        if rules.bottleneck_width(width, bottle_ratio, group_size) < 1:
            raise ValueError(
                f"group_size={group_size} is wider than the grouped convolutions of the stage "
                f"of width {width} ({width} × bottle_ratio {bottle_ratio} = {mid:g} channels), "
                "which would keep no channel. Pick a smaller group_size. "
                f"Received: group_size={group_size}, channels={list(channels)}"
            )


def _check_numerics(activation, standardization):
    if activation not in NONLINEARITY_GAINS:
        raise ValueError(
            f"activation must be one of {sorted(NONLINEARITY_GAINS)} (NFNets need its "
            f"variance-preserving gain γ). Received: activation={activation!r}"
        )
    if standardization not in STANDARDIZATIONS:
        raise ValueError(
            f"weight_standardization must be one of {sorted(STANDARDIZATIONS)}. "
            f"Received: weight_standardization={standardization!r}"
        )


def _check_published(weights, variant):
    source = WEIGHT_SOURCES.get(weights) if isinstance(weights, str) else None
    if source and variant and source.url(variant) is None:
        raise ValueError(
            f'weights="{weights}" do not exist for {variant}: DeepMind released F0–F6 only '
            "(timm's dm_nfnet_f0 … f6, DeepMind's F0_haiku.npz … F6_haiku.npz). Pass "
            "weights=None or the path of your own weights."
        )


def NFNet(
    depths,
    channels,
    group_size=128,
    stem_chs=None,
    bottle_ratio=0.5,
    se_ratio=0.5,
    alpha=0.2,
    activation=None,
    num_features=None,
    weight_standardization=None,
    reference=None,
    drop_rate=None,
    drop_path_rate=0.0,
    deploy=False,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    include_preprocessing=True,
    name="nfnet",
):
    """Build any NFNet; argument names follow timm's `NfCfg` / DeepMind's `NFNet`.

    Args:
        depths: blocks per stage, e.g. (1, 2, 6, 3) for F0.
        channels: output width per stage, (256, 512, 1536, 1536) for every F-model.
        group_size: channels per group of the 3×3 convolutions; must divide every
            stage width × bottle_ratio (reference="deepmind" rounds that width down to a
            multiple of group_size instead).
        stem_chs: the stem's output width; its four 3×3 convolutions have stem_chs/8, /4,
            /2 and stem_chs channels (timm), or 16, 32, 64 and stem_chs (DeepMind). None
            (default): 128 (timm's dm_nfnet_*), or channels[0] // 2 with
            reference="deepmind" (DeepMind's rule, 128 for the F-models).
        bottle_ratio: bottleneck width / block width.
        se_ratio: squeeze-excite hidden width / block width, rounded to a multiple of 8
            as timm does, or down to an integer as DeepMind does (the same for the
            published widths).
        alpha: α, the residual branches' scale.
        activation: one of NONLINEARITY_GAINS; "gelu" is the exact GELU (timm),
            "gelu_approximate" the tanh form DeepMind's JAX code uses. None (default):
            "gelu", or "gelu_approximate" with reference="deepmind".
        num_features: width of the final 1×1 convolution; default 2 × channels[-1].
        weight_standardization: "timm" (the fixtures and timm's port of the DeepMind
            weights) or "deepmind" (the Haiku formula), see WSConv2D. None (default):
            the reference's own.
        reference: whose definition of NFNet to follow where they differ (stem, width
            rounding, default activation and standardisation; see
            keras_minimal.applications.nfnet.references): "timm" (timm's dm_nfnet_*) or
            "deepmind" (DeepMind's nfnets/nfnet.py). None (default): "deepmind" with
            weights="imagenet_deepmind", otherwise "timm". Load DeepMind's Haiku files
            (F0_haiku.npz …) into a model built with reference="deepmind" to reproduce
            DeepMind's outputs.
        drop_rate: dropout before the classifier; None takes the published value of the
            variant (F0 0.2 … F4–F7 0.5), or 0 for other configurations.
        drop_path_rate: stochastic depth; block i of N drops its residual branch with
            probability drop_path_rate · i / N (the paper trains with 0.25).
        deploy: build the inference graph with plain Conv2D layers (weight
            standardisation folded; see keras_minimal.deploy.to_deploy).
        include_top, weights, input_tensor, input_shape, pooling, classes,
        classifier_activation, include_preprocessing, name: as in keras.applications.
            `weights` is None, "imagenet" (timm's dm_nfnet_* release of DeepMind's
            weights), "imagenet_deepmind" (DeepMind's own F*_haiku.npz release, with
            reference="deepmind") or a path to a `.weights.h5` file or a reference
            checkpoint. Preprocessing: ImageNet mean/std (timm's dm_nfnet configuration).

    Returns:
        An `NFNetModel`. Any input size works (TF "SAME" padding); the published
        variants were evaluated at their test resolution (VARIANTS[name].test_image_size).
    """
    depths, channels = check_ints("depths", depths), check_ints("channels", channels)
    rules = _resolve_reference(reference, weights)
    stem_chs = rules.default_stem_chs(channels) if stem_chs is None else stem_chs
    group_size, stem_chs = check_int("group_size", group_size), check_int("stem_chs", stem_chs)
    _check_architecture(rules, depths, channels, group_size, stem_chs, bottle_ratio, se_ratio)
    activation = rules.activation if activation is None else activation
    if weight_standardization is None:
        weight_standardization = rules.weight_standardization
    _check_numerics(activation, weight_standardization)
    num_features = 2 * channels[-1] if num_features is None else num_features
    num_features = check_int("num_features", num_features)
    options = dict(
        group_size=group_size,
        stem_chs=stem_chs,
        bottle_ratio=bottle_ratio,
        se_ratio=se_ratio,
        alpha=alpha,
        activation=activation,
        num_features=num_features,
    )
    variant = find_variant(depths, channels, reference=rules.name, **options)
    if drop_rate is None:
        drop_rate = VARIANTS[variant].drop_rate if variant else 0.0
    drop_rate = check_rate("drop_rate", drop_rate)
    drop_path_rate = check_rate("drop_path_rate", drop_path_rate)
    classes = backbone.check_applications_arguments(
        weights, include_top, pooling, classes, classifier_activation, variant, WEIGHT_SOURCES
    )
    _check_published(weights, variant)
    input_shape = backbone.resolve_input_shape(input_shape, input_tensor)
    backbone.check_channels(input_shape, include_preprocessing, weights, WEIGHT_SOURCES)

    x, inputs = backbone.model_input(input_tensor, input_shape)
    if include_preprocessing:
        x = backbone.imagenet_preprocessing()(x)

    build = _Builder(rules, activation, weight_standardization, deploy)
    x = build.stem(x, stem_chs)
    plan = _block_plan(
        rules,
        depths,
        channels,
        stem_chs,
        group_size,
        bottle_ratio,
        se_ratio,
        alpha,
        drop_path_rate,
    )
    for block in plan:
        x = build.block(x, block, f"stages_{block['stage']}_{block['index']}")
    x = build.conv(num_features, 1, "final_conv")(x)
    x = build.act("final_act")(x)

    if include_top:
        x = layers.GlobalAveragePooling2D(name="head_pool")(x)
        x = layers.Dropout(drop_rate, name="head_drop")(x)
        x = build.dense(
            classes,
            "predictions",
            activation=classifier_activation,
            initializer=keras.initializers.RandomNormal(stddev=FC_INITIALIZER_STDDEV),
        )(x)
    else:
        x = backbone.pool_features(x, pooling)

    architecture = {
        "family": "nfnet",
        "variant": variant,
        "config": {
            "depths": list(depths),
            "channels": list(channels),
            **options,
            "weight_standardization": weight_standardization,
            "reference": rules.name,
            "drop_rate": drop_rate,
            "drop_path_rate": drop_path_rate,
            "deploy": bool(deploy),
            **backbone.applications_config(
                include_top,
                input_shape,
                pooling,
                classes,
                classifier_activation,
                include_preprocessing,
                name,
            ),
        },
    }
    with deep_graph_recursion_limit(len(plan)):
        return backbone.finish_model(
            NFNetModel, inputs, x, architecture, weights, input_tensor, WEIGHT_SOURCES
        )
