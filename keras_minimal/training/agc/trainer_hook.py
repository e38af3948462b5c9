"""Registers AGC as the train step that the Trainer uses for recipes with `agc_clipping`."""

from keras_minimal.training.agc.model import AdaptiveGradientClipping, AGCModel
from keras_minimal.training.train_steps import register_train_step


def with_adaptive_gradient_clipping(model, recipe):
    """The model the Trainer compiles: AGC at the recipe's λ, the classifier excluded."""
    if isinstance(model, AdaptiveGradientClipping):
        return model.enable_adaptive_gradient_clipping(clipping=recipe.agc_clipping)
    return AGCModel(model, clipping=recipe.agc_clipping)


register_train_step("agc", with_adaptive_gradient_clipping)
