"""Per-family hooks, looked up by `model.family` by the weights and deploy tools."""

from keras_minimal.applications.backbone import BackboneModel
from keras_minimal.applications.convnext import checkpoint as convnext_checkpoint
from keras_minimal.applications.convnext import keras_applications as convnext_keras
from keras_minimal.applications.convnext.model import ConvNeXt
from keras_minimal.applications.convnext.variants import VARIANTS as CONVNEXT_VARIANTS
from keras_minimal.applications.nfnet import checkpoint as nfnet_checkpoint
from keras_minimal.applications.nfnet.model import NFNet
from keras_minimal.applications.nfnet.sources import WEIGHT_SOURCES as NFNET_SOURCES
from keras_minimal.applications.pplcnet import checkpoint as pplcnet_checkpoint
from keras_minimal.applications.pplcnet.model import PPLCNet
from keras_minimal.applications.pplcnet.sources import WEIGHTS_URLS as PPLCNET_URLS
from keras_minimal.applications.vanillanet import checkpoint as vanillanet_checkpoint
from keras_minimal.applications.vanillanet.model import VanillaNet
from keras_minimal.applications.vanillanet.variants import RELEASE_URL as VANILLANET_URL

# Generic builders, called with a model's builder_config to rebuild it in another form.
BUILDERS = {"vanillanet": VanillaNet, "convnext": ConvNeXt, "nfnet": NFNet, "pplcnet": PPLCNet}

# model → ReferenceLayout (keras_minimal.weights.reference).
REFERENCE_LAYOUTS = {
    "vanillanet": vanillanet_checkpoint.reference_layout,
    "convnext": convnext_checkpoint.reference_layout,
    "pplcnet": pplcnet_checkpoint.reference_layout,
    "nfnet": nfnet_checkpoint.reference_layout,
}

# model → ReferenceLayout of keras.applications' weights of the same architecture
# (keras_minimal.weights.load_keras_applications).
KERAS_APPLICATIONS_LAYOUTS = {"convnext": convnext_keras.reference_layout}

# family → {weights= name of a published checkpoint: variant → its URL (None: not released)}.
WEIGHTS_URLS = {
    "vanillanet": {"imagenet": lambda variant: VANILLANET_URL.format(name=variant)},
    "convnext": {"imagenet": lambda variant: CONVNEXT_VARIANTS[variant].imagenet_url},
    "pplcnet": PPLCNET_URLS,
    "nfnet": {name: source.url for name, source in NFNET_SOURCES.items()},
}

# family → {weights= name: the builder options those weights were trained with}, which the
# offline error names next to the local-file alternative.
WEIGHTS_OPTIONS = {
    "nfnet": {name: source.options for name, source in NFNET_SOURCES.items() if source.options},
}


def lost_record_hint(model):
    """For a model of ours without its architecture record, why and the copy that keeps it."""
    if not isinstance(model, BackboneModel) or model.architecture:
        return ""
    return (
        " This model has no architecture record, as after keras.models.clone_model, which "
        "does not carry it: copy a model with type(model).from_config(model.get_config()) "
        "and set_weights(model.get_weights()) instead."
    )


def require_family(model, tool, supported):
    """`model`'s family when `tool` supports it; otherwise one TypeError saying why."""
    family = getattr(model, "family", None)
    if family in supported:
        return family
    raise TypeError(
        f"{tool} needs a model built by keras_minimal.applications. Received: a "
        f"{type(model).__name__} of family {family!r}; supported: {sorted(supported)}."
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
    from keras_minimal.deploy.precision import dtype_policy_scope
    from keras_minimal.policies import computing_policy

    config = dict(model.builder_config, weights=None)
    config.update(overrides)
    with dtype_policy_scope(dtype_policy or computing_policy(model)):
        return BUILDERS[model.family](**config)
