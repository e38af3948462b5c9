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
