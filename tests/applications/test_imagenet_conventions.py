"""keras.applications conventions: decode_predictions with the shipped ImageNet-1k names, and
each family's preprocess_input, which is what include_preprocessing=True computes."""

import hashlib
import inspect
import json
import re
from importlib import resources

import keras
import numpy as np
import pytest
from keras.src.applications import imagenet_utils

from keras_minimal.applications import (
    convnext,
    decode_predictions,
    imagenet_classes,
    nfnet,
    pplcnet,
    preprocess_input,
    vanillanet,
)
from keras_minimal.applications.convnext.variants import TEST_CONFIG as CONVNEXT_TEST_CONFIG
from keras_minimal.applications.nfnet.variants import TEST_CONFIG as NFNET_TEST_CONFIG
from keras_minimal.applications.pplcnet.variants import TEST_CONFIG as PPLCNET_TEST_CONFIG
from keras_minimal.applications.vanillanet.variants import TEST_CONFIG as VANILLANET_TEST_CONFIG


def _class_index_bytes():
    return (
        resources.files("keras_minimal.applications") / "imagenet_class_index.json"
    ).read_bytes()


def test_the_shipped_class_index_is_the_file_keras_downloads():
    """Keras checks its download of imagenet_class_index.json against this md5."""
    source = inspect.getsource(imagenet_utils.decode_predictions)
    keras_md5 = re.search(r'file_hash="([0-9a-f]{32})"', source).group(1)
    assert hashlib.md5(_class_index_bytes()).hexdigest() == keras_md5


def test_the_classes_are_the_1000_wordnet_ids_in_canonical_order():
    classes = imagenet_classes()
    wnids = [wnid for wnid, _ in classes]
    assert len(classes) == 1000 and len(set(wnids)) == 1000
    assert wnids == sorted(wnids)  # ImageNet-1k's class indices follow the sorted WordNet ids
    assert classes[0] == ("n01440764", "tench")
    assert classes[-1] == ("n15075141", "toilet_tissue")
    assert all(re.fullmatch(r"n\d{8}", wnid) for wnid in wnids)


@pytest.fixture
def keras_class_index(monkeypatch):
    """keras.applications' decode_predictions, given the index without downloading it."""
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX", json.loads(_class_index_bytes()))
    return imagenet_utils.decode_predictions


@pytest.mark.parametrize("top", [1, 5, 1000, 1500])
def test_decode_predictions_is_keras_applications(keras_class_index, top):
    preds = np.random.default_rng(0).random((3, 1000)).astype("float32")
    preds[1, [10, 20, 30]] = preds[1].max() + 1  # ties keep Keras' order too
    want = keras_class_index(preds, top=top)
    got = decode_predictions(preds, top=top)
    assert got == want
    assert [len(sample) for sample in got] == [min(top, 1000)] * 3
    assert all(isinstance(entry, tuple) and len(entry) == 3 for entry in got[0])


def test_decode_predictions_reads_the_scores_it_is_given():
    preds = np.zeros((1, 1000), "float32")
    preds[0, [281, 285, 3]] = [0.5, 0.25, 0.125]
    assert decode_predictions(preds, top=3) == [
        [
            ("n02123045", "tabby", 0.5),
            ("n02124075", "Egyptian_cat", 0.25),
            ("n01491361", "tiger_shark", 0.125),
        ]
    ]


def test_decode_predictions_takes_backend_tensors():
    preds = np.random.default_rng(1).random((2, 1000)).astype("float32")
    assert decode_predictions(keras.ops.convert_to_tensor(preds)) == decode_predictions(preds)


@pytest.mark.parametrize("shape", [(1000,), (2, 10), (2, 1000, 1), (1, 1001)])
def test_decode_predictions_refuses_other_shapes(shape):
    with pytest.raises(ValueError, match=r"shape \(samples, 1000\).*Received: an array of shape"):
        decode_predictions(np.zeros(shape, "float32"))


@pytest.mark.parametrize("top", [0, -1, 2.0, "5", True])
def test_decode_predictions_refuses_a_bad_top(top):
    with pytest.raises(ValueError, match=r"top is the number of classes.*Received: top="):
        decode_predictions(np.zeros((1, 1000), "float32"), top=top)


FAMILIES = {
    "vanillanet": (vanillanet, lambda **kw: vanillanet.VanillaNet(**VANILLANET_TEST_CONFIG, **kw)),
    "nfnet": (nfnet, lambda **kw: nfnet.NFNet(**NFNET_TEST_CONFIG, **kw)),
    "convnext": (convnext, lambda **kw: convnext.ConvNeXt(**CONVNEXT_TEST_CONFIG, **kw)),
    "pplcnet": (pplcnet, lambda **kw: pplcnet.PPLCNet(**PPLCNET_TEST_CONFIG, **kw)),
}


@pytest.mark.multibackend
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_preprocess_input_is_what_include_preprocessing_computes(family):
    module, build = FAMILIES[family]
    kwargs = {"input_shape": (64, 64, 3), "classes": 10, "classifier_activation": None}
    inside = build(include_preprocessing=True, **kwargs)
    outside = build(include_preprocessing=False, **kwargs)
    outside.set_weights(inside.get_weights())  # the preprocessing layer has none
    images = np.random.default_rng(2).integers(0, 256, (2, 64, 64, 3)).astype("uint8")
    want = keras.ops.convert_to_numpy(inside(images.astype("float32"), training=False))
    got = keras.ops.convert_to_numpy(outside(module.preprocess_input(images), training=False))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * np.max(np.abs(want)))


@pytest.mark.multibackend
def test_preprocess_input_normalises_with_the_imagenet_mean_and_std():
    images = np.random.default_rng(3).uniform(0, 255, (2, 5, 7, 3))
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    want = (images / 255.0 - mean) / std
    np.testing.assert_allclose(preprocess_input(images.astype("float32")), want, atol=1e-5)
    tensor = preprocess_input(keras.ops.convert_to_tensor(images, "float32"))
    assert keras.ops.is_tensor(tensor)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(tensor), want, atol=1e-5)
    pixels = preprocess_input(images.astype("uint8"))
    assert pixels.dtype == np.float32
    np.testing.assert_allclose(pixels, (images.astype("uint8") / 255.0 - mean) / std, atol=1e-5)
    assert preprocess_input(images).dtype == np.float64  # floats keep their dtype, as in Keras


def test_every_family_exports_the_conventions():
    for module, _ in FAMILIES.values():
        assert module.preprocess_input is preprocess_input
        assert module.decode_predictions is decode_predictions


def test_preprocess_input_refuses_what_the_models_do_not_take():
    with pytest.raises(ValueError, match=r"data_format must be None or \"channels_last\""):
        preprocess_input(np.zeros((1, 3, 4, 4)), data_format="channels_first")
    with pytest.raises(ValueError, match=r"last axis must hold the 3 channels.*\(1, 4, 4, 1\)"):
        preprocess_input(np.zeros((1, 4, 4, 1)))
