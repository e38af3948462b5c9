import keras
import pytest

import keras_minimal
from keras_minimal.training.recipes import RECIPES, evaluation_settings, get_recipe


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


def test_nfnet_recipes_are_the_papers():
    from keras_minimal.applications.nfnet.variants import VARIANTS

    assert sorted(n for n in RECIPES if n.startswith("nfnet")) == [f"nfnet_f{i}" for i in range(8)]
    for name, variant in VARIANTS.items():
        recipe = get_recipe(name)
        assert (recipe.train_image_size, recipe.eval_image_size) == (
            variant.train_image_size,
            variant.test_image_size,
        )
        assert recipe.model_kwargs == {"drop_rate": variant.drop_rate, "drop_path_rate": 0.25}
        assert (recipe.optimizer, recipe.momentum, recipe.nesterov) == ("sgd", 0.9, True)
        assert (recipe.epochs, recipe.warmup_epochs, recipe.weight_decay) == (360, 5, 2e-5)
        assert (recipe.label_smoothing, recipe.ema_decay, recipe.agc_clipping) == (
            0.1,
            0.99999,
            0.01,
        )
    assert get_recipe("nfnet_f3").scaled_learning_rate(4096) == pytest.approx(1.6)
    assert get_recipe("nfnet_f0").randaugment == "rand-m5-n4"


def test_nfnet_recipe_model_kwargs_build_the_model():
    import keras

    recipe = get_recipe("nfnet_f1")
    with keras.StatelessScope(initialize_variables=False):
        model = keras_minimal.create_model(recipe.model, **recipe.model_kwargs)
    assert model.get_layer("head_drop").rate == 0.3
    assert model.get_layer("stages_3_5_drop_path").rate == pytest.approx(0.25 * 23 / 24)


def test_evaluation_settings_follow_the_recipe_or_timms_defaults():
    assert evaluation_settings("nfnet_f0") == {
        "eval_image_size": 256,
        "crop_pct": 0.9,
        "crop_mode": "squash",  # timm's dm_nfnet_f0 pretrained config
        "interpolation": "bicubic",
    }
    assert evaluation_settings("pplcnet_x1_0")["interpolation"] == "bilinear"
    assert evaluation_settings("vanillanet_13") == {
        "eval_image_size": 224,
        "crop_pct": 0.875,
        "crop_mode": "center",
        "interpolation": "bicubic",
    }


def test_every_recipe_builds_its_augmentation():
    from keras_minimal.training.augment import Augmentation

    for name, recipe in RECIPES.items():
        augmentation = Augmentation.from_recipe(recipe, 10, "keras")
        assert bool(recipe.randaugment) == (
            augmentation.randaugment is not None or augmentation.autoaugment is not None
        ), name
