import keras
import pytest

import keras_minimal
from keras_minimal.training.recipes import RECIPES, get_recipe


def test_every_recipe_names_a_registered_model_and_is_consistent():
    registered = set(keras_minimal.list_models())
    for name, recipe in RECIPES.items():
        assert recipe.model == name and name in registered
        assert 0 <= recipe.warmup_epochs < recipe.epochs
        assert recipe.learning_rate > recipe.min_learning_rate >= 0
        assert recipe.optimizer in ("lamb", "adamw", "sgd")


def test_vanillanet_recipes_cover_the_published_variants():
    assert sorted(n for n in RECIPES if n.startswith("vanillanet")) == sorted(
        f"vanillanet_{d}" for d in range(5, 11)
    )
    recipe = get_recipe("vanillanet_6")
    assert (recipe.layer_decay, recipe.layer_decay_num_layers) == (0.8, 4)
    assert recipe.deep_training_epochs == 100 and recipe.epochs == 300
    assert recipe.scaled_learning_rate(512) == pytest.approx(4.8e-3 / 2)


def test_unknown_recipe_lists_the_choices():
    with pytest.raises(
        ValueError, match="No published training recipe for 'vanillanet_13'.*vanillanet_5"
    ):
        get_recipe("vanillanet_13")


def test_convnext_recipes_carry_the_papers_stochastic_depth():
    assert sorted(n for n in RECIPES if n.startswith("convnext")) == [
        "convnext_base",
        "convnext_large",
        "convnext_small",
        "convnext_tiny",
    ]
    rates = {n: RECIPES[n].model_kwargs["drop_path_rate"] for n in RECIPES if "convnext" in n}
    assert rates == {
        "convnext_tiny": 0.1,
        "convnext_small": 0.4,
        "convnext_base": 0.5,
        "convnext_large": 0.5,
    }
    recipe = get_recipe("convnext_tiny")
    assert (recipe.optimizer, recipe.weight_decay, recipe.warmup_epochs) == ("adamw", 0.05, 20)
    assert recipe.scaled_learning_rate(1024) == pytest.approx(1e-3)
    assert (recipe.mixup_alpha, recipe.cutmix_alpha, recipe.ema_decay) == (0.8, 1.0, 0.9999)
    with pytest.raises(ValueError, match="No published training recipe for 'convnext_xlarge'"):
        get_recipe("convnext_xlarge")


def test_recipe_model_kwargs_are_builder_arguments():
    for name in ("convnext_base", "pplcnet_x2_5"):
        recipe = get_recipe(name)
        with keras.StatelessScope(initialize_variables=False):
            model = keras_minimal.create_model(name, **recipe.model_kwargs)
        for key, value in recipe.model_kwargs.items():
            assert model.builder_config[key] == value


def test_pplcnet_recipes_follow_paddleclas():
    assert len([n for n in RECIPES if n.startswith("pplcnet")]) == 8
    decay = {n: RECIPES[n].weight_decay for n in RECIPES if n.startswith("pplcnet")}
    assert {n for n, d in decay.items() if d == 4e-5} == {
        "pplcnet_x1_5",
        "pplcnet_x2_0",
        "pplcnet_x2_5",
    }
    recipe = get_recipe("pplcnet_x1_0")
    assert (recipe.optimizer, recipe.momentum, recipe.epochs) == ("sgd", 0.9, 360)
    assert recipe.scaled_learning_rate(256) == pytest.approx(0.1)
    assert recipe.weight_decay == 3e-5 and recipe.label_smoothing == 0.1
