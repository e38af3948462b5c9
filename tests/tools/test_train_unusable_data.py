"""tools/train.py refuses ImageFolder data that cannot train before it builds or writes anything."""

import os
import subprocess
import sys

import pytest

from tests.training.synthetic import tiny_vanillanet_config, write_image_folder

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _train(data, config, output_dir):
    return subprocess.run(
        [
            sys.executable,
            "tools/train.py",
            f"--model_config={config}",
            f"--data={data}",
            "--recipe=vanillanet_5,epochs=1,warmup_epochs=0,train_image_size=32,randaugment=none",
            "--batch_size=4",
            "--jit_compile=false",
            f"--output_dir={output_dir}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3"),
    )


@pytest.mark.slow
def test_an_empty_class_folder_is_named_before_the_model_is_built(tmp_path):
    # Three classes of images and a stray empty folder: the data counted 4 classes and the
    # model built for 3 failed with "build it with classes=4".
    data = write_image_folder(str(tmp_path / "data"), classes=3, per_class=4)
    os.mkdir(tmp_path / "data" / "c3")
    config = tiny_vanillanet_config(str(tmp_path / "model.json"), classes=3)
    result = _train(data, config, tmp_path / "run")
    assert result.returncode != 0
    assert "class folders without images: c3" in result.stderr
    assert "Remove the empty folder(s) or add images to them" in result.stderr
    assert "build it with classes" not in result.stderr
    assert not os.path.exists(tmp_path / "run")


@pytest.mark.slow
def test_a_single_class_is_refused_before_the_model_is_built(tmp_path):
    data = write_image_folder(str(tmp_path / "data"), classes=1, per_class=4)
    config = tiny_vanillanet_config(str(tmp_path / "model.json"), classes=1)
    result = _train(data, config, tmp_path / "run")
    assert result.returncode != 0
    assert "Training needs images of at least two classes" in result.stderr
    assert not os.path.exists(tmp_path / "run")
