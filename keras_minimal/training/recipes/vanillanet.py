"""VanillaNet-5 … 10: the official README's commands (8 GPUs × 128 = batch 1024, 300 epochs).

Unlisted flags take the official main.py defaults: 5 warmup epochs, min lr 1e-6, LAMB
ε 1e-8 (--opt_eps; create_optimizer passes it to timm's Lamb, whose own default is 1e-6),
cutmix 1.0 with switch probability 0.5, label smoothing 0.1 (inside the BCE
targets), random erasing 0.25, color jitter 0.4, bicubic, crop_pct 0.875.
VanillaNet-11 … 13 have no published training recipe.
"""

from keras_minimal.training.recipes.schema import Recipe

SOURCE = "huawei-noah/VanillaNet README.md training commands + main.py defaults"


def _vanillanet(model, learning_rate, weight_decay, mixup, layer_decay=None, layers=None):
    return Recipe(
        model=model,
        source=SOURCE,
        epochs=300,
        global_batch_size=1024,
        optimizer="lamb",
        optimizer_epsilon=1e-8,  # main.py --opt_eps default, passed to timm's Lamb (not 1e-6)
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        warmup_epochs=5,
        min_learning_rate=1e-6,
        layer_decay=layer_decay,
        layer_decay_num_layers=layers,
        loss="binary_cross_entropy",
        label_smoothing=0.1,
        mixup_alpha=mixup,
        cutmix_alpha=1.0,
        randaugment="rand-m7-mstd0.5-inc1",
        color_jitter=0.4,
        random_erasing=0.25,
        ema_decay=0.99996,
        model_kwargs={"drop_rate": 0.05},
        deep_training_epochs=100,
    )


RECIPES = {
    recipe.model: recipe
    for recipe in (
        _vanillanet("vanillanet_5", 3.5e-3, 0.35, 0.1),
        _vanillanet("vanillanet_6", 4.8e-3, 0.32, 0.15, layer_decay=0.8, layers=4),
        _vanillanet("vanillanet_7", 4.7e-3, 0.35, 0.4, layer_decay=0.8, layers=5),
        _vanillanet("vanillanet_8", 3.5e-3, 0.3, 0.4),
        _vanillanet("vanillanet_9", 3.5e-3, 0.3, 0.4),
        _vanillanet("vanillanet_10", 3.5e-3, 0.25, 0.4),
    )
}
