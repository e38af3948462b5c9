import dataclasses
import os

import keras
import numpy as np
import pytest

from keras_minimal.applications import VanillaNet
from keras_minimal.applications.vanillanet.variants import TEST_CONFIG
from keras_minimal.training import checkpointing, ema, train_steps
from keras_minimal.training.data import ArraySource
from keras_minimal.training.distribute import check_global_batch, resolve_distribution
from keras_minimal.training.recipes import (
    RECIPES,
    apply_overrides,
    get_recipe,
    resolve_recipe,
)
from keras_minimal.training.trainer import Trainer

RECIPE = apply_overrides(
    get_recipe("vanillanet_5"),
    "epochs=2,warmup_epochs=1,train_image_size=32,eval_image_size=32,randaugment=none",
)


def _source(n=24, classes=3):
    rng = np.random.default_rng(0)
    labels = np.arange(n) % classes
    images = np.clip(rng.normal(60 * labels[:, None, None, None] + 40, 20, (n, 32, 32, 3)), 0, 255)
    return ArraySource(images.astype("float32"), labels, num_classes=classes)


def _model(drop_rate=0.05):
    return VanillaNet(
        TEST_CONFIG["dims"],
        TEST_CONFIG["strides"],
        classes=3,
        input_shape=(32, 32, 3),
        classifier_activation=None,
        drop_rate=drop_rate,
        name="tiny",
    )


def _trainer(tmp_path, model=None, trainer_class=Trainer, **kwargs):
    options = dict(
        output_dir=str(tmp_path),
        global_batch_size=8,
        jit_compile=False,
        train_crop=False,
        tensorboard=False,
        verbose=0,
    )
    options.update(kwargs)
    return trainer_class(model or _model, options.pop("recipe", RECIPE), _source(), **options)


def test_trainer_runs_the_recipe_with_lambda_ema_and_checkpoints(tmp_path):
    trainer = _trainer(tmp_path, val_source=_source(12))
    history = trainer.fit()
    assert trainer.steps_per_epoch == 3
    # λ over max(1, round(100 · 2 / 300)) = 1 epoch: 0 in epoch 1, then 1.
    assert history["act_learn"] == [0.0, 1.0]
    assert set(history) >= {"loss", "accuracy", "val_loss", "val_accuracy", "val_ema_accuracy"}
    assert sorted(os.listdir(tmp_path / "checkpoints")) == [
        "ckpt-0000000003.npz",
        "ckpt-0000000006.npz",
    ]
    state = checkpointing.CheckpointManager.read_state(tmp_path / "checkpoints/ckpt-0000000006.npz")
    assert (state["epoch"], state["step_in_epoch"], state["act_learn"]) == (2, 0, 1.0)
    assert os.path.exists(tmp_path / "final_ema.weights.h5")
    # After fit the model holds its EMA weights (Keras' use_ema behaviour).
    raw = _model()
    raw.load_weights(tmp_path / "final.weights.h5")
    averaged = _model()
    averaged.load_weights(tmp_path / "final_ema.weights.h5")
    for a, b in zip(trainer.model.trainable_variables, averaged.trainable_variables, strict=True):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    assert not all(
        np.array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
        for a, b in zip(raw.trainable_variables, averaged.trainable_variables, strict=True)
    )
    # A finished run restarted does nothing.
    assert _trainer(tmp_path).fit() == {}


def test_a_registered_model_validates_at_the_recipes_larger_eval_size(tmp_path):
    recipe = apply_overrides(
        get_recipe("pplcnet_x0_25"),
        "epochs=1,warmup_epochs=0,train_image_size=32,eval_image_size=48,randaugment=none",
    )
    trainer = Trainer(
        "pplcnet_x0_25",
        recipe,
        _source(),
        val_source=_source(12),
        output_dir=str(tmp_path),
        global_batch_size=8,
        jit_compile=False,
        tensorboard=False,
        verbose=0,
    )
    assert tuple(trainer.model.input.shape) == (None, None, None, 3)
    assert next(iter(trainer.val_dataset()))[0].shape[1:3] == (48, 48)
    history = trainer.fit()
    assert len(history["val_accuracy"]) == 1


def test_ema_weights_context_restores_the_training_weights_exactly(tmp_path):
    trainer = _trainer(tmp_path)
    trainer.fit()
    model = trainer.model
    before = [keras.ops.convert_to_numpy(v) for v in model.trainable_variables]
    with ema.ema_weights(model):
        pass
    after = [keras.ops.convert_to_numpy(v) for v in model.trainable_variables]
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)


def test_resuming_into_a_different_model_or_batch_is_refused(tmp_path):
    _trainer(tmp_path).fit()

    def other_model():
        return VanillaNet(
            [8, 16, 32, 64],
            [2, 2, 2],
            classes=3,
            input_shape=(32, 32, 3),
            classifier_activation=None,
            name="other",
        )

    other = _trainer(tmp_path, other_model)
    with pytest.raises(ValueError, match="written for a different model.*same --model"):
        other.fit()
    with pytest.raises(ValueError, match="global_batch_size=8; this run uses global_batch_size=4"):
        _trainer(tmp_path, global_batch_size=4).fit()
    other_recipe = apply_overrides(RECIPE, "optimizer=adamw,learning_rate=1.0")
    with pytest.raises(
        ValueError,
        match="recipe learning_rate=0.0035, optimizer='lamb'; this run's recipe has "
        "learning_rate=1.0, optimizer='adamw'",
    ):
        _trainer(tmp_path, recipe=other_recipe).fit()


def test_checkpoints_are_written_atomically(tmp_path, monkeypatch):
    manager = checkpointing.CheckpointManager(str(tmp_path))
    (tmp_path / "ckpt-0000000099.npz.tmp-123").write_bytes(b"torn")  # a killed write
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(checkpointing.np, "savez", fail)
    with pytest.raises(OSError):
        manager.save(model, {"global_step": 5})
    assert manager.latest() is None
    monkeypatch.undo()
    path = manager.save(model, {"global_step": 5})
    assert manager.latest() == path and manager.read_state(path)["global_step"] == 5


def test_agc_recipe_needs_a_registered_train_step(tmp_path, monkeypatch):
    recipe = dataclasses.replace(RECIPE, agc_clipping=0.01)
    monkeypatch.setattr(train_steps, "_WRAPPERS", {})
    with pytest.raises(
        ValueError, match="agc_clipping=0.01.*'agc' train step.*register_train_step"
    ):
        _trainer(tmp_path, recipe=recipe)
    seen = {}

    def wrapper(model, recipe):
        seen["clipping"] = recipe.agc_clipping
        return model

    train_steps.register_train_step("agc", wrapper)
    _trainer(tmp_path, recipe=recipe)
    assert seen == {"clipping": 0.01}


def test_more_steps_per_epoch_than_the_data_holds_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"steps_per_epoch must lie in \[1, 3\]: 24 examples"):
        _trainer(tmp_path, steps_per_epoch=5)


def test_batch_not_divisible_by_replicas():
    with pytest.raises(ValueError, match="multiple of the number of replicas \\(2\\).*try 10"):
        check_global_batch(11, 2)
    with pytest.raises(ValueError, match="strategy must be one of"):
        resolve_distribution("horovod")


def test_recipe_names_and_overrides():
    with pytest.raises(ValueError, match="Unknown recipe 'resnet_50'.*vanillanet_5"):
        resolve_recipe("resnet_50", "vanillanet_5", RECIPES)
    with pytest.raises(ValueError, match="model 'vanillanet_13' has no published recipe"):
        resolve_recipe("paper", "vanillanet_13", RECIPES)
    with pytest.raises(ValueError, match="Unknown recipe field.*'lr'"):
        resolve_recipe("paper,lr=1", "vanillanet_5", RECIPES)
    recipe = resolve_recipe(
        "learning_rate=1e-3,epochs=30,randaugment=none", "vanillanet_5", RECIPES
    )
    assert (recipe.learning_rate, recipe.epochs, recipe.randaugment) == (1e-3, 30, None)
    assert recipe.deep_training_epochs == 10  # λ keeps its third of the run
    custom = resolve_recipe('vanillanet_6,model_kwargs={"drop_rate": 0.1}', "x", RECIPES)
    assert custom.model_kwargs == {"drop_rate": 0.1} and custom.layer_decay == 0.8


def test_overrides_of_optional_fields_are_numbers():
    recipe = resolve_recipe(
        "ema_decay=0.999,layer_decay=0.7,deep_training_epochs=7,agc_clipping=none",
        "vanillanet_5",
        RECIPES,
    )
    assert (recipe.ema_decay, recipe.layer_decay) == (0.999, 0.7)
    assert recipe.deep_training_epochs == 7 and isinstance(recipe.deep_training_epochs, int)
    assert recipe.agc_clipping is None
    with pytest.raises(ValueError, match="ema_decay takes a number or none.*'fast'"):
        resolve_recipe("ema_decay=fast", "vanillanet_5", RECIPES)
    with pytest.raises(ValueError, match="epochs takes an integer. Received: epochs='1.5'"):
        resolve_recipe("epochs=1.5", "vanillanet_5", RECIPES)


def test_mixed_float16_trains_with_loss_scaling_and_keeps_the_ema(tmp_path):
    trainer = _trainer(
        tmp_path, mixed_precision="mixed_float16", recipe=dataclasses.replace(RECIPE, epochs=1)
    )
    assert isinstance(trainer.model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert trainer.model.get_layer("stem1_conv").compute_dtype == "float16"
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored
    history = trainer.fit()
    assert np.isfinite(history["loss"]).all()
    assert os.path.exists(tmp_path / "final_ema.weights.h5")


def test_precision_and_jit_defaults_on_cpu(tmp_path):
    trainer = _trainer(tmp_path, mixed_precision="auto", jit_compile="auto")
    assert trainer.precision == "float32"  # bf16 only on GPU
    assert trainer.jit_compile is (keras.backend.backend() == "jax")
    with pytest.raises(ValueError, match="mixed_precision must be one of"):
        _trainer(tmp_path, mixed_precision="fp8")


def test_a_callable_model_with_another_class_count_is_refused_before_training(tmp_path):
    # tools/train.py --model_config builds the model as the JSON says: without "classes" the
    # head has 1000 outputs, and the loss failed on the first batch with a shape error.
    def thousand_classes():
        return VanillaNet(
            TEST_CONFIG["dims"],
            TEST_CONFIG["strides"],
            input_shape=(32, 32, 3),
            classifier_activation=None,
        )

    with pytest.raises(ValueError, match=r"outputs 1000 classes but the data has 3: .*classes=3"):
        _trainer(tmp_path, thousand_classes)
    assert not os.path.exists(tmp_path / "checkpoints")


def test_final_weights_of_an_agc_wrapped_model_load_into_the_bare_model(tmp_path):
    """A recipe with agc_clipping wraps a model without the AGC mixin in AGCModel; the final
    weight files are the network's (they were the wrapper's: weights= and evaluate.py
    could not load them into the bare model)."""
    import keras_minimal.training.agc  # noqa: F401  (registers the 'agc' train step)
    from keras_minimal.training import AGCModel

    recipe = dataclasses.replace(RECIPE, agc_clipping=0.01, epochs=1, warmup_epochs=0)
    trainer = _trainer(tmp_path, recipe=recipe)
    assert isinstance(trainer.model, AGCModel)
    trainer.fit()
    for name in ("final.weights.h5", "final_ema.weights.h5"):
        bare = _model()
        bare.load_weights(tmp_path / name)
    with ema.ema_weights(trainer.model):  # the EMA of the weights and BatchNorm statistics
        for a, b in zip(trainer.network.weights, bare.weights, strict=True):
            np.testing.assert_array_equal(
                keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b)
            )


class _Killed(Exception):
    """Stands for a kill: raised after the given number of train steps."""


class _KillAfter(keras.callbacks.Callback):
    def __init__(self, steps):
        super().__init__()
        self.steps = steps

    def on_train_batch_end(self, batch, logs=None):
        self.steps -= 1
        if self.steps == 0:
            raise _Killed


class _KilledTrainer(Trainer):
    def callbacks(self, *args, **kwargs):
        return [*super().callbacks(*args, **kwargs), _KillAfter(5)]


def uninterrupted_and_resumed(tmp_path, **options):
    """Two finished trainers of the same run: one uninterrupted, one killed after step 5 and
    rerun (it resumes from its last checkpoint)."""
    reference = _trainer(tmp_path / "reference", **options)
    reference.fit()
    with pytest.raises(_Killed):
        _trainer(tmp_path / "resumed", trainer_class=_KilledTrainer, **options).fit()
    resumed = _trainer(tmp_path / "resumed", **options)
    resumed.fit()
    return reference, resumed


def _ema_of_every_variable(trainer):
    with ema.ema_weights(trainer.model):
        return [keras.ops.convert_to_numpy(v) for v in trainer.model.variables]


@pytest.mark.multibackend
def test_a_resumed_run_continues_the_ema_of_the_batchnorm_statistics_exactly(tmp_path):
    """Killed after step 5 (checkpoints at steps 2, 3, 4), resumed from step 4: the EMA of
    the weights and of the BatchNorm statistics equal an uninterrupted run's bit for bit."""
    options = dict(
        model=lambda: _model(drop_rate=0.0),  # torch's dropout draws from torch's global RNG
        checkpoint_every_steps=2,
        recipe=dataclasses.replace(RECIPE, ema_decay=0.5),
    )
    reference, resumed = uninterrupted_and_resumed(tmp_path, **options)
    for actual, expected in zip(
        _ema_of_every_variable(resumed), _ema_of_every_variable(reference), strict=True
    ):
        np.testing.assert_array_equal(actual, expected)
    # The BatchNorm statistics are averaged: after fit the model holds their EMA (as Keras
    # leaves the EMA weights), which is not the trained values of final.weights.h5.
    statistics = ema.statistic_ema_values(resumed.model)
    moving = [v for v in resumed.model.non_trainable_variables if "/moving_" in v.path]
    assert [v.path for v, _ in statistics] == [v.path for v in moving] and moving
    for variable, average in statistics:
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(variable), average)
    trained = _model(drop_rate=0.0)
    trained.load_weights(tmp_path / "resumed" / "final.weights.h5")
    raw = {v.path: keras.ops.convert_to_numpy(v) for v in trained.non_trainable_variables}
    assert not all(np.array_equal(raw[v.path], average) for v, average in statistics)


def test_a_single_class_source_is_refused_before_anything_is_built(tmp_path):
    one_class = ArraySource(np.zeros((8, 32, 32, 3), "float32"), np.zeros(8, "int64"))
    with pytest.raises(ValueError, match="at least two classes.*Received: num_classes=1"):
        Trainer(_model, RECIPE, one_class, output_dir=str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()
