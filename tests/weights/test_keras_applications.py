"""keras.applications ConvNeXt weights load into our ConvNeXt and reproduce the Keras model.

The Keras models are keras.applications' own, built with weights=None and every weight set
at random (layer scale near 1, so that every block counts), in each form Keras writes them:
the model object, `.weights.h5`, `.keras`, a legacy full-model `.h5` and a legacy
weights-only `.h5` (the form of the files keras.applications downloads). The matrix of
forms and heads runs on a small configuration built by the same keras.applications code
(`keras.src.applications.convnext.ConvNeXt`, which ConvNeXtTiny … XLarge call); the
published sizes are checked on their own.
"""

import shutil

import h5py
import keras
import numpy as np
import pytest
from keras.src.applications.convnext import ConvNeXt as KerasConvNeXt
from keras.src.legacy.saving import legacy_h5_format

from keras_minimal import applications
from keras_minimal.applications import ConvNeXt, ConvNeXtSmall, ConvNeXtTiny, PPLCNet
from keras_minimal.applications.convnext import keras_applications
from keras_minimal.applications.convnext.variants import VARIANTS
from keras_minimal.weights import load_keras_applications, load_reference

SIZE = 64
FORMS = ("model", "weights.h5", "keras", "legacy_model.h5", "legacy_weights.h5")


def _randomise(model, seed=0):
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        # γ of LayerNorm and layer scale around 1, everything else around 0.
        centre = 1.0 if variable.path.endswith(("gamma", "variable")) else 0.0
        variable.assign(rng.normal(centre, 0.2, variable.shape).astype("float32"))


SMALL_CONFIG = {"depths": [1, 1, 2, 1], "dims": [16, 32, 48, 64]}


def _keras_small(**kwargs):
    """keras.applications' ConvNeXt in SMALL_CONFIG (named as its ConvNeXtTiny would be)."""
    return _keras_convnext(
        KerasConvNeXt,
        depths=SMALL_CONFIG["depths"],
        projection_dims=SMALL_CONFIG["dims"],
        name="convnext_tiny",
        **kwargs,
    )


def _keras_convnext(constructor=keras.applications.ConvNeXtTiny, **kwargs):
    kwargs.setdefault("classifier_activation", None)
    model = constructor(weights=None, input_shape=(SIZE, SIZE, 3), **kwargs)
    _randomise(model)
    return model


def _ours_small(**kwargs):
    kwargs.setdefault("classifier_activation", None)
    return ConvNeXt(**SMALL_CONFIG, input_shape=(SIZE, SIZE, 3), **kwargs)


def _outputs(model, images):
    return keras.ops.convert_to_numpy(model(images, training=False))


def _source(model, form, folder):
    """`model`'s weights in one of FORMS (the model itself or a file in `folder`)."""
    if form == "model":
        return model
    path = str(folder / f"source.{form}")
    if form == "weights.h5":
        model.save_weights(path)
    elif form == "keras":
        model.save(path)
    elif form == "legacy_model.h5":
        model.save(path)  # Keras 3 writes the legacy HDF5 format for ".h5"
    else:
        with h5py.File(path, "w") as handle:
            legacy_h5_format.save_weights_to_hdf5_group(handle, model)
    return path


def _images(seed=1, count=2):
    return np.random.default_rng(seed).uniform(0, 255, (count, SIZE, SIZE, 3)).astype("float32")


def _ours(constructor=ConvNeXtTiny, **kwargs):
    kwargs.setdefault("classifier_activation", None)
    return constructor(input_shape=(SIZE, SIZE, 3), **kwargs)


def _assert_close(got, want, tolerance=1e-5):
    assert got.shape == want.shape
    assert np.max(np.abs(got - want)) <= tolerance * np.max(np.abs(want))


@pytest.mark.multibackend
@pytest.mark.parametrize("form", FORMS)
def test_every_form_of_a_classifier_reproduces_the_keras_logits(form, tmp_path):
    keras_model = _keras_small(classes=7)
    images = _images()
    ours = load_keras_applications(_ours_small(classes=7), _source(keras_model, form, tmp_path))
    _assert_close(_outputs(ours, images), _outputs(keras_model, images))


@pytest.mark.multibackend
def test_a_keras_convnext_tiny_is_reproduced(tmp_path):
    keras_model = _keras_convnext(classes=7)
    source = _source(keras_model, "legacy_weights.h5", tmp_path)
    ours = load_keras_applications(_ours(classes=7), source)
    images = _images(count=1)
    _assert_close(_outputs(ours, images), _outputs(keras_model, images))


@pytest.mark.multibackend
@pytest.mark.parametrize(
    ("pooling", "ours_kwargs"),
    [(None, {"feature_norm": True}), ("avg", {"pooling": "avg"}), ("max", {"pooling": "max"})],
)
def test_headless_keras_models_are_reproduced(pooling, ours_kwargs, tmp_path):
    keras_model = _keras_small(include_top=False, pooling=pooling)
    images = _images()
    source = _source(keras_model, "weights.h5", tmp_path)
    ours = load_keras_applications(_ours_small(include_top=False, **ours_kwargs), source)
    _assert_close(_outputs(ours, images), _outputs(keras_model, images))


@pytest.mark.multibackend
def test_a_keras_classifier_loads_into_a_headless_model_without_its_head(tmp_path):
    keras_model = _keras_small(classes=7)
    features = keras.Model(keras_model.input, keras_model.get_layer("convnext_tiny_head_gap").input)
    source = _source(keras_model, "keras", tmp_path)
    ours = load_keras_applications(_ours_small(include_top=False), source)
    images = _images()
    _assert_close(_outputs(ours, images), _outputs(features, images))


def test_without_preprocessing_on_either_side():
    keras_model = _keras_small(classes=7, include_preprocessing=False)
    images = np.random.default_rng(2).normal(size=(2, SIZE, SIZE, 3)).astype("float32")
    ours = load_keras_applications(_ours_small(classes=7, include_preprocessing=False), keras_model)
    _assert_close(_outputs(ours, images), _outputs(keras_model, images))


def test_weights_argument_detects_a_keras_file_by_its_content(tmp_path):
    keras_model = _keras_small(classes=7)
    legacy = _source(keras_model, "legacy_weights.h5", tmp_path)
    renamed = shutil.copy(legacy, tmp_path / "finetuned.bin")  # a .bin is read as PyTorch's
    ours = _ours_small(classes=7, weights=str(renamed))
    images = _images()
    _assert_close(_outputs(ours, images), _outputs(keras_model, images))


@pytest.mark.parametrize("suffix", [".weights.h5", ".keras"])
def test_weights_argument_still_loads_our_own_files(suffix, tmp_path):
    """Our own ConvNeXt files (whose names Keras also numbers by class) are not mistaken for
    keras.applications': they load with model.load_weights as before."""
    saved = ConvNeXt((1, 1, 2, 1), (16, 32, 48, 64), classes=5, input_shape=(32, 32, 3))
    _randomise(saved)
    path = str(tmp_path / f"ours{suffix}")
    if suffix == ".weights.h5":
        saved.save_weights(path)
    else:
        saved.save(path)
    loaded = ConvNeXt(
        (1, 1, 2, 1), (16, 32, 48, 64), classes=5, input_shape=(32, 32, 3), weights=path
    )
    for want, got in zip(saved.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.slow
def test_a_keras_convnext_small_is_reproduced():
    keras_model = _keras_convnext(keras.applications.ConvNeXtSmall, classes=7)
    ours = load_keras_applications(_ours(ConvNeXtSmall, classes=7), keras_model)
    images = _images(count=1)
    _assert_close(_outputs(ours, images), _outputs(keras_model, images))


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["convnext_base", "convnext_large", "convnext_xlarge"])
def test_every_keras_tensor_has_a_place_of_its_shape_in_the_bigger_sizes(variant):
    """Built, not run: the name map covers every weight of Keras' model, shape for shape."""
    constructor_name = VARIANTS[variant].constructor_name
    keras_model = getattr(keras.applications, constructor_name)(
        weights=None, input_shape=(32, 32, 3)
    )
    ours = getattr(applications, constructor_name)(input_shape=(32, 32, 3))
    shapes = {
        f"{layer.name}/vars/{index}": tuple(variable.shape)
        for layer in keras_model.layers
        for index, variable in enumerate(layer.weights)
    }
    layout = keras_applications.reference_layout(ours)
    renamed = layout.translate(shapes)
    assert set(renamed) == set(layout.targets)
    for name, target in layout.targets.items():
        assert target.conversion.reference_shape(tuple(target.variable.shape)) == renamed[name]


# --- what is refused, with the model left untouched -------------------------------------------


def _snapshot(model):
    return [w.copy() for w in model.get_weights()]


def _assert_untouched(model, snapshot):
    for old, new in zip(snapshot, model.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)


def test_another_size_is_refused_naming_the_keras_models_size(tmp_path):
    source = _source(_keras_convnext(classes=7), "weights.h5", tmp_path)
    ours = _ours_small(classes=7)
    before = _snapshot(ours)
    with pytest.raises(ValueError) as error:
        load_keras_applications(ours, source)
    message = str(error.value)
    assert "Unexpected in the checkpoint" in message
    assert "depths=[3, 3, 9, 3] dims=[96, 192, 384, 768] (convnext_tiny)" in message
    assert "this model has depths=[1, 1, 2, 1] dims=[16, 32, 48, 64]" in message
    assert message.endswith("Nothing was loaded.")
    _assert_untouched(ours, before)


def test_another_class_count_is_refused_with_the_fix():
    ours = _ours_small(classes=10)
    with pytest.raises(ValueError, match="classifier has 7 classes.*build it with classes=7"):
        load_keras_applications(ours, _keras_small(classes=7))


def test_a_headless_keras_model_needs_its_final_norm(tmp_path):
    source = _source(_keras_small(include_top=False), "keras", tmp_path)
    ours = _ours_small(include_top=False)
    before = _snapshot(ours)
    with pytest.raises(ValueError, match="ends in a LayerNormalization.*feature_norm=True"):
        load_keras_applications(ours, source)
    _assert_untouched(ours, before)


def test_non_finite_keras_weights_are_refused():
    keras_model = _keras_small(classes=7)
    keras_model.get_layer("convnext_tiny_head_dense").bias.assign(np.full(7, np.nan))
    with pytest.raises(ValueError, match="NaN"):
        load_keras_applications(_ours_small(classes=7), keras_model)


def test_a_model_of_another_family_is_refused():
    with pytest.raises(TypeError, match="load_keras_applications needs a model built by"):
        load_keras_applications(PPLCNet(0.25, classes=7), _keras_small(classes=7))


def test_files_that_are_not_keras_files_are_named(tmp_path):
    not_keras = tmp_path / "weights.h5"
    not_keras.write_bytes(b"not hdf5 at all")
    with pytest.raises(ValueError, match=r"Not a Keras file.*Received: .*weights\.h5"):
        load_keras_applications(_ours_small(), str(not_keras))
    source = _source(_keras_small(classes=7), "weights.h5", tmp_path)
    truncated = tmp_path / "truncated.weights.h5"
    truncated.write_bytes(open(source, "rb").read()[:5000])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load_keras_applications(_ours_small(), str(truncated))


def test_load_reference_points_keras_files_to_load_keras_applications(tmp_path):
    source = _source(_keras_small(classes=7), "legacy_model.h5", tmp_path)
    with pytest.raises(ValueError, match=r"keras_minimal\.weights\.load_keras_applications"):
        load_reference(_ours_small(classes=7), source)
