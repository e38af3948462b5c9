"""keras.applications' weights (a Keras file or model) into our model of the same architecture.

Which families have such a layout, and its name map, live with the family
(its `keras_applications_layout` in keras_minimal.model_families; ConvNeXt:
applications/convnext/keras_applications.py). Loading is `load_reference`'s: all or nothing,
with one error listing every missing, unexpected or mis-shaped tensor.
"""

from keras_minimal import model_families
from keras_minimal.weights.keras_files import read_keras_file, read_keras_source
from keras_minimal.weights.reference import plan_assignments


def _layouts():
    """{family name: model → ReferenceLayout} of the families that have such a layout."""
    return {
        name: family.keras_applications_layout
        for name, family in model_families.registered_families().items()
        if family.keras_applications_layout is not None
    }


def _layout_for(model):
    layouts = _layouts()
    family = model_families.require_family(model, "load_keras_applications", layouts)
    return layouts[family.name](model)


def holds_keras_applications_weights(model, path):
    """Whether the Keras file at `path` holds keras.applications weights that `model`'s
    family reads (judged by the names; no array is read)."""
    factory = _layouts().get(getattr(model, "family", None))
    if factory is None:
        return False
    layout = factory(model)
    names = layout.translate(read_keras_file(path, names_only=True))
    return not set(names).isdisjoint(layout.targets)


def load_keras_applications(model, source, allow_nonfinite=False):
    """Load a keras.applications model's weights into `model`, a model of ours of the same
    architecture (ConvNeXtTiny … ConvNeXtXLarge from keras.applications.ConvNeXt*).

    Build `model` as the Keras model was built: the same size, include_top and classes (with
    include_top=False, the same pooling; pooling=None needs feature_norm=True, since Keras
    ends that model in a LayerNormalization). Loaded, it computes the Keras model's outputs.
    include_preprocessing may differ: it carries no weights (both normalise RGB in [0, 255]
    with the ImageNet mean and std). A Keras model with its top loads into one of ours
    without it, the classifier left out.

    Args:
        model: a model built by keras_minimal.applications (ConvNeXt).
        source: the Keras model itself, or the path of its weights in any form Keras writes:
            `.weights.h5` (model.save_weights), `.keras` (model.save), legacy `.h5`
            (model.save("x.h5"), tf.keras save_weights, the files keras.applications
            downloads); the kind is read from the content, not the suffix.
        allow_nonfinite: load tensors holding NaN or ±inf as they are; by default such
            weights are refused.

    Raises:
        ValueError: listing every missing, unexpected and mis-shaped tensor; the model is
            left untouched.
        TypeError: `model` is not of a family with a keras.applications layout.

    Returns:
        The model.
    """
    layout = _layout_for(model)
    checkpoint = read_keras_source(source)
    config = model.builder_config
    classes = config.get("classes") if config.get("include_top") else None
    for variable, value in plan_assignments(layout, checkpoint, classes, allow_nonfinite):
        variable.assign(value)
    return model
