"""weights="imagenet" for ConvNeXt and PP-LCNet: the upstream URLs, and the offline error."""

import keras
import pytest

from keras_minimal import model_families
from keras_minimal.applications import ConvNeXtTiny, ConvNeXtXLarge, PPLCNet_x0_5
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
            {"weights": "imagenet_timm", "head_bias": True},
            "https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/"
            "lcnet_050-f447553b.pth",
        ),
        (
            PPLCNet_x0_5,
            {},
            "https://paddle-imagenet-models-name.bj.bcebos.com/dygraph/legendary_models/"
            "PPLCNet_x0_5_pretrained.pdparams",
        ),
        (
            PPLCNet_x0_5,
            {"weights": "imagenet_ssld"},
            "https://paddle-imagenet-models-name.bj.bcebos.com/dygraph/legendary_models/"
            "PPLCNet_x0_5_ssld_pretrained.pdparams",
        ),
    ],
)
def test_offline_names_the_url_and_how_to_pass_a_local_file(offline, constructor, kwargs, url):
    kwargs = {"weights": "imagenet", **kwargs}
    with pytest.raises(WeightsDownloadError) as error:
        constructor(**kwargs)
    message = str(error.value)
    assert url in message
    assert f'weights="/path/to/{url.rsplit("/", 1)[-1]}"' in message
    assert not list(offline.rglob("*.weights.h5"))


def test_every_published_url():
    convnext = model_families.registered_families()["convnext"].weights_urls["imagenet"]
    release = "https://dl.fbaipublicfiles.com/convnext/"
    for size in ("tiny", "small", "base", "large"):
        assert convnext(f"convnext_{size}") == f"{release}convnext_{size}_1k_224_ema.pth"
    # XL exists only pre-trained on ImageNet-22k: its 1k classifier is the 22k → 1k fine-tune.
    assert convnext("convnext_xlarge") == f"{release}convnext_xlarge_22k_1k_224_ema.pth"
    timm = model_families.registered_families()["pplcnet"].weights_urls["imagenet_timm"]
    assert timm("pplcnet_x0_75").endswith("lcnet_075-318cad2c.pth")
    assert timm("pplcnet_x1_0").endswith("lcnet_100-a929038c.pth")
    assert timm("pplcnet_x0_25") is None
    # PaddleClas' MODEL_URLS (pp_lcnet.py) for every scale; SSLD where PaddleClas published it.
    paddle = "https://paddle-imagenet-models-name.bj.bcebos.com/dygraph/legendary_models/"
    scales = ("0_25", "0_35", "0_5", "0_75", "1_0", "1_5", "2_0", "2_5")
    pplcnet = model_families.registered_families()["pplcnet"].weights_urls
    for scale in scales:
        expected = f"{paddle}PPLCNet_x{scale}_pretrained.pdparams"
        assert pplcnet["imagenet"](f"pplcnet_x{scale}") == expected
        ssld = pplcnet["imagenet_ssld"](f"pplcnet_x{scale}")
        if scale in ("0_5", "1_0", "2_5"):
            assert ssld == expected.replace("_pretrained", "_ssld_pretrained")
        else:
            assert ssld is None


def test_xlarge_checks_classes_before_anything_is_built():
    with pytest.raises(ValueError, match="classes should be 1000"):
        ConvNeXtXLarge(weights="imagenet", classes=10)
