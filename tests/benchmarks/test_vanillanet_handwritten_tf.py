"""The hand-written TensorFlow deploy graph that benchmarks/vanillanet_latency.py times."""

import numpy as np
import pytest

import keras_minimal


def _randomised(model, seed=0):
    """Weights large enough that the logits depend on the input (the init's signal fades)."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in model.get_weights()])
    return model


@pytest.mark.parametrize("strides", [[2, 2], [2, 1]])
def test_handwritten_deploy_graph_computes_the_keras_deploy_model(strides):
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("the hand-written graph is TensorFlow ops")
    from benchmarks.vanillanet_handwritten_tf import handwritten_deploy_function

    fused = _randomised(
        keras_minimal.applications.VanillaNet(
            [8, 16, 24],
            strides,
            deploy=True,
            input_shape=(32, 32, 3),
            classes=10,
            classifier_activation=None,
        )
    )
    run = handwritten_deploy_function(fused, strides)
    images = np.random.default_rng(1).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    expected = fused.predict(images, verbose=0)
    assert np.abs(expected[0] - expected[1]).max() > 1e-2 * np.abs(expected).max()
    np.testing.assert_allclose(run(images), expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
