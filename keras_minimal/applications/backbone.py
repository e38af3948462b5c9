"""What every family's builder shares: the keras.applications arguments and the model class."""

import keras
from keras import layers

from keras_minimal.normalization import IMAGENET_MEAN, IMAGENET_STD
from keras_minimal.policies import computing_policy
from keras_minimal.validation import check_int, is_integer
from keras_minimal.weights.arguments import apply_weights_argument, check_weights_argument

POOLING_CHOICES = (None, "avg", "max")
# The weights= names of published checkpoints a family's builder takes unless it says more.
PUBLISHED_WEIGHTS = ("imagenet",)


@keras.saving.register_keras_serializable(package="keras_minimal")
class BackboneModel(keras.Model):
    """A functional model that remembers how it was built.

    `architecture` holds the family name, the registered variant (or None) and
    the builder arguments, so that tools can rebuild the same network in another
    form (`keras_minimal.deploy.to_deploy`) or map reference checkpoints onto it
    (`keras_minimal.weights.load_reference`). It round-trips through get_config
    and `.keras` files.
    """

    def __init__(self, *args, architecture=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.architecture = dict(architecture or {})

    @property
    def family(self):
        return self.architecture.get("family")

    @property
    def variant(self):
        return self.architecture.get("variant")

    @property
    def builder_config(self):
        return dict(self.architecture.get("config", {}))

    @property
    def pyramid_outputs(self):
        """{"P2": tensor, …, "P5": tensor}: the stage outputs by level (stride 2^k), as in
        keras-hub backbones; empty for families that do not declare them. Use
        `keras_minimal.applications.feature_pyramid(model)` for a multi-output model."""
        names = self.architecture.get("pyramid") or {}
        return {level: self.get_layer(name).output for level, name in names.items()}

    def get_config(self):
        config = super().get_config()
        config["architecture"] = self.architecture
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        architecture = config.pop("architecture", None)
        model = super().from_config(config, custom_objects=custom_objects)
        model.architecture = dict(architecture or {})
        # Keras does not store a functional model's own policy: without this a reloaded
        # mixed_float16 model compiles without loss scaling.
        model.dtype_policy = computing_policy(model)
        return model


def serializable_activation(activation):
    """An activation argument in a JSON-safe form (names stay names)."""
    if activation is None or isinstance(activation, str):
        return activation
    return keras.activations.serialize(keras.activations.get(activation))


def applications_config(
    include_top, input_shape, pooling, classes, classifier_activation, include_preprocessing, name
):
    """The keras.applications arguments as a model's architecture record stores them."""
    return {
        "include_top": include_top,
        "input_shape": list(input_shape),
        "pooling": pooling,
        "classes": classes,
        "classifier_activation": serializable_activation(classifier_activation),
        "include_preprocessing": include_preprocessing,
        "name": name,
    }


def finish_model(
    model_class,
    inputs,
    outputs,
    architecture,
    weights,
    input_tensor=None,
    published_weights=PUBLISHED_WEIGHTS,
):
    """The family's model over the built graph, with what `weights` names loaded
    (`published_weights`: the names of the family's published checkpoints).

    Layers a Keras `input_tensor` brought along (keras.applications includes them) are
    named in the record: tools that rebuild the backbone cannot rebuild them.
    """
    upstream = upstream_layers(input_tensor)
    if upstream:
        architecture = dict(architecture, input_tensor_layers=upstream)
    model = model_class(
        inputs, outputs, name=architecture["config"]["name"], architecture=architecture
    )
    apply_weights_argument(model, weights, published_weights)
    return model


def check_applications_arguments(
    weights,
    include_top,
    pooling,
    classes,
    classifier_activation,
    variant,
    published_weights=PUBLISHED_WEIGHTS,
):
    """Check the keras.applications arguments before anything is built; returns classes
    as an int where it is one (keras.applications ignores classes without the top).
    `published_weights`: the weights= names of the family's published checkpoints."""
    check_weights_argument(
        weights,
        include_top=include_top,
        classes=classes,
        variant=variant,
        classifier_activation=classifier_activation,
        published=published_weights,
    )
    if pooling not in POOLING_CHOICES:
        raise ValueError(
            f"pooling must be one of {POOLING_CHOICES} (used when include_top=False). "
            f"Received: pooling={pooling!r}"
        )
    if include_top or is_integer(classes):
        return check_int("classes", classes)
    return classes


def resolve_input_shape(input_shape, input_tensor, default=(None, None, 3)):
    """The (H, W, C) the model is built for: from input_shape, input_tensor, or `default`."""
    check_data_format()
    if input_tensor is not None:
        tensor_shape = tuple(keras.ops.shape(input_tensor))[1:]
        if input_shape is not None and not _compatible(tuple(input_shape), tensor_shape):
            raise ValueError(
                f"input_shape {tuple(input_shape)} contradicts input_tensor's shape "
                f"{tensor_shape}. Pass one of them, or the tensor's own shape. Received: "
                f"input_shape={tuple(input_shape)}"
            )
        input_shape = tensor_shape  # what the model is built on (None sides stay free)
    if input_shape is None:
        return default
    input_shape = tuple(input_shape)
    if len(input_shape) != 3:
        raise ValueError(
            "input_shape must be (height, width, channels), channels last. "
            f"Received: input_shape={input_shape}"
        )
    argument = "input_shape" if input_tensor is None else "input_tensor.shape[1:]"
    return _checked_sizes(input_shape, argument)


def _checked_sizes(input_shape, argument):
    """input_shape as Python ints (None sides stay free), or ValueError for a size < 1."""
    *sides, channels = input_shape
    if not (all(side is None or _is_size(side) for side in sides) and _is_size(channels)):
        raise ValueError(
            f"{argument} must hold integer sizes ≥ 1 (height, width, channels; a side may be "
            f"None for any size, the channel count must be known). Received: "
            f"{argument}={input_shape}"
        )
    return tuple(None if size is None else int(size) for size in input_shape)


def _is_size(value):
    return is_integer(value) and value >= 1


def _compatible(shape, other):
    return len(shape) == len(other) and all(
        a is None or b is None or a == b for a, b in zip(shape, other, strict=True)
    )


def check_data_format():
    if keras.config.image_data_format() != "channels_last":
        raise ValueError(
            "keras_minimal models take channels-last images (batch, height, width, channels), "
            "but the global image data format is "
            f"{keras.config.image_data_format()!r}. Call "
            'keras.config.set_image_data_format("channels_last") before building one.'
        )


def check_channels(
    input_shape, include_preprocessing, weights, published_weights=PUBLISHED_WEIGHTS
):
    channels = input_shape[-1]
    if channels == 3:
        return
    if include_preprocessing:
        raise ValueError(
            "include_preprocessing=True normalises RGB images, so the input needs 3 channels. "
            "Pass include_preprocessing=False for other inputs. "
            f"Received: input_shape={input_shape}"
        )
    if isinstance(weights, str) and weights in published_weights:
        raise ValueError(
            f'weights="{weights}" were trained on RGB images, so the input needs 3 channels. '
            f"Received: input_shape={input_shape}"
        )


def check_min_size(input_shape, min_size, model_name):
    """`min_size`: the least side in pixels, or (least height, least width) for a network
    that strides the two axes differently."""
    height, width = min_size if isinstance(min_size, tuple) else (min_size, min_size)
    least = (
        f"every spatial side must be at least {height} pixels"
        if height == width
        else f"the height must be at least {height} and the width {width} pixels"
    )
    for side, minimum in zip(input_shape[:2], (height, width), strict=True):
        if side is not None and side < minimum:
            raise ValueError(
                f"input_shape {input_shape} is too small for {model_name}: {least} for the "
                "features to survive the network's downsampling. Received: "
                f"input_shape={input_shape}"
            )


def model_input(input_tensor, input_shape):
    """(tensor to build on, model inputs) following keras.applications."""
    if input_tensor is None:
        img_input = layers.Input(shape=input_shape, name="image")
        return img_input, img_input
    if not keras.backend.is_keras_tensor(input_tensor):
        img_input = layers.Input(tensor=input_tensor, shape=input_shape, name="image")
        return img_input, img_input
    sources = keras.utils.get_source_inputs(input_tensor)
    return input_tensor, sources[0] if len(sources) == 1 else sources


def upstream_layers(input_tensor):
    """Names of the layers that computed a Keras `input_tensor` (none for an Input)."""
    if input_tensor is None or not keras.backend.is_keras_tensor(input_tensor):
        return []
    sources = keras.utils.get_source_inputs(input_tensor)
    if any(source is input_tensor for source in sources):
        return []
    return [
        layer.name
        for layer in keras.Model(sources, input_tensor).layers
        if not isinstance(layer, keras.layers.InputLayer)
    ]


def normalization_scale_offset(mean=IMAGENET_MEAN, std=IMAGENET_STD):
    """(scale, offset) per channel such that x·scale + offset = (x/255 − mean)/std."""
    scale = [1.0 / (255.0 * s) for s in std]
    offset = [-m / s for m, s in zip(mean, std, strict=True)]
    return scale, offset


def imagenet_preprocessing(mean=IMAGENET_MEAN, std=IMAGENET_STD, name="preprocessing"):
    """RGB in [0, 255] → (x/255 − mean)/std as one multiply-add."""
    scale, offset = normalization_scale_offset(mean, std)
    return layers.Rescaling(scale=scale, offset=offset, name=name)


def pool_features(x, pooling):
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name="max_pool")(x)
    return x


def variant_constructor(builder, registry_name, constructor_name, variant_kwargs, summary):
    """A keras.applications-style constructor for one row of a family's variant table.

    Family options (deploy=, drop_rate=, ...) pass through **kwargs to `builder`.
    """

    def constructor(
        include_top=True,
        weights=None,
        input_tensor=None,
        input_shape=None,
        pooling=None,
        classes=1000,
        classifier_activation="softmax",
        include_preprocessing=True,
        name=registry_name,
        **kwargs,
    ):
        return builder(
            **variant_kwargs,
            include_top=include_top,
            weights=weights,
            input_tensor=input_tensor,
            input_shape=input_shape,
            pooling=pooling,
            classes=classes,
            classifier_activation=classifier_activation,
            include_preprocessing=include_preprocessing,
            name=name,
            **kwargs,
        )

    constructor.__name__ = constructor.__qualname__ = constructor_name
    constructor.__doc__ = (
        f"{summary}\n\nArguments as in keras.applications; family options pass through to "
        f"`{builder.__name__}` (see its docstring). Registry name: {registry_name!r}."
    )
    return constructor
