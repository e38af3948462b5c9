"""A recipe → its optimizer: lr scaled by the global batch, warmup + cosine per step,
weight decay off for norms/biases/gains, layer-wise lr decay, EMA."""

import logging

from keras_minimal.training.optimizers.lamb import Lamb
from keras_minimal.training.optimizers.layer_decay import layer_lr_multipliers
from keras_minimal.training.optimizers.per_variable import SGD, AdamW
from keras_minimal.training.schedules import WarmupCosineDecay

OPTIMIZERS = ("lamb", "adamw", "sgd")
# Variable names (the last path component) that are never decayed whatever their rank:
# NFNet's WSConv gains are (1, 1, 1, out)-shaped in some layouts.
NO_DECAY_NAMES = ("bias", "gain", "gamma", "beta")
DEFAULT_LAMB_EPSILON = 1e-6  # timm.optim.Lamb's default
DEFAULT_ADAMW_EPSILON = 1e-8  # torch.optim.AdamW's default

logger = logging.getLogger(__name__)


def no_weight_decay(variable):
    """timm's rule (ndim ≤ 1 or a bias) plus gains: norms, biases, gains, layer scales."""
    return len(variable.shape) <= 1 or variable.path.split("/")[-1] in NO_DECAY_NAMES


def learning_rate_schedule(recipe, global_batch_size, steps_per_epoch, epochs=None):
    """Warmup then cosine decay over the run. A run shorter than the recipe's warmup warms up
    for the whole run (timm does the same), with one warning."""
    epochs = epochs or recipe.epochs
    if recipe.warmup_epochs > epochs:
        logger.warning(
            "The recipe warms up for %g epochs, longer than this %g-epoch run: the warmup is "
            "capped at the run's length, so the learning rate rises to its peak and does not "
            "decay (recipe override warmup_epochs=... for a shorter warmup).",
            recipe.warmup_epochs,
            epochs,
        )
    total = max(1, int(epochs * steps_per_epoch))
    warmup = min(total, int(round(recipe.warmup_epochs * steps_per_epoch)))
    return WarmupCosineDecay(
        peak=recipe.scaled_learning_rate(global_batch_size),
        total_steps=total,
        warmup_steps=warmup,
        minimum=recipe.min_learning_rate,
    )


def make_optimizer(recipe, model, global_batch_size, steps_per_epoch, epochs=None):
    """The recipe's optimizer for `model`, built on its trainable variables.

    Args:
        recipe: a Recipe.
        model: the model to train (its variables decide decay exclusions and layer ids).
        global_batch_size: the batch summed over replicas and hosts; the learning rate
            scales linearly from the recipe's global_batch_size.
        steps_per_epoch, epochs: the schedule's length (epochs defaults to the recipe's).
    """
    if recipe.optimizer not in OPTIMIZERS:
        raise ValueError(
            f"optimizer must be one of {OPTIMIZERS}. Received: optimizer={recipe.optimizer!r}"
        )
    schedule = learning_rate_schedule(recipe, global_batch_size, steps_per_epoch, epochs)
    multipliers = None
    if recipe.layer_decay is not None and recipe.layer_decay != 1.0:
        if not recipe.layer_decay_num_layers:
            raise ValueError("layer_decay needs layer_decay_num_layers in the recipe.")
        multipliers = layer_lr_multipliers(model, recipe.layer_decay, recipe.layer_decay_num_layers)
    common = dict(
        weight_decay=recipe.weight_decay,
        lr_multipliers=multipliers,
        use_ema=recipe.ema_decay is not None,
        ema_momentum=recipe.ema_decay if recipe.ema_decay is not None else 0.99,
    )
    epsilon = recipe.optimizer_epsilon
    if recipe.optimizer == "lamb":
        epsilon = DEFAULT_LAMB_EPSILON if epsilon is None else epsilon
        optimizer = Lamb(schedule, epsilon=epsilon, global_clipnorm=1.0, **common)
    elif recipe.optimizer == "adamw":
        epsilon = DEFAULT_ADAMW_EPSILON if epsilon is None else epsilon
        optimizer = AdamW(schedule, epsilon=epsilon, weight_decay_mode="decoupled", **common)
    else:
        optimizer = SGD(
            schedule,
            momentum=recipe.momentum,
            nesterov=recipe.nesterov,
            weight_decay_mode="l2",
            **common,
        )
    excluded = [v for v in model.trainable_variables if no_weight_decay(v)]
    optimizer.exclude_from_weight_decay(var_list=excluded)
    return optimizer
