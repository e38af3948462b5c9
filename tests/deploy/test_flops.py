import math

import keras
import pytest

import keras_minimal
from keras_minimal.deploy.flops import count_macs
from keras_minimal.layers import SeriesActivation

# Fused (deploy-graph) GMACs at 224² from the VanillaNet paper's Table / official README.
VANILLANET_PAPER_GMACS = {
    "vanillanet_5": 5.2,
    "vanillanet_6": 6.0,
    "vanillanet_7": 6.9,
    "vanillanet_8": 7.7,
    "vanillanet_9": 8.6,
    "vanillanet_10": 9.4,
    "vanillanet_11": 10.3,
    "vanillanet_12": 11.1,
    "vanillanet_13": 11.9,
    "vanillanet_13_x1_5": 26.5,
    "vanillanet_13_x1_5_ada_pool": 48.9,
}


@pytest.mark.parametrize("name", sorted(VANILLANET_PAPER_GMACS))
def test_vanillanet_macs_match_the_paper(name):
    with keras.StatelessScope(initialize_variables=False):
        model = keras_minimal.create_model(name, deploy=True, input_shape=(224, 224, 3))
    gmacs = count_macs(model) / 1e9
    # The paper rounds to 0.1 G. Its ada_pool figure (48.9) matches a 74×74 stem, i.e. stride 3
    # without padding; the issue and the official code pad by 1 (75×75): 48.98 G here.
    tolerance = 0.1 if name.endswith("ada_pool") else 0.05
    assert abs(gmacs - VANILLANET_PAPER_GMACS[name]) <= tolerance, gmacs


# GMACs at 224² from the ConvNeXt paper (Table 1) and PP-LCNet paper (Table 2).
CONVNEXT_PAPER_GMACS = {
    "convnext_tiny": 4.5,
    "convnext_small": 8.7,
    "convnext_base": 15.4,
    "convnext_large": 34.4,
    "convnext_xlarge": 60.9,
}
PPLCNET_PAPER_MMACS = {
    "pplcnet_x0_25": 18,
    "pplcnet_x0_35": 29,
    "pplcnet_x0_5": 47,
    "pplcnet_x0_75": 99,
    "pplcnet_x1_0": 161,
    "pplcnet_x1_5": 342,
    "pplcnet_x2_0": 590,
    "pplcnet_x2_5": 906,
}


def _macs(name, deploy):
    with keras.StatelessScope(initialize_variables=False):
        model = keras_minimal.create_model(name, deploy=deploy, input_shape=(224, 224, 3))
    return count_macs(model)


@pytest.mark.parametrize("name", sorted(CONVNEXT_PAPER_GMACS))
def test_convnext_macs_match_the_paper_in_both_graphs(name):
    for deploy in (False, True):
        assert abs(_macs(name, deploy) / 1e9 - CONVNEXT_PAPER_GMACS[name]) <= 0.05


@pytest.mark.parametrize("name", sorted(PPLCNET_PAPER_MMACS))
def test_pplcnet_macs_against_the_paper(name):
    """Paddle's FLOPs counter also counts one op per BatchNorm and activation output element
    (5 M of the 161 M at x1.0). Our conv + dense MACs plus those elements give the paper's
    figures; the MACs alone are what count_macs reports, as for the other families."""
    with keras.StatelessScope(initialize_variables=False):
        model = keras_minimal.create_model(name, input_shape=(224, 224, 3))
    element_ops = sum(
        math.prod(layer.output.shape[1:])
        for layer in model.layers
        if isinstance(layer, (keras.layers.BatchNormalization, keras.layers.Activation))
    )
    mmacs = count_macs(model) / 1e6
    assert abs((mmacs + element_ops / 1e6) / PPLCNET_PAPER_MMACS[name] - 1) <= 0.02
    assert _macs(name, deploy=True) / 1e6 == mmacs


# GMACs at the test resolution from the NFNet paper (Table 2: F0 12.38 G at 256², ...).
NFNET_PAPER_GMACS = {"nfnet_f0": (256, 12.38), "nfnet_f1": (320, 35.54), "nfnet_f2": (352, 62.59)}


@pytest.mark.parametrize("name", sorted(NFNET_PAPER_GMACS))
def test_nfnet_macs_match_the_paper_in_both_graphs(name):
    size, paper = NFNET_PAPER_GMACS[name]
    for deploy in (False, True):
        with keras.StatelessScope(initialize_variables=False):
            model = keras_minimal.create_model(name, deploy=deploy, input_shape=(size, size, 3))
        assert abs(count_macs(model) / 1e9 - paper) <= 0.005


def test_counts_each_layer_type_directly():
    inputs = keras.Input((16, 16, 8))
    x = keras.layers.Conv2D(12, 3, strides=2, padding="same", groups=4)(inputs)  # 8×8×12
    x = keras.layers.DepthwiseConv2D(5, padding="same")(x)
    x = keras.layers.Dense(6)(x)  # 1×1 convolution on 8×8 positions
    x = SeriesActivation(2, deploy=True)(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(3)(x)
    model = keras.Model(inputs, x)
    expected = (
        8 * 8 * 12 * 3 * 3 * (8 // 4)  # grouped conv
        + 8 * 8 * 12 * 5 * 5  # depthwise
        + 8 * 8 * 6 * 12  # pointwise dense
        + 8 * 8 * 6 * 5 * 5  # series activation's depthwise
        + 6 * 3  # classifier
    )
    assert count_macs(model) == expected


def test_refuses_to_undercount_unknown_layers_with_kernels():
    inputs = keras.Input((8,))
    model = keras.Model(inputs, keras.layers.EinsumDense("ab,bc->ac", output_shape=4)(inputs))
    with pytest.raises(TypeError, match="No MAC counter for layer.*register_mac_counter"):
        count_macs(model)


def test_needs_a_static_input_size():
    with keras.StatelessScope(initialize_variables=False):
        model = keras_minimal.create_model("vanillanet_5")
    with pytest.raises(ValueError, match="static input size"):
        count_macs(model)
