"""Builder and layer arguments: numpy numbers accepted, bad ones named in one error."""

import json
import re

import keras
import numpy as np
import pytest

from keras_minimal.applications import ConvNeXt, NFNet, PPLCNet, VanillaNet
from keras_minimal.layers import StochasticDepth
from keras_minimal.training.losses import BinaryCrossEntropy
from keras_minimal.validation import check_rate

BUILDERS = {
    "vanillanet": (lambda **kw: VanillaNet([8, 16], [2], **kw), "drop_rate"),
    "nfnet_dropout": (lambda **kw: NFNet([1], [256], **kw), "drop_rate"),
    "nfnet_drop_path": (lambda **kw: NFNet([1], [256], **kw), "drop_path_rate"),
    "convnext": (lambda **kw: ConvNeXt([1], [8], **kw), "drop_path_rate"),
    "pplcnet": (lambda **kw: PPLCNet(0.25, **kw), "dropout_rate"),
    "stochastic_depth": (lambda **kw: StochasticDepth(**kw), "rate"),
    "bce": (lambda **kw: BinaryCrossEntropy(**kw), "smoothing"),
}


NOT_NUMBERS = [None, "0.1", True, [0.1]]


@pytest.mark.parametrize(
    "case, bad",
    # NFNet's drop_rate=None means the variant's published dropout.
    [(c, b) for c in sorted(BUILDERS) for b in NOT_NUMBERS if (c, b) != ("nfnet_dropout", None)],
)
def test_a_rate_that_is_not_a_number_is_named(case, bad):
    build, argument = BUILDERS[case]
    with pytest.raises(TypeError, match=rf"{argument} must be a number in \[0, 1\)\. Received"):
        build(**{argument: bad})


@pytest.mark.parametrize("case", sorted(BUILDERS))
@pytest.mark.parametrize("bad", [-0.1, 1.0])
def test_a_rate_outside_the_range_is_named(case, bad):
    build, argument = BUILDERS[case]
    with pytest.raises(ValueError, match=rf"{argument} must lie in \[0, 1\)\. Received"):
        build(**{argument: bad})


def test_numpy_scalars_are_rates():
    assert check_rate("rate", np.float32(0.25)) == 0.25
    assert type(check_rate("rate", np.float64(0.5))) is float
    assert check_rate("rate", 0) == 0.0


ARCHITECTURES = {
    "vanillanet": (VanillaNet, {"dims": [8, 16, 32], "strides": [2, 1], "act_num": 1}),
    "nfnet": (NFNet, {"depths": [1, 1], "channels": [256, 256], "group_size": 64}),
    "convnext": (ConvNeXt, {"depths": [1, 1], "dims": [8, 16]}),
}
NUMPY_RATES = {
    "vanillanet": (lambda **kw: VanillaNet([8, 16], [2], **kw), ["drop_rate"]),
    "nfnet": (lambda **kw: NFNet([1], [256], **kw), ["drop_rate", "drop_path_rate"]),
    "convnext": (lambda **kw: ConvNeXt([1], [8], **kw), ["drop_path_rate"]),
    "pplcnet": (lambda **kw: PPLCNet(0.25, **kw), ["dropout_rate"]),
}


@pytest.mark.parametrize("family", sorted(ARCHITECTURES))
def test_numpy_integer_architectures_build_the_same_network(family):
    build, arguments = ARCHITECTURES[family]
    as_numpy = {
        key: np.asarray(value) if isinstance(value, list) else np.int64(value)
        for key, value in arguments.items()
    }
    reference = build(**arguments, input_shape=(32, 32, 3), classes=3)
    model = build(**as_numpy, input_shape=(32, 32, 3), classes=3)
    assert model.count_params() == reference.count_params()
    assert model.builder_config == reference.builder_config
    json.dumps(model.get_config())  # numpy integers would not serialise


@pytest.mark.parametrize(
    "family, argument, bad",
    [
        ("vanillanet", "dims", [8, 16.5, 32]),
        ("vanillanet", "strides", [2, 0]),
        ("nfnet", "depths", [1, 0]),
        ("nfnet", "channels", 256),
        ("nfnet", "group_size", 64.0),
        ("convnext", "depths", []),
        ("convnext", "dims", "8,16"),
    ],
)
def test_a_non_integer_architecture_entry_is_named(family, argument, bad):
    build, arguments = ARCHITECTURES[family]
    with pytest.raises(ValueError, match=rf"^{argument} must be (an )?integers? ≥ 1\. Received"):
        build(**{**arguments, argument: bad}, input_shape=(32, 32, 3))


@pytest.mark.parametrize("family", sorted(NUMPY_RATES))
def test_numpy_rates_are_recorded_as_floats(family):
    build, rates = NUMPY_RATES[family]
    model = build(**{rate: np.float32(0.25) for rate in rates}, input_shape=(32, 32, 3))
    for rate in rates:
        assert type(model.builder_config[rate]) is float and model.builder_config[rate] == 0.25
    json.dumps(model.get_config())  # numpy floats would not serialise


HEADS = {
    "vanillanet": lambda **kw: VanillaNet([8, 16], [2], input_shape=(32, 32, 3), **kw),
    "nfnet": lambda **kw: NFNet([1], [256], input_shape=(32, 32, 3), **kw),
    "convnext": lambda **kw: ConvNeXt([1], [8], input_shape=(32, 32, 3), **kw),
    "pplcnet": lambda **kw: PPLCNet(0.25, input_shape=(32, 32, 3), **kw),
}


@pytest.mark.parametrize("family", sorted(HEADS))
@pytest.mark.parametrize("bad", [0, None, 2.0, "10"])
def test_a_bad_number_of_classes_is_named(family, bad):
    with pytest.raises(
        ValueError, match=rf"classes must be an integer ≥ 1\. Received: classes={bad!r}"
    ):
        HEADS[family](classes=bad)


@pytest.mark.parametrize("family", sorted(HEADS))
def test_numpy_classes_build_that_many_and_are_recorded_as_an_int(family):
    model = HEADS[family](classes=np.int64(7))
    assert model.output.shape == (None, 7)
    assert type(model.builder_config["classes"]) is int
    json.dumps(model.get_config())
    # Without the top, classes is ignored, as in keras.applications.
    assert HEADS[family](classes=None, include_top=False, pooling="avg").output.shape[0] is None


BAD_INPUT_SHAPES = [
    (32, 32, 0),
    (0, 32, 3),
    (32, -1, 3),
    (32, 32, -3),
    (32, 32.5, 3),
    (32, 32, None),
]


@pytest.mark.parametrize("family", sorted(NUMPY_RATES))  # the four families' builders
@pytest.mark.parametrize("shape", BAD_INPUT_SHAPES)
@pytest.mark.parametrize("include_preprocessing", [True, False])
def test_an_input_shape_with_a_size_below_one_is_refused_at_build(
    family, shape, include_preprocessing
):
    build, _ = NUMPY_RATES[family]
    with pytest.raises(
        ValueError,
        match=rf"^input_shape must hold integer sizes ≥ 1 .*Received: "
        rf"input_shape={re.escape(str(shape))}$",
    ):
        build(input_shape=shape, include_preprocessing=include_preprocessing)


@pytest.mark.parametrize("family", sorted(NUMPY_RATES))
def test_an_input_tensor_without_a_channel_count_is_refused(family):
    build, _ = NUMPY_RATES[family]
    with pytest.raises(
        ValueError,
        match=r"^input_tensor\.shape\[1:\] must hold integer sizes ≥ 1 .*the channel count must "
        r"be known\)\. Received: input_tensor\.shape\[1:\]=\(None, None, None\)$",
    ):
        build(input_tensor=keras.Input((None, None, None)), include_preprocessing=False)


@pytest.mark.parametrize("family", sorted(NUMPY_RATES))
def test_a_numpy_input_shape_is_recorded_as_ints(family):
    build, _ = NUMPY_RATES[family]
    model = build(input_shape=np.array([32, 32, 3]))
    assert model.input_shape == (None, 32, 32, 3)
    assert [type(size) for size in model.builder_config["input_shape"]] == [int, int, int]
    json.dumps(model.get_config())
