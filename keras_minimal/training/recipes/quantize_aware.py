"""A recipe for a quantisation-aware fine-tune of a trained model."""

import dataclasses

# Fine-tuning with quantisation starts from trained weights: a tenth of the learning rate
# they were trained at, as in Jacob et al. 2018 and tfmot's QAT guide.
LEARNING_RATE_SCALE = 0.1


def quantize_aware_recipe(recipe, learning_rate_scale=LEARNING_RATE_SCALE):
    """`recipe` for fine-tuning a trained model with quantisation-aware training
    (keras_minimal.quantization.quantize_aware): the learning rates × `learning_rate_scale`,
    no warmup (the weights are trained already), no EMA of the weights (a short fine-tune
    would average in the weights from before it) and no VanillaNet λ schedule (the model
    is fused). Epochs, batch, augmentation and loss stay as `recipe` says; override them
    as usual (a few epochs are typical)."""
    if not 0.0 < learning_rate_scale <= 1.0:
        raise ValueError(
            "learning_rate_scale multiplies the recipe's learning rate for the fine-tune: "
            f"pass a value in (0, 1]. Received: learning_rate_scale={learning_rate_scale!r}"
        )
    return dataclasses.replace(
        recipe,
        learning_rate=recipe.learning_rate * learning_rate_scale,
        min_learning_rate=recipe.min_learning_rate * learning_rate_scale,
        warmup_epochs=0.0,
        ema_decay=None,
        deep_training_epochs=None,
    )
