"""The README's classify-an-image example runs as written, with a local stand-in for
weights="imagenet" (there is no network here): the photo, the resize, predict and
decode_predictions' output."""

import os
import re
from pathlib import Path

import numpy as np
import pytest

from keras_minimal.applications import ConvNeXtTiny, decode_predictions, imagenet_classes

README = Path(__file__).resolve().parents[2] / "README.md"


def _require_skimage():
    if os.environ.get("CI"):  # the dev extra installs it: CI must not skip this test
        import skimage

        return skimage
    return pytest.importorskip("skimage", reason="scikit-image (the dev extra) ships the photo")


def _example():
    text = README.read_text(encoding="utf-8")
    start = text.index("### Classify an image")
    return re.search(r"```python\n(.*?)```", text[start:], flags=re.S).group(1)


def test_the_classify_an_image_example_runs_on_a_local_checkpoint(tmp_path):
    _require_skimage()
    from skimage.data import chelsea

    stand_in = ConvNeXtTiny()  # random weights, saved as the converted ImageNet file would be
    path = str(tmp_path / "convnext_tiny.weights.h5")
    stand_in.save_weights(path)
    example = _example()
    assert example.count('weights="imagenet"') == 1
    namespace = {}
    code = example.replace('weights="imagenet"', f"weights={path!r}")
    exec(compile(code, str(README), "exec"), namespace)

    np.testing.assert_array_equal(namespace["photo"], chelsea()[None])
    assert tuple(namespace["image"].shape) == (1, 224, 224, 3)
    predictions = namespace["predictions"]
    classes = imagenet_classes()
    assert len(predictions) == 3
    for class_id, name, score in predictions:
        assert (class_id, name) in classes and 0.0 < float(score) < 1.0
    scores = [float(score) for _, _, score in predictions]
    assert scores == sorted(scores, reverse=True)
    want = decode_predictions(stand_in.predict(namespace["image"], verbose=0), top=3)[0]
    assert [entry[:2] for entry in predictions] == [entry[:2] for entry in want]
    np.testing.assert_allclose(scores, [float(entry[2]) for entry in want], rtol=1e-6)
