"""With PyTorch not importable at all, weights="<file>.pth" and weights="imagenet" (a .pth
release, served from a file:// URL) load and reproduce the reference logits."""

import argparse
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tests.helpers import load_fixture

torch = pytest.importorskip("torch")  # to write the checkpoints the subprocess reads

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURE = load_fixture("vanillanet_tiny5")

SCRIPT = textwrap.dedent(
    """
    import os, pathlib, sys


    class NoTorch:  # from here on, `import torch` raises ModuleNotFoundError, as without it

        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == "torch":
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)


    sys.meta_path.insert(0, NoTorch())

    import keras
    from keras_minimal import model_families
    from keras_minimal.applications import VanillaNet
    from keras_minimal.applications.vanillanet import variants
    from keras_minimal.weights import load_reference
    from tests.helpers import assert_matches_reference, load_fixture, vanillanet_for

    checkpoint, release, keras_home = sys.argv[1:]
    fixture = load_fixture("vanillanet_tiny5")

    model = vanillanet_for(fixture, weights=checkpoint)
    assert_matches_reference(
        model(fixture.inputs, training=False), fixture.outputs["train_graph_lambda_1"]
    )

    # weights="imagenet" for a published variant whose release is the zip-format .pth.
    config = fixture.config
    variants.VARIANTS["vanillanet_tiny"] = variants.VanillaNetVariant(
        "VanillaNetTiny", tuple(config["dims"]), tuple(config["strides"]), None, 0, 0
    )
    urls = model_families.registered_families()["vanillanet"].weights_urls
    urls["imagenet"] = lambda name: pathlib.Path(release).as_uri()
    os.environ["KERAS_HOME"] = keras_home

    def backbone(**kwargs):
        return VanillaNet(
            config["dims"], config["strides"], include_top=False, include_preprocessing=False,
            input_shape=fixture.inputs.shape[1:], **kwargs,
        )

    imagenet = backbone(weights="imagenet")
    expected = load_reference(backbone(), fixture.state_dict)
    assert_matches_reference(
        imagenet(fixture.inputs, training=False), keras.ops.convert_to_numpy(
            expected(fixture.inputs, training=False)
        ), rtol=1e-6,
    )
    assert not [name for name in sys.modules if name.split(".")[0] == "torch"]
    print("read without torch")
    """
)


def test_pth_checkpoints_and_imagenet_weights_load_without_torch(tmp_path):
    state = {k: torch.from_numpy(np.array(v)) for k, v in FIXTURE.state_dict.items()}
    checkpoint = tmp_path / "checkpoint.pth"  # as the official training script saves it
    torch.save(
        {"model": state, "epoch": 299, "args": argparse.Namespace(model="vanillanet_5")},
        checkpoint,
        _use_new_zipfile_serialization=False,
    )
    release = tmp_path / "release" / "vanillanet_tiny.pth"
    release.parent.mkdir()
    torch.save({"model_ema": state}, release)
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(checkpoint), str(release), str(tmp_path / "home")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert result.returncode == 0 and "read without torch" in result.stdout, result.stderr[-3000:]
    assert list((tmp_path / "home").rglob("vanillanet_tiny*.weights.h5"))
