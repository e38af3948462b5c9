"""weights="imagenet" / "imagenet_ssld" / "imagenet_timm" for PP-LCNet, with local files
standing in for the downloads: the URL asked for, the conversion (Paddle's dropout folded
into the classifier), a cache per release, and a damaged download deleted."""

import os
import pickle
import shutil
from types import SimpleNamespace

import keras
import numpy as np
import pytest

from keras_minimal.applications import PPLCNet_x0_5, PPLCNet_x0_25
from keras_minimal.weights import imagenet as imagenet_weights
from keras_minimal.weights import load_reference, read_checkpoint
from tests.helpers import DATA, assert_matches_reference, load_fixture

PADDLE = "https://paddle-imagenet-models-name.bj.bcebos.com/dygraph/legendary_models/"
X0_25 = DATA / "pplcnet_paddle_x0_25.pdparams"
X0_5 = DATA / "pplcnet_paddle_x0_5_relu_nolast.pdparams"


@pytest.fixture
def served(monkeypatch, tmp_path):
    """keras.utils.get_file serving local files by name (`files`), recording the URLs asked."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    server = SimpleNamespace(files={}, asked=[])

    def get_file(fname, origin, cache_dir, cache_subdir):
        server.asked.append(origin)
        target = os.path.join(cache_dir, cache_subdir, fname)
        if not os.path.exists(target):
            shutil.copyfile(server.files[fname], target)
        return target

    monkeypatch.setattr(keras.utils, "get_file", get_file)
    return server


def _headless(constructor, **kwargs):
    return constructor(
        include_top=False, include_preprocessing=False, input_shape=(64, 64, 3), **kwargs
    )


def _features(model):
    x = np.random.default_rng(0).normal(size=(2, 64, 64, 3)).astype("float32")
    return keras.ops.convert_to_numpy(model(x, training=False))


def test_imagenet_is_paddleclas_release_converted_and_cached(served):
    served.files["PPLCNet_x0_25_pretrained.pdparams"] = X0_25
    model = _headless(PPLCNet_x0_25, weights="imagenet")
    assert served.asked == [f"{PADDLE}PPLCNet_x0_25_pretrained.pdparams"]
    expected = _features(load_reference(_headless(PPLCNet_x0_25), X0_25))
    np.testing.assert_array_equal(_features(model), expected)
    assert os.path.isfile(imagenet_weights.converted_weights_path(model))
    again = _headless(PPLCNet_x0_25, weights="imagenet")  # from the cache: nothing fetched
    assert len(served.asked) == 1
    np.testing.assert_array_equal(_features(again), expected)


def test_imagenet_with_the_classifier_folds_paddles_inference_dropout(served, tmp_path):
    # A 1000-class stand-in: the fixture's backbone with a random classifier.
    state = read_checkpoint(X0_25)
    rng = np.random.default_rng(0)
    state["fc.weight"] = rng.normal(0, 0.03, (1280, 1000)).astype("float32")
    state["fc.bias"] = rng.normal(0, 0.1, 1000).astype("float32")
    release = tmp_path / "PPLCNet_x0_25_pretrained.pdparams"
    release.write_bytes(pickle.dumps(state, protocol=4))
    served.files[release.name] = release
    model = PPLCNet_x0_25(weights="imagenet", include_preprocessing=False, input_shape=(64, 64, 3))
    kernel, bias = model.get_layer("predictions").get_weights()
    np.testing.assert_allclose(kernel, state["fc.weight"] * np.float32(0.8), rtol=1e-7)
    np.testing.assert_array_equal(bias, state["fc.bias"])


def test_imagenet_ssld_is_paddleclas_distilled_release_with_its_own_cache(served):
    served.files["PPLCNet_x0_5_ssld_pretrained.pdparams"] = X0_5
    served.files["PPLCNet_x0_5_pretrained.pdparams"] = X0_5
    ssld = _headless(PPLCNet_x0_5, weights="imagenet_ssld")
    assert served.asked == [f"{PADDLE}PPLCNet_x0_5_ssld_pretrained.pdparams"]
    np.testing.assert_array_equal(
        _features(ssld), _features(load_reference(_headless(PPLCNet_x0_5), X0_5))
    )
    # The same variables, another release: another cache file, and "imagenet" downloads.
    paths = {
        name: imagenet_weights.converted_weights_path(ssld, name)
        for name in ("imagenet", "imagenet_ssld", "imagenet_timm")
    }
    assert len(set(paths.values())) == 3
    assert "_imagenet_ssld_notop-" in os.path.basename(paths["imagenet_ssld"])
    _headless(PPLCNet_x0_5, weights="imagenet")
    assert served.asked[-1] == f"{PADDLE}PPLCNet_x0_5_pretrained.pdparams"


def test_imagenet_timm_is_timms_release(served, tmp_path):
    torch = pytest.importorskip("torch")
    fixture = load_fixture("lcnet_050_timm")
    release = tmp_path / "lcnet_050-f447553b.pth"
    torch.save({k: torch.from_numpy(np.array(v)) for k, v in fixture.state_dict.items()}, release)
    served.files[release.name] = release
    model = _headless(PPLCNet_x0_5, weights="imagenet_timm")
    assert served.asked == [
        "https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/"
        "lcnet_050-f447553b.pth"
    ]
    expected = load_reference(_headless(PPLCNet_x0_5), fixture.state_dict)
    np.testing.assert_array_equal(_features(model), _features(expected))


def test_a_damaged_pdparams_download_is_deleted_so_the_next_call_fetches_it_again(served, tmp_path):
    damaged = tmp_path / "PPLCNet_x0_25_pretrained.pdparams"
    damaged.write_bytes(X0_25.read_bytes()[:4096])
    served.files[damaged.name] = damaged
    with pytest.raises(ValueError, match="could not be read and has been deleted.*Try again"):
        _headless(PPLCNet_x0_25, weights="imagenet")
    downloaded = tmp_path / "keras_home" / "models" / "keras_minimal" / damaged.name
    assert not downloaded.exists()
    served.files[damaged.name] = X0_25
    _headless(PPLCNet_x0_25, weights="imagenet")
    assert downloaded.read_bytes() == X0_25.read_bytes()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"act": "relu"}, 'trained with act="hardswish"'),
        (
            {"use_last_conv": False},
            "take the published head: use_last_conv=True, class_expand=1280",
        ),
        ({"class_expand": 640}, "take the published head"),
    ],
)
def test_published_weights_refuse_options_they_were_not_trained_with(served, kwargs, message):
    with pytest.raises(ValueError, match=message):
        PPLCNet_x0_25(weights="imagenet", **kwargs)
    assert not served.asked


def test_a_headless_model_without_the_last_conv_takes_the_published_backbone(served):
    served.files["PPLCNet_x0_25_pretrained.pdparams"] = X0_25
    strided = [2, [2, 1], [2, 1], [2, 1], [2, 1]]  # PP-OCR fine-tunes from these weights
    model = _headless(PPLCNet_x0_25, weights="imagenet", use_last_conv=False, stride_list=strided)
    reference = load_reference(_headless(PPLCNet_x0_25, stride_list=strided), X0_25)
    assert_matches_reference(_features(model), _features(reference), rtol=0)
