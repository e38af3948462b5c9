"""NFNet recipes (agc_clipping) get adaptive gradient clipping through the Trainer's hook."""

import keras
import pytest

from keras_minimal.applications import NFNet
from keras_minimal.training import AGCModel, train_steps
from keras_minimal.training.recipes import get_recipe


def test_nfnet_recipe_selects_the_registered_agc_step():
    recipe = get_recipe("nfnet_f0")
    wrapper = train_steps.wrapper_for(recipe)
    assert "agc" in train_steps.registered_train_steps() and wrapper is not None
    model = NFNet(
        depths=[1, 1, 1, 1],
        channels=[32, 64, 96, 96],
        group_size=8,
        stem_chs=16,
        classes=5,
        input_shape=(32, 32, 3),
    )
    assert wrapper(model, recipe) is model
    assert model.adaptive_gradient_clipping.clipping == pytest.approx(recipe.agc_clipping)


def test_other_models_are_wrapped():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Dense(8)(inputs)))
    wrapped = train_steps.wrapper_for(get_recipe("nfnet_f1"))(model, get_recipe("nfnet_f1"))
    assert isinstance(wrapped, AGCModel) and wrapped.model is model
    assert wrapped.adaptive_gradient_clipping.clipping == pytest.approx(0.01)
