"""The model families as weights/ and deploy/ see them, without importing applications.

keras_minimal/applications/families.py registers one `Family` per architecture family: its
generic builder, its checkpoint layouts (name maps) and its published weights, all of which
live in the family's own folder. weights/ (load_reference, weights=, keras.applications
files) and deploy/ (to_deploy, export, dtype policies) look them up here, so imports go one
way: applications → weights / deploy → model_families.
"""

import dataclasses
from collections.abc import Callable, Mapping

from keras_minimal.policies import computing_policy, dtype_policy_scope


@dataclasses.dataclass(frozen=True)
class Family:
    """What the rest of the library needs to know about one model family.

    Attributes:
        name: the family name models carry (`model.family`).
        builder: the generic builder, called with a model's `builder_config` to rebuild it.
        model_class: the Model subclass its builders return.
        reference_layout: model → ReferenceLayout of its reference checkpoints.
        weights_urls: weights= name of a published checkpoint → (variant → URL, or None
            where that release has no such variant).
        weights_options: weights= name → the builder options those weights were trained
            with (named in the offline error next to the local-file alternative).
        keras_applications_layout: model → ReferenceLayout of the keras.applications
            model of the same architecture, where there is one.
    """

    name: str
    builder: Callable
    model_class: type
    reference_layout: Callable
    weights_urls: Mapping
    weights_options: Mapping = dataclasses.field(default_factory=dict)
    keras_applications_layout: Callable | None = None


_FAMILIES = {}


def register_family(family):
    if family.name in _FAMILIES:
        raise ValueError(f"A model family named {family.name!r} is already registered.")
    _FAMILIES[family.name] = family
    return family


def registered_families():
    """{name: Family} of every registered family."""
    return dict(_FAMILIES)


def is_ours(model):
    """Whether `model` was built by a registered family's builder (and knows its family)."""
    return getattr(model, "family", None) in _FAMILIES


def lost_record_hint(model):
    """For a model of ours without its architecture record, why and the copy that keeps it."""
    classes = tuple(family.model_class for family in _FAMILIES.values())
    if not isinstance(model, classes) or model.architecture:
        return ""
    return (
        " This model has no architecture record, as after keras.models.clone_model, which "
        "does not carry it: copy a model with type(model).from_config(model.get_config()) "
        "and set_weights(model.get_weights()) instead."
    )


def require_family(model, tool, supported=None):
    """`model`'s Family when `tool` supports it (`supported`: family names, default all);
    otherwise one TypeError saying why."""
    supported = sorted(_FAMILIES if supported is None else supported)
    name = getattr(model, "family", None)
    if name in supported and name in _FAMILIES:
        return _FAMILIES[name]
    raise TypeError(
        f"{tool} needs a model built by keras_minimal.applications. Received: a "
        f"{type(model).__name__} of family {name!r}; supported: {supported}."
        + lost_record_hint(model)
    )


def rebuild(model, dtype_policy=None, **overrides):
    """A fresh model of the same family built from `model`'s arguments, with overrides.

    It computes in `dtype_policy`, by default `model`'s own, whatever the global policy
    is when this runs (a float32 model rebuilt while a script has set mixed_float16
    stays float32).
    """
    upstream = model.architecture.get("input_tensor_layers")
    if upstream:
        raise ValueError(
            f"{model.name!r} was built on an input_tensor computed by other layers "
            f"({', '.join(upstream)}); only the backbone can be rebuilt (deploy graph, export, "
            "another dtype policy). Build the backbone with input_shape=... and call it on "
            "your layers' output instead: backbone(your_layers(inputs))."
        )
    return rebuild_backbone(model, dtype_policy, **overrides)


def rebuild_backbone(model, dtype_policy=None, **overrides):
    """`rebuild` without the layers of an input_tensor (named in
    `model.architecture["input_tensor_layers"]`): enough to compute weights for `model`."""
    config = dict(model.builder_config, weights=None)
    config.update(overrides)
    with dtype_policy_scope(dtype_policy or computing_policy(model)):
        return _FAMILIES[model.family].builder(**config)
