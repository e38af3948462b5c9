import math

import keras
import numpy as np
import pytest

from keras_minimal.training.losses import BinaryCrossEntropy, make_loss
from keras_minimal.training.schedules import WarmupCosineDecay

pytestmark = pytest.mark.multibackend


def _bce(logits, targets):
    p = 1 / (1 + np.exp(-logits))
    return np.mean(-(targets * np.log(p) + (1 - targets) * np.log(1 - p)))


def test_bce_matches_timm_on_soft_targets_and_on_indices_with_smoothing():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, 5)).astype("float32")
    soft = rng.dirichlet(np.ones(5), size=4).astype("float32")
    loss = BinaryCrossEntropy()
    np.testing.assert_allclose(float(loss(soft, logits)), _bce(logits, soft), rtol=1e-5)
    labels = np.array([0, 3, 4, 1])
    smoothed = np.full((4, 5), 0.1 / 5)
    smoothed[np.arange(4), labels] = 1 - 0.1 + 0.1 / 5
    value = BinaryCrossEntropy(smoothing=0.1)(labels, logits)
    np.testing.assert_allclose(float(value), _bce(logits, smoothed), rtol=1e-5)
    thresholded = BinaryCrossEntropy(target_threshold=0.2)(soft, logits)
    np.testing.assert_allclose(
        float(thresholded), _bce(logits, (soft > 0.2).astype("float32")), rtol=1e-5
    )


def test_make_loss_names():
    assert isinstance(make_loss("binary_cross_entropy"), BinaryCrossEntropy)
    with pytest.raises(ValueError, match="loss must be one of"):
        make_loss("focal")


def _official_cosine_scheduler(base, final, epochs, niter, warmup_epochs):
    warmup = np.linspace(0, base, warmup_epochs * niter)
    iters = np.arange(epochs * niter - warmup_epochs * niter)
    schedule = final + 0.5 * (base - final) * (1 + np.cos(math.pi * iters / len(iters)))
    return np.concatenate((warmup, schedule))


def test_warmup_cosine_is_the_official_per_step_schedule():
    expected = _official_cosine_scheduler(4e-3, 1e-6, epochs=6, niter=7, warmup_epochs=2)
    schedule = WarmupCosineDecay(4e-3, total_steps=42, warmup_steps=14, minimum=1e-6)
    got = [float(keras.ops.convert_to_numpy(schedule(step))) for step in range(42)]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-9)
    assert float(keras.ops.convert_to_numpy(schedule(100))) == pytest.approx(1e-6)
    assert WarmupCosineDecay.from_config(schedule.get_config()).get_config() == (
        schedule.get_config()
    )
