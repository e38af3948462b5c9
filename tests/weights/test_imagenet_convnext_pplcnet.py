"""weights="imagenet" for ConvNeXt and PP-LCNet: the upstream URLs, and the offline error."""

import keras
import pytest

from keras_minimal.applications import ConvNeXtTiny, ConvNeXtXLarge, PPLCNet_x0_5, families
from keras_minimal.weights import WeightsDownloadError


@pytest.fixture
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))

    def no_network(*args, **kwargs):
        raise OSError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(keras.utils, "get_file", no_network)
    return tmp_path


@pytest.mark.parametrize(
    "constructor, kwargs, url",
    [
        (ConvNeXtTiny, {}, "https://dl.fbaipublicfiles.com/convnext/convnext_tiny_1k_224_ema.pth"),
        (
            PPLCNet_x0_5,
            {"head_bias": True},
            "https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/"
            "lcnet_050-f447553b.pth",
        ),
    ],
)
def test_offline_names_the_url_and_how_to_pass_a_local_file(offline, constructor, kwargs, url):
    with pytest.raises(WeightsDownloadError) as error:
        constructor(weights="imagenet", **kwargs)
    message = str(error.value)
    assert url in message
    assert f'weights="/path/to/{url.rsplit("/", 1)[-1]}"' in message
    assert not list(offline.rglob("*.weights.h5"))


def test_every_published_url():
    convnext = families.IMAGENET_URLS["convnext"]
    release = "https://dl.fbaipublicfiles.com/convnext/"
    for size in ("tiny", "small", "base", "large"):
        assert convnext(f"convnext_{size}") == f"{release}convnext_{size}_1k_224_ema.pth"
    # XL exists only pre-trained on ImageNet-22k: its 1k classifier is the 22k → 1k fine-tune.
    assert convnext("convnext_xlarge") == f"{release}convnext_xlarge_22k_1k_224_ema.pth"
    lcnet = families.IMAGENET_URLS["pplcnet"]
    assert lcnet("pplcnet_x0_75").endswith("lcnet_075-318cad2c.pth")
    assert lcnet("pplcnet_x1_0").endswith("lcnet_100-a929038c.pth")


def test_xlarge_checks_classes_before_anything_is_built():
    with pytest.raises(ValueError, match="classes should be 1000"):
        ConvNeXtXLarge(weights="imagenet", classes=10)
