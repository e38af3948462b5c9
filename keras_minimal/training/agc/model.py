"""Adaptive gradient clipping in model.fit: a Model mixin and a wrapper for any model.

The clipping sits in the model's train step, between the gradients and the optimizer,
so it composes with any optimizer (and its weight decay, EMA, schedules). The train
step itself is backend-specific; each backend's lives in its own module
(tensorflow_train_step.py, jax_train_step.py, torch_train_step.py).
"""

import numbers
from dataclasses import dataclass

import keras

from keras_minimal.policies import computing_policy
from keras_minimal.training.agc.clipping import ClipRule, clip_gradients, unit_axes

DEFAULT_EPSILON = 1e-3


@dataclass(frozen=True)
class AGCSettings:
    """λ, ε and the exclusions of adaptive gradient clipping (validated)."""

    clipping: float
    exclude: tuple | None = None  # None: the final classifier
    epsilon: float = DEFAULT_EPSILON

    def __post_init__(self):
        for name in ("clipping", "epsilon"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
                raise ValueError(
                    f"Adaptive gradient clipping needs {name} > 0 (the paper: clipping λ = "
                    "0.01 at batch 4096, ε = 1e-3); to train without clipping, do not "
                    f"enable it. Received: {name}={value!r}"
                )
        exclude = self.exclude
        if exclude is not None:
            if isinstance(exclude, str):
                exclude = (exclude,)
            exclude = tuple(exclude)
            if not all(isinstance(entry, str) and entry for entry in exclude):
                raise TypeError(
                    "exclude must be None (the final classifier), a variable/layer name or "
                    f"a sequence of them. Received: exclude={self.exclude!r}"
                )
            object.__setattr__(self, "exclude", exclude)
        object.__setattr__(self, "clipping", float(self.clipping))
        object.__setattr__(self, "epsilon", float(self.epsilon))

    def get_config(self):
        return {
            "clipping": self.clipping,
            "exclude": None if self.exclude is None else list(self.exclude),
            "epsilon": self.epsilon,
        }


def _owning_layers(model):
    """id(variable) → the innermost layer that owns it, for every layer inside `model`."""
    owners = {}

    def visit(layer):
        for variable in layer.weights:
            owners[id(variable)] = layer  # inner layers are visited later and win
        for sublayer in getattr(layer, "layers", None) or getattr(layer, "_layers", []):
            visit(sublayer)

    visit(model)
    return owners


def _matches(entry, path):
    """An exclusion entry matches a variable whose path contains it as whole path components
    ("predictions" or "predictions/kernel" match "predictions/kernel")."""
    return f"/{entry}/" in f"/{path}/"


def final_classifier(model):
    """The model's final classifier: its last layer with trainable weights, if a Dense."""
    layers = [layer for layer in _all_layers(model) if layer.trainable_weights]
    if layers and isinstance(layers[-1], keras.layers.Dense):
        return layers[-1]
    return None


def _all_layers(layer):
    found = []
    for sublayer in getattr(layer, "layers", None) or []:
        found.append(sublayer)
        found.extend(_all_layers(sublayer))
    return found


def clip_rules(model, settings):
    """One ClipRule per model.trainable_weights entry; ValueError on a dead exclusion."""
    variables = model.trainable_weights
    owners = _owning_layers(model)
    if settings.exclude is None:
        classifier = final_classifier(model)
        excluded_ids = {id(v) for v in classifier.trainable_weights} if classifier else set()
    else:
        excluded_ids = set()
        trainable_ids = {id(v) for v in variables}
        for entry in settings.exclude:
            matched = {id(v) for v in variables if _matches(entry, v.path)}
            # A layer by name, nested models included: a functional sub-model's variable
            # paths do not carry its name ("backbone" holds "stem_conv1/kernel").
            for layer in (layer for layer in _all_layers(model) if layer.name == entry):
                matched |= {id(v) for v in layer.trainable_weights if id(v) in trainable_ids}
            if not matched:
                examples = ", ".join(repr(v.path) for v in variables[-3:])
                raise ValueError(
                    f"The adaptive gradient clipping exclusion {entry!r} matches no trainable "
                    "variable of the model. An entry names a layer or a variable path (whole "
                    f"'/'-separated components), e.g. {examples}. Received: "
                    f"exclude={list(settings.exclude)}"
                )
            excluded_ids |= matched
    rules = []
    for variable in variables:
        if id(variable) in excluded_ids:
            rules.append(ClipRule(excluded=True))
        else:
            layer = owners.get(id(variable))
            rules.append(ClipRule(axes=unit_axes(variable.shape, layer, variable.name)))
    return rules


def current_loss_scale(optimizer):
    """The factor the train step multiplied the loss by (None when it does not scale)."""
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return optimizer.dynamic_scale if optimizer.built else optimizer.initial_scale
    return getattr(optimizer, "loss_scale_factor", None)


def _backend_train_step():
    backend = keras.backend.backend()
    if backend == "tensorflow":
        from keras_minimal.training.agc.tensorflow_train_step import train_step
    elif backend == "jax":
        from keras_minimal.training.agc.jax_train_step import train_step
    elif backend == "torch":
        from keras_minimal.training.agc.torch_train_step import train_step
    else:
        raise NotImplementedError(
            "Adaptive gradient clipping has train steps for the tensorflow, jax and torch "
            f"backends. Received: backend {backend!r}"
        )
    return train_step


class AdaptiveGradientClipping:
    """Mixin for keras.Model subclasses: once enabled, `fit` clips gradients adaptively.

        class MyNet(AdaptiveGradientClipping, keras.Model): ...
        model.enable_adaptive_gradient_clipping(clipping=0.01)  # before fit
        model.compile(optimizer=any_optimizer, loss=...)
        model.fit(...)

    Every trainable variable except the exclusions (default: the final classifier, as
    in the paper) has its gradient clipped unit-wise to λ·max(‖W_i‖, ε) before the
    optimizer sees it. Under mixed_float16 the clipping acts on the unscaled gradients.
    Works with jit_compile and with every optimizer. With gradient_accumulation_steps,
    each micro-batch's gradient is clipped; under a tf.distribute strategy, the
    global-batch gradient (summed over the replicas first).
    """

    _agc_settings = None
    _agc_rules_cache = None

    @property
    def adaptive_gradient_clipping(self):
        """The AGCSettings in force, or None."""
        return self._agc_settings

    def enable_adaptive_gradient_clipping(
        self, clipping=0.01, exclude=None, epsilon=DEFAULT_EPSILON
    ):
        """Clip gradients adaptively in `fit` (λ = clipping, ε = epsilon).

        Args:
            clipping: λ > 0; the paper uses 0.01 at batch sizes up to 4096.
            exclude: None (the final classifier: the last layer with trainable weights,
                if it is a Dense layer), or names of layers / variable paths
                ("predictions", "predictions/kernel") whose gradients stay unclipped.
                A name that matches no variable is an error.
            epsilon: ε > 0, lets zero-initialised parameters move.
        """
        settings = AGCSettings(clipping, exclude, epsilon)
        if self.trainable_weights:
            clip_rules(self, settings)  # reject dead exclusions now, not at fit time
        self._agc_settings = settings
        self._agc_rules_cache = None
        self.train_function = None  # the compiled step must be rebuilt
        return self

    def disable_adaptive_gradient_clipping(self):
        self._agc_settings = None
        self.train_function = None
        return self

    def clip_gradients_adaptively(self, gradients, parameters):
        """The clipped gradients (aligned with self.trainable_weights)."""
        key = tuple(id(v) for v in self.trainable_weights)
        if self._agc_rules_cache is None or self._agc_rules_cache[0] != key:
            self._agc_rules_cache = (key, clip_rules(self, self._agc_settings))
        settings = self._agc_settings
        return clip_gradients(
            gradients,
            parameters,
            self._agc_rules_cache[1],
            settings.clipping,
            settings.epsilon,
            current_loss_scale(self.optimizer),
        )

    def train_step(self, *args, **kwargs):
        if self._agc_settings is None:
            return super().train_step(*args, **kwargs)
        return _backend_train_step()(self, *args, **kwargs)

    def get_config(self):
        config = super().get_config()
        if self._agc_settings is not None:
            config["adaptive_gradient_clipping"] = self._agc_settings.get_config()
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        settings = config.pop("adaptive_gradient_clipping", None)
        model = super().from_config(config, custom_objects=custom_objects)
        if settings is not None:
            model.enable_adaptive_gradient_clipping(**settings)
        return model


@keras.saving.register_keras_serializable(package="keras_minimal")
class AGCModel(AdaptiveGradientClipping, keras.Model):
    """Wrap any Keras model so that `fit` applies adaptive gradient clipping.

        trainer = AGCModel(model, clipping=0.01)               # excludes the classifier
        trainer.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9), loss=...)
        trainer.fit(x, y)                                      # trains `model`'s weights

    Args:
        model: any built Keras model (functional, sequential or subclassed).
        clipping, exclude, epsilon: see AdaptiveGradientClipping.enable_adaptive_gradient_clipping.
    """

    def __init__(self, model, clipping=0.01, exclude=None, epsilon=DEFAULT_EPSILON, **kwargs):
        # The wrapper takes the model's dtype policy, so that compile() wraps the optimizer
        # in a LossScaleOptimizer for a mixed_float16 model as it would for the model.
        kwargs.setdefault("dtype", computing_policy(model))
        super().__init__(**kwargs)
        self.model = model
        # The wrapper owns no variables of its own: built as soon as the model is, so that
        # load_weights / count_params / summary work before the first fit (resuming).
        self.built = model.built
        self.enable_adaptive_gradient_clipping(clipping, exclude, epsilon)

    def call(self, inputs, training=None):
        return self.model(inputs, training=training)

    def get_config(self):
        settings = self._agc_settings
        return {
            "name": self.name,
            "model": keras.saving.serialize_keras_object(self.model),
            "adaptive_gradient_clipping": settings.get_config() if settings else None,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        model = keras.saving.deserialize_keras_object(
            config["model"], custom_objects=custom_objects
        )
        settings = config["adaptive_gradient_clipping"]
        wrapper = cls(model, **(settings or {}), name=config.get("name"))
        return wrapper if settings else wrapper.disable_adaptive_gradient_clipping()
