"""The trainer: a recipe + a data source → a compiled model trained with model.fit.

No training loop of its own: it builds the pieces (model in the distribution scope,
recipe optimizer, loss, metrics, callbacks, resumable input pipeline) and calls
`model.fit`. Users who run their own `fit` use the same pieces directly
(keras_minimal.training.{data, augment, optimizers, losses, ema, checkpointing}).
"""

import dataclasses
import json
import logging
import os

import keras

from keras_minimal.applications import create_model
from keras_minimal.layers.deep_training_activation import deep_training_layers
from keras_minimal.training import artefacts, checkpointing, ema, train_steps
from keras_minimal.training.agc.model import AGCModel
from keras_minimal.training.augment import Augmentation
from keras_minimal.training.data import make_dataset
from keras_minimal.training.data.failures import DEFAULT_MAX_FRACTION, LoadFailures
from keras_minimal.training.data.pipeline import steps_per_epoch_for
from keras_minimal.training.deep_training import DeepTrainingScheduler
from keras_minimal.training.distribute import Distribution, resolve_distribution
from keras_minimal.training.evaluation import outputs_logits
from keras_minimal.training.load_gates import LoadGates
from keras_minimal.training.load_report import LoadFailureReport
from keras_minimal.training.losses import make_loss
from keras_minimal.training.optimizers import make_optimizer

PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
logger = logging.getLogger(__name__)


def _has_gpu():
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def resolve_precision(mixed_precision):
    if mixed_precision not in PRECISIONS:
        raise ValueError(
            f"mixed_precision must be one of {PRECISIONS}. Received: {mixed_precision!r}"
        )
    if mixed_precision == "auto":
        return "mixed_bfloat16" if _has_gpu() else "float32"
    return mixed_precision


def resolve_jit(jit_compile, distribution):
    """True/False; "auto": XLA on a single GPU (on CPU TensorFlow's oneDNN kernels win)."""
    if jit_compile not in (True, False, "auto"):
        raise ValueError(f"jit_compile must be True, False or 'auto'. Received: {jit_compile!r}")
    if not distribution.supports_jit:
        if jit_compile is True:
            logger.warning("jit_compile=True ignored: XLA is disabled under %s.", distribution.name)
        return False
    if jit_compile == "auto":
        return keras.backend.backend() == "jax" or _has_gpu()
    return jit_compile


def scaled_deep_training_epochs(recipe, epochs):
    """The recipe's λ schedule length, scaled when the run is shorter or longer than the
    recipe (100 of 300 epochs → a third of the run)."""
    if recipe.deep_training_epochs is None:
        return None
    if epochs == recipe.epochs:
        return recipe.deep_training_epochs
    return max(1, round(recipe.deep_training_epochs * epochs / recipe.epochs))


class Trainer:
    """Train `model` with `recipe` on `train_source`, resumable from `output_dir`.

    Args:
        model: a registry name ("vanillanet_5": built with the recipe's model_kwargs,
            logits output, train_image_size input) or a callable returning a model
            (called inside the distribution scope).
        recipe: a Recipe (keras_minimal.training.recipes).
        train_source, val_source: RecordSources (keras_minimal.training.data).
        global_batch_size: summed over replicas and hosts (default: the recipe's); the
            learning rate scales linearly with it.
        epochs: default the recipe's.
        output_dir: checkpoints, TensorBoard logs and the final artefacts (artefacts.py:
            final.weights.h5, final_ema.weights.h5, final.keras, final.json). A run
            restarted with the same arguments resumes from the last checkpoint in it; a
            finished one checks its final files and writes again any that are missing or
            torn. Every file is written atomically; a full disk raises DiskFullError.
        distribution: a Distribution or a strategy name ("none", "mirrored",
            "data_parallel", "auto").
        mixed_precision: "auto" (bf16 on GPU, fp32 on CPU), "float32", "mixed_bfloat16",
            "mixed_float16" (Keras wraps the optimizer in a LossScaleOptimizer).
        jit_compile: True / False / "auto" (XLA on GPU or JAX; off under tf.distribute).
        checkpoint_every_steps: also checkpoint every K global steps within epochs.
        train_step_wrapper: `f(model, recipe) -> model` overriding the registered wrapper
            for recipe fields such as agc_clipping (see train_steps.py).
        steps_per_epoch: default: examples // global batch.
        deterministic: keep the input order fixed (exact resume); False is faster.
        train_crop: Inception crop (True) or take the decoded images as they are.
        hflip: horizontal flip probability.
        max_bad_fraction: examples that fail to load (corrupt files, records in another
            format) are replaced by another example of their batch and reported at the end
            of each epoch; the run stops with UnreadableDataError as soon as more than this
            fraction of an epoch's examples (or of the validation data) failed.
    """

    def __init__(
        self,
        model,
        recipe,
        train_source,
        *,
        output_dir,
        val_source=None,
        global_batch_size=None,
        epochs=None,
        distribution="none",
        mixed_precision="auto",
        jit_compile="auto",
        seed=0,
        checkpoint_every_steps=None,
        model_kwargs=None,
        train_step_wrapper=None,
        randaugment_backend=None,
        deterministic=True,
        steps_per_epoch=None,
        num_classes=None,
        train_crop=True,
        hflip=0.5,
        tensorboard=True,
        verbose="auto",
        max_bad_fraction=DEFAULT_MAX_FRACTION,
    ):
        train_source.check_trainable()  # before anything is built or written
        self.recipe = recipe
        self.train_source, self.val_source = train_source, val_source
        self.output_dir = output_dir
        self.epochs = int(epochs or recipe.epochs)
        self.global_batch_size = int(global_batch_size or recipe.global_batch_size)
        self.seed = int(seed)
        self.checkpoint_every_steps = checkpoint_every_steps
        self.deterministic = deterministic
        self.train_crop, self.hflip = train_crop, hflip
        self.tensorboard, self.verbose = tensorboard, verbose
        if not isinstance(distribution, Distribution):
            distribution = resolve_distribution(distribution)
        self.distribution = distribution
        self.per_host_batch = distribution.per_host_batch(self.global_batch_size)
        self.num_classes = num_classes or train_source.num_classes
        if self.num_classes is None:
            raise ValueError("The data source does not know its classes: pass num_classes=.")
        self.steps_per_epoch = steps_per_epoch_for(
            train_source.num_examples, self.global_batch_size, steps_per_epoch
        )
        self.precision = resolve_precision(mixed_precision)
        self.jit_compile = resolve_jit(jit_compile, distribution)
        self.augmentation = Augmentation.from_recipe(recipe, self.num_classes, randaugment_backend)
        self.train_failures = LoadFailures(train_source, max_bad_fraction)
        self.val_failures = LoadFailures(val_source, max_bad_fraction) if val_source else None
        wrapper = train_step_wrapper or train_steps.wrapper_for(recipe)
        previous_policy = keras.config.dtype_policy()
        keras.config.set_dtype_policy(self.precision)
        # Same initial weights and dropout seeds on every host and every restart.
        keras.utils.set_random_seed(self.seed)
        try:
            with distribution.scope():
                self.model = self._build_model(model, model_kwargs or {})
                if wrapper is not None:
                    self.model = wrapper(self.model, recipe)
                self._compile()
        finally:
            keras.config.set_dtype_policy(previous_policy)  # the layers keep theirs
        self.manager = checkpointing.CheckpointManager(os.path.join(output_dir, "checkpoints"))
        self.artefacts = artefacts.FinalArtefacts(output_dir)

    def _build_model(self, model, model_kwargs):
        if callable(model):
            return self._check_classes(model())
        train_size, eval_size = self.recipe.train_image_size, self.recipe.eval_image_size
        kwargs = dict(self.recipe.model_kwargs)
        kwargs.update(model_kwargs)
        # NFNets train at one size and are evaluated at a larger one: the model must take both.
        side = train_size if train_size == eval_size else None
        kwargs.setdefault("input_shape", (side, side, 3))
        return create_model(model, classes=self.num_classes, classifier_activation=None, **kwargs)

    def _check_classes(self, model):
        """A model built by the caller (tools/train.py's --model_config) must output one score
        per class of the data; otherwise the loss fails on the first batch with a shape error."""
        if len(model.outputs) != 1 or len(model.outputs[0].shape) != 2:
            raise ValueError(
                "The model must output one (batch, classes) tensor of class scores. "
                f"Received: outputs of shapes {[tuple(o.shape) for o in model.outputs]}"
            )
        width = model.outputs[0].shape[-1]
        if width != self.num_classes:
            raise ValueError(
                f"The model outputs {width} classes but the data has {self.num_classes}: "
                f"build it with classes={self.num_classes} (a --model_config JSON: "
                f'"classes": {self.num_classes} in "config"), or pass num_classes= if the data '
                f"uses only some of the model's classes. Received: model output shape "
                f"{tuple(model.outputs[0].shape)}"
            )
        return model

    def _compile(self):
        from_logits = outputs_logits(self.model)
        if not from_logits and self.recipe.loss == "binary_cross_entropy":
            raise ValueError(
                "binary_cross_entropy needs a model that outputs logits: build it with "
                "classifier_activation=None."
            )
        metrics = [keras.metrics.CategoricalAccuracy(name="accuracy")]
        if self.num_classes > 5:
            metrics.append(keras.metrics.TopKCategoricalAccuracy(5, name="top5"))
        optimizer = make_optimizer(
            self.recipe, self.model, self.global_batch_size, self.steps_per_epoch, self.epochs
        )
        self.model.compile(
            optimizer=optimizer,
            loss=make_loss(self.recipe.loss, from_logits=from_logits),
            metrics=metrics,
            jit_compile=self.jit_compile,
        )
        # Build the optimizer's slots (and EMA) now so that a checkpoint can be restored.
        self.model.optimizer.build(self.model.trainable_variables)
        # The EMA of the BatchNorm statistics is optimizer variables too (timm averages them).
        self._statistics_ema = None
        if ema.ema_optimizer(self.model.optimizer) is not None:
            self._statistics_ema = ema.track_statistics(self.model)

    # -- data ----------------------------------------------------------------------------
    def _pipeline_options(self):
        recipe = self.recipe
        return dict(
            batch_size=self.per_host_batch,
            interpolation=recipe.interpolation,
            seed=self.seed,
            num_hosts=self.distribution.num_hosts,
            host_index=self.distribution.host_index,
            deterministic=self.deterministic,
            num_classes=self.num_classes,
        )

    def train_dataset(self, start_step, epochs=None):
        return make_dataset(
            self.train_source,
            training=True,
            image_size=self.recipe.train_image_size,
            augmentation=self.augmentation,
            start_step=start_step,
            steps_per_epoch=self.steps_per_epoch,
            epochs=epochs,
            train_crop=self.train_crop,
            hflip=self.hflip,
            failures=self.train_failures,
            **self._pipeline_options(),
        )

    def val_dataset(self):
        if self.val_source is None:
            return None
        return make_dataset(
            self.val_source,
            training=False,
            image_size=self.recipe.eval_image_size,
            crop_pct=self.recipe.crop_pct,
            crop_mode=self.recipe.crop_mode,
            augmentation=self.augmentation,
            failures=self.val_failures,
            **self._pipeline_options(),
        )

    def validation_steps(self):
        """Batches in this host's share of the validation data (None if unknown)."""
        count = getattr(self.val_source, "num_examples", None)
        if not count:
            return None
        hosts, host = self.distribution.num_hosts, self.distribution.host_index
        return -(-len(range(host, count, hosts)) // self.per_host_batch)

    # -- state ---------------------------------------------------------------------------
    def _run_settings(self):
        return {
            "global_batch_size": self.global_batch_size,
            "steps_per_epoch": self.steps_per_epoch,
            "seed": self.seed,
            "epochs": self.epochs,
            # The optimizer's slots, the schedule and the augmentation all follow the recipe.
            "recipe": json.loads(json.dumps(dataclasses.asdict(self.recipe), default=dict)),
        }

    def _state(self, global_step):
        state = dict(self._run_settings())
        state.update(
            global_step=int(global_step),
            epoch=int(global_step // self.steps_per_epoch),
            step_in_epoch=int(global_step % self.steps_per_epoch),
            model=self.model.name,
        )
        if deep_training_layers(self.model):
            state["act_learn"] = self.network.act_learn
        return state

    def restore(self):
        """Load the latest checkpoint of output_dir, if any; returns the global step."""
        path = self.manager.latest()
        if path is None:
            return 0
        state = self.manager.restore(self.model, path, expect=self._run_settings())
        step = int(state["global_step"])
        if step < self.epochs * self.steps_per_epoch:
            logger.warning(
                "Resumed from %s: epoch %d, step %d of %d.",
                path,
                state["epoch"] + 1,
                state["step_in_epoch"],
                self.steps_per_epoch,
            )
        return step

    # -- fit -----------------------------------------------------------------------------
    def callbacks(self, start_step, val_data):
        # First: the checkpoints and the EMA evaluation then include each step's update.
        callbacks = [self._statistics_ema] if self._statistics_ema is not None else []
        callbacks.append(LoadFailureReport(self.train_failures, self.val_failures))
        callbacks.append(LoadGates(self.train_failures, self.val_failures))
        decay_epochs = scaled_deep_training_epochs(self.recipe, self.epochs)
        if decay_epochs and deep_training_layers(self.model):
            callbacks.append(DeepTrainingScheduler(decay_epochs))
        if val_data is not None and ema.ema_optimizer(self.model.optimizer) is not None:
            callbacks.append(ema.EMAEvaluation(val_data, steps=self.validation_steps()))
        callbacks.append(
            checkpointing.CheckpointCallback(
                self.manager,
                self.steps_per_epoch,
                self._state,
                every_steps=self.checkpoint_every_steps,
                start_step=start_step,
            )
        )
        if self.tensorboard and _tensorboard_installed():
            callbacks.append(
                keras.callbacks.TensorBoard(
                    os.path.join(self.output_dir, "logs"), write_graph=False
                )
            )
        return callbacks

    def fit(self):
        """Train to `epochs` (resuming if output_dir has a checkpoint); returns the history
        of this invocation as a dict of lists."""
        self.manager.remove_leftovers()
        self.artefacts.remove_leftovers()
        start_step = self.restore()
        total_steps = self.epochs * self.steps_per_epoch
        history = {}
        if start_step >= total_steps:
            problems = self.artefacts.problems(start_step)
            if not problems:
                logger.warning(
                    "Training already finished (%d steps) and its final files are in %s: "
                    "nothing to do.",
                    start_step,
                    self.output_dir,
                )
                return history
            logger.warning(
                "Training already finished (%d steps), but %s: writing the final files again "
                "from the last checkpoint.",
                start_step,
                "; ".join(problems),
            )
            self.save_final(start_step)
            return history
        val_data = self.val_dataset()
        callbacks = self.callbacks(start_step, val_data)
        ema_optimizer = ema.ema_optimizer(self.model.optimizer)
        if ema_optimizer is not None:
            ema_optimizer.finalize_with_ema = False  # done once, in save_final
        epoch, step_in_epoch = divmod(start_step, self.steps_per_epoch)
        validation_steps = self.validation_steps() if val_data is not None else None

        def fit_epochs(dataset, initial_epoch, epochs, steps_per_epoch):
            try:
                result = self.model.fit(
                    dataset,
                    initial_epoch=initial_epoch,
                    epochs=epochs,
                    steps_per_epoch=steps_per_epoch,
                    validation_data=val_data,
                    validation_steps=validation_steps,
                    callbacks=callbacks,
                    shuffle=False,  # the pipeline shuffles, seeded per epoch
                    verbose=self.verbose,
                )
            except Exception:
                stopped = self._stopped_on_data()
                if stopped is None:
                    raise
            else:
                _merge(history, result.history)
                return
            # Raised here, not in the handler: the op error's traceback holds the pipeline's
            # iterator, which must be freed now, while its pipeline is closed.
            raise stopped.with_traceback(None) from None

        if step_in_epoch:
            # Finish the interrupted epoch: only its remaining steps, then the rest.
            fit_epochs(
                self.train_dataset(start_step, epochs=epoch + 1),
                epoch,
                epoch + 1,
                self.steps_per_epoch - step_in_epoch,
            )
            epoch += 1
        if epoch < self.epochs:
            fit_epochs(
                self.train_dataset(epoch * self.steps_per_epoch),
                epoch,
                self.epochs,
                self.steps_per_epoch,
            )
        self.save_final(total_steps)
        return history

    def _stopped_on_data(self):
        """The clear error of an input pipeline that stopped on unreadable data (it raised it
        inside TensorFlow, which wraps it in an op error), with the run's pipelines closed;
        None when no pipeline stopped."""
        pipelines = [f for f in (self.train_failures, self.val_failures) if f is not None]
        stopped = next((f.error for f in pipelines if f.error is not None), None)
        if stopped is not None:
            for failures in pipelines:
                failures.close()
        return stopped

    @property
    def network(self):
        """The trained network: the model, or the one a train-step wrapper (AGCModel) holds,
        so that the final weight files load into the bare model (weights=, evaluate.py)."""
        return self.model.model if isinstance(self.model, AGCModel) else self.model

    def save_final(self, global_step):
        """Write the final artefacts (artefacts.py: the trained and EMA weights, a .keras
        model, then the manifest), each whole or not at all. Every host serialises them (it
        can be collective under multi-process JAX); host 0 writes. The model then holds its
        EMA weights, as after Keras' own fit with use_ema=True."""
        network = self.network
        files = {artefacts.WEIGHTS: artefacts.weights_bytes(network)}
        values = ema.ema_values(self.model)
        if values is not None:
            with ema.ema_weights(self.model):
                files[artefacts.EMA_WEIGHTS] = artefacts.weights_bytes(network)
        files[artefacts.MODEL] = artefacts.model_bytes(network)
        if self.distribution.host_index == 0:
            self.artefacts.write(files, global_step)
        if values is not None:
            ema.assign_ema_weights(self.model)


def _tensorboard_installed():
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        logger.warning("TensorBoard logs skipped: pip install 'keras-minimal[training]'.")
        return False
    return True


def _merge(history, new):
    for key, values in new.items():
        history.setdefault(key, []).extend(values)
