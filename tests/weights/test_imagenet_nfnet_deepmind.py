"""weights="imagenet_deepmind": DeepMind's F*_haiku.npz release, fetched, read without dill,
loaded with DeepMind's numerics and cached apart from timm's port; offline, the clear error."""

import json
import os
import re
import shutil

import keras
import numpy as np
import pytest

from keras_minimal import model_families
from keras_minimal.applications import NFNet, NFNetF0
from keras_minimal.applications.nfnet import sources, variants
from keras_minimal.weights import WeightsDownloadError
from keras_minimal.weights import imagenet as imagenet_weights
from keras_minimal.weights.haiku_pickle import read_haiku_pickle
from tests.helpers import DATA, assert_matches_reference

HAIKU_FILE = DATA / "nfnet_haiku_tiny.npz"
with np.load(DATA / "nfnet_haiku_tiny_case.npz") as _case:
    META = json.loads(str(_case["meta"]))
    INPUTS, LOGITS = _case["input"], _case["out/logits"]
PARAMS = META["constructor"]["variant_params"]


def _offline(*args, **kwargs):
    raise OSError("[Errno -3] Temporary failure in name resolution")


def test_offline_names_deepmind_s_url_and_the_local_file_with_its_reference(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(keras.utils, "get_file", _offline)
    with pytest.raises(WeightsDownloadError) as error:
        NFNetF0(weights="imagenet_deepmind", include_top=False)
    message = str(error.value)
    assert "https://storage.googleapis.com/dm-nfnets/F0_haiku.npz" in message
    assert 'weights="/path/to/F0_haiku.npz", reference="deepmind"' in message
    assert not list(tmp_path.rglob("*.weights.h5"))


def test_deepmind_s_release_files_for_f0_to_f6():
    deepmind = sources.WEIGHT_SOURCES["imagenet_deepmind"]
    for i in range(7):
        assert (
            deepmind.url(f"nfnet_f{i}")
            == f"https://storage.googleapis.com/dm-nfnets/F{i}_haiku.npz"
        )
    assert deepmind.url("nfnet_f7") is None
    assert deepmind.options == {"reference": "deepmind"}


@pytest.fixture
def tiny_published_variant(monkeypatch, tmp_path):
    """Pretend DeepMind's tiny fixture model is a published variant whose Haiku file is
    served from a file:// URL."""
    monkeypatch.setitem(
        variants.VARIANTS,
        "nfnet_tiny",
        variants.NFNetVariant("NFNetTiny", tuple(PARAMS["depth"]), 64, 64, 0.2, None),
    )
    monkeypatch.setattr(variants, "CHANNELS", tuple(PARAMS["width"]))
    monkeypatch.setitem(variants.PUBLISHED_OPTIONS, "group_size", PARAMS["group_width"][0])
    monkeypatch.setitem(variants.PUBLISHED_OPTIONS, "num_features", 2 * PARAMS["width"][-1])
    release = tmp_path / "release" / "F_tiny_haiku.npz"
    release.parent.mkdir()
    shutil.copyfile(HAIKU_FILE, release)
    monkeypatch.setitem(sources.DEEPMIND_FILES, "nfnet_tiny", release.name)
    monkeypatch.setitem(
        model_families.registered_families()["nfnet"].weights_urls,
        "imagenet_deepmind",
        lambda variant: release.as_uri(),
    )
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    return release


def _build(**kwargs):
    return NFNet(
        PARAMS["depth"],
        PARAMS["width"],
        group_size=PARAMS["group_width"][0],
        include_top=False,
        pooling="avg",
        include_preprocessing=False,
        input_shape=INPUTS.shape[1:],
        **kwargs,
    )


def _logits(features):
    # DeepMind's classifier, applied to our pooled features: the fixture has 10 classes, so
    # the published-weights model is built headless.
    linear = read_haiku_pickle(str(HAIKU_FILE))["NFNet/~/linear"]
    return keras.ops.convert_to_numpy(features) @ linear["w"] + linear["b"]


def test_download_read_with_deepmind_s_numerics_and_cached_apart(
    tiny_published_variant, monkeypatch
):
    model = _build(weights="imagenet_deepmind")
    assert model.variant == "nfnet_tiny"
    assert model.builder_config["reference"] == "deepmind"
    assert_matches_reference(_logits(model(INPUTS, training=False)), LOGITS)
    cached = imagenet_weights.converted_weights_path(model, "imagenet_deepmind")
    assert re.fullmatch(
        r"nfnet_tiny_imagenet_deepmind_notop-[0-9a-f]{8}\.weights\.h5", os.path.basename(cached)
    )
    assert os.path.isfile(cached)
    assert cached != imagenet_weights.converted_weights_path(model)  # timm's port: its own file

    monkeypatch.setattr(keras.utils, "get_file", _offline)  # the cache is used from now on
    again = _build(weights="imagenet_deepmind")
    assert_matches_reference(_logits(again(INPUTS, training=False)), LOGITS)


def test_a_truncated_download_is_deleted_so_the_next_call_fetches_it_again(
    tiny_published_variant,
):
    good = tiny_published_variant.read_bytes()
    tiny_published_variant.write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match="could not be read and has been deleted.*Try again"):
        _build(weights="imagenet_deepmind")
    downloaded = tiny_published_variant.parents[1] / "keras_home/models/keras_minimal"
    assert not (downloaded / tiny_published_variant.name).exists()
