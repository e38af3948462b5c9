"""weights="imagenet": offline error, and the download → convert → cache path via file://."""

import os
import pickle
import re

import keras
import numpy as np
import pytest

from keras_minimal import atomic_files, model_families
from keras_minimal.applications import ConvNeXt, VanillaNet, VanillaNet5
from keras_minimal.applications.convnext import variants as convnext_variants
from keras_minimal.applications.vanillanet import variants
from keras_minimal.weights import WeightsDownloadError, load_reference
from keras_minimal.weights import imagenet as imagenet_weights
from tests.helpers import load_fixture

FIXTURE = load_fixture("vanillanet_tiny5")


def test_offline_names_the_url_and_how_to_pass_a_local_file(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))

    def offline(*args, **kwargs):
        raise OSError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.raises(WeightsDownloadError) as error:
        VanillaNet5(weights="imagenet")
    message = str(error.value)
    assert (
        "https://github.com/huawei-noah/VanillaNet/releases/download/ckpt/vanillanet_5.pth"
        in message
    )
    assert 'weights="/path/to/vanillanet_5.pth"' in message
    assert "needs no package beyond keras-minimal's own: no PyTorch" in message
    assert isinstance(error.value, ValueError)
    assert not list(tmp_path.rglob("*.weights.h5"))


@pytest.fixture
def tiny_published_variant(monkeypatch, tmp_path):
    """Pretend the tiny fixture configuration is a published variant served from a file:// URL."""
    torch = pytest.importorskip("torch")
    config = FIXTURE.config
    monkeypatch.setitem(
        variants.VARIANTS,
        "vanillanet_tiny",
        variants.VanillaNetVariant(
            "VanillaNetTiny", tuple(config["dims"]), tuple(config["strides"]), None, 0, 0
        ),
    )
    checkpoint = tmp_path / "release" / "vanillanet_tiny.pth"
    checkpoint.parent.mkdir()
    torch.save(
        {"model_ema": {k: torch.from_numpy(np.array(v)) for k, v in FIXTURE.state_dict.items()}},
        checkpoint,
    )
    monkeypatch.setitem(
        model_families.registered_families()["vanillanet"].weights_urls,
        "imagenet",
        lambda name: checkpoint.as_uri(),
    )
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    return config


def _build(config, **kwargs):
    return VanillaNet(
        config["dims"],
        config["strides"],
        include_top=False,
        include_preprocessing=False,
        input_shape=(64, 64, 3),
        weights="imagenet",
        **kwargs,
    )


def _converted_directly(config):
    """The fixture's checkpoint loaded without download or cache, as _build's model."""
    return load_reference(
        VanillaNet(
            config["dims"],
            config["strides"],
            include_top=False,
            include_preprocessing=False,
            input_shape=(64, 64, 3),
        ),
        FIXTURE.state_dict,
    )


def _features(model):
    return keras.ops.convert_to_numpy(model(FIXTURE.inputs, training=False))


def test_download_convert_and_cache(tiny_published_variant, monkeypatch):
    config = tiny_published_variant
    model = _build(config)
    assert model.variant == "vanillanet_tiny"
    expected = _converted_directly(config)
    np.testing.assert_allclose(_features(model), _features(expected), rtol=1e-6)
    cached = imagenet_weights.converted_weights_path(model)
    assert re.fullmatch(r"vanillanet_tiny_notop-[0-9a-f]{8}\.weights\.h5", os.path.basename(cached))
    assert os.path.isfile(cached)

    def offline(*args, **kwargs):
        raise OSError("offline")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    np.testing.assert_allclose(_features(_build(config)), _features(expected), rtol=1e-6)


def test_deploy_model_with_imagenet_weights_is_fused(tiny_published_variant):
    config = tiny_published_variant
    fused = _build(config, deploy=True)
    trained = _build(config)
    np.testing.assert_allclose(_features(fused), _features(trained), rtol=1e-4, atol=1e-5)
    assert re.fullmatch(
        r"vanillanet_tiny_deploy_notop-[0-9a-f]{8}\.weights\.h5",
        os.path.basename(imagenet_weights.converted_weights_path(fused)),
    )


def test_download_lands_in_keras_home_even_before_it_exists(tiny_published_variant, tmp_path):
    # keras.utils.get_file would otherwise fall back to a shared /tmp/.keras.
    keras_home = tmp_path / "keras_home"
    assert not keras_home.exists()
    _build(tiny_published_variant)
    assert (keras_home / "models" / "keras_minimal" / "vanillanet_tiny.pth").is_file()


def test_forms_with_other_variables_have_their_own_cache():
    def cached(**kwargs):
        return imagenet_weights.converted_weights_path(
            ConvNeXt(**convnext_variants.TEST_CONFIG, include_top=False, **kwargs)
        )

    assert cached(pooling="avg") != cached(pooling=None)  # the pooled one has head_norm
    assert cached(pooling="avg") == cached(pooling="max")


def test_unreadable_cached_weights_are_converted_again(tiny_published_variant):
    config = tiny_published_variant
    expected = _features(_build(config))
    cached = imagenet_weights.converted_weights_path(_build(config))
    with open(cached, "wb") as file:
        file.write(b"not hdf5")
    with pytest.warns(UserWarning, match="could not be loaded.*converting the checkpoint again"):
        model = _build(config)
    np.testing.assert_array_equal(_features(model), expected)
    assert os.path.getsize(cached) > 1000


def test_unreadable_download_is_deleted_so_the_next_call_fetches_it_again(
    tiny_published_variant, tmp_path
):
    release = tmp_path / "release" / "vanillanet_tiny.pth"
    good = release.read_bytes()
    release.write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match="could not be read and has been deleted.*Try again"):
        _build(tiny_published_variant)
    downloaded = tmp_path / "keras_home" / "models" / "keras_minimal" / "vanillanet_tiny.pth"
    assert not downloaded.exists()
    release.write_bytes(good)
    _build(tiny_published_variant)
    assert downloaded.read_bytes() == good


def test_a_download_that_would_run_code_is_refused_not_deleted_as_corrupt(
    tiny_published_variant, tmp_path
):
    # Deleting it would only fetch the same file again: the message must say what it is.
    marker = tmp_path / "marker"
    release = tmp_path / "release" / "vanillanet_tiny.pth"
    release.write_bytes(pickle.dumps(_RunsCommand(f"echo ran > {marker}"), protocol=2))
    with pytest.raises(ValueError) as error:
        _build(tiny_published_variant)
    message = str(error.value)
    downloaded = tmp_path / "keras_home" / "models" / "keras_minimal" / "vanillanet_tiny.pth"
    system = f"{os.system.__module__}.system"  # posix.system
    assert f"Refused to load {str(downloaded)!r}: unpickling it would call {system}" in message
    assert "deleted" not in message and "weights_only" not in message
    assert downloaded.read_bytes() == release.read_bytes()
    assert not marker.exists()


class _RunsCommand:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def test_deploy_model_takes_a_training_checkpoint_path(tiny_published_variant, tmp_path):
    # What the offline message advises: weights="/path/to/<release file>", for any form.
    release = tmp_path / "release" / "vanillanet_tiny.pth"
    fused = VanillaNet(
        tiny_published_variant["dims"],
        tiny_published_variant["strides"],
        include_top=False,
        include_preprocessing=False,
        input_shape=(64, 64, 3),
        deploy=True,
        weights=str(release),
    )
    np.testing.assert_allclose(
        _features(fused), _features(_build(tiny_published_variant)), rtol=1e-4, atol=1e-5
    )


def test_classes_does_not_matter_without_the_top(tiny_published_variant):
    # As in keras.applications: only include_top=True needs classes=1000 with "imagenet".
    config = tiny_published_variant
    np.testing.assert_array_equal(_features(_build(config, classes=10)), _features(_build(config)))


def test_a_bfloat16_model_does_not_write_the_cache_a_float32_model_reads(tiny_published_variant):
    from keras_minimal.policies import dtype_policy_scope

    config = tiny_published_variant
    with dtype_policy_scope("bfloat16"):
        low = _build(config)
    float32 = _build(config)
    assert imagenet_weights.converted_weights_path(low) != (
        imagenet_weights.converted_weights_path(float32)
    )
    # Direct conversion of the checkpoint, no cache: bit-for-bit the same weights.
    direct = _converted_directly(config)
    for ours, expected in zip(float32.get_weights(), direct.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, expected)


def test_an_unwritable_cache_warns_and_still_gives_the_weights(tiny_published_variant, monkeypatch):
    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    with monkeypatch.context() as patched:
        patched.setattr(atomic_files, "_open_temporary", read_only)
        with pytest.warns(UserWarning, match="could not be cached.*Set KERAS_HOME"):
            model = _build(tiny_published_variant)
    assert not os.path.exists(imagenet_weights.converted_weights_path(model))
    np.testing.assert_array_equal(_features(model), _features(_build(tiny_published_variant)))
