"""Parity with DeepMind's own NFNet: the tiny fixture's Haiku pickle (written by dill from
DeepMind's nfnets/nfnet.py) reproduces its logits with reference="deepmind", on every
backend, and so does the model folded for deployment."""

import json

import keras
import numpy as np
import pytest

from keras_minimal.applications import NFNet
from keras_minimal.deploy import to_deploy
from tests.helpers import DATA, assert_matches_reference

pytestmark = pytest.mark.multibackend

HAIKU_FILE = DATA / "nfnet_haiku_tiny.npz"


@pytest.fixture(scope="module")
def case():
    with np.load(DATA / "nfnet_haiku_tiny_case.npz") as data:
        meta = json.loads(str(data["meta"]))
        return meta, data["input"], data["out/logits"]


def _model(case, **kwargs):
    meta, inputs, _ = case
    params = meta["constructor"]["variant_params"]
    return NFNet(
        params["depth"],
        params["width"],
        group_size=params["group_width"][0],
        classes=meta["constructor"]["kwargs"]["num_classes"],
        include_preprocessing=False,  # DeepMind's NFNet takes the normalised image
        classifier_activation=None,
        input_shape=inputs.shape[1:],
        weights=str(HAIKU_FILE),
        **kwargs,
    )


def test_deepmind_haiku_file_reproduces_deepmind_s_logits(case):
    _, inputs, logits = case
    model = _model(case, reference="deepmind")
    assert_matches_reference(model(inputs, training=False), logits)


def test_the_timm_form_of_the_same_weights_is_measurably_off(case):
    # The control: the fixture tells the two GELUs apart (sensitivity ~1.7e-4 of max |logit|).
    _, inputs, logits = case
    timm = keras.ops.convert_to_numpy(_model(case)(inputs, training=False))
    assert np.max(np.abs(timm - logits)) > 1e-4 * np.max(np.abs(logits))


def test_folded_deepmind_model_reproduces_deepmind_s_logits(case):
    _, inputs, logits = case
    fused = to_deploy(_model(case, reference="deepmind"))
    assert fused.builder_config["reference"] == "deepmind"
    assert_matches_reference(fused(inputs, training=False), logits)
