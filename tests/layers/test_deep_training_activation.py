import numpy as np
import pytest
from keras.ops import convert_to_numpy as to_numpy

from keras_minimal.layers import DeepTrainingActivation

pytestmark = pytest.mark.multibackend


@pytest.mark.parametrize("act_learn", [0.0, 0.3, 1.0])
def test_is_the_papers_blend_of_relu_and_identity(act_learn):
    x = np.linspace(-3, 3, 24, dtype="float32").reshape(2, 3, 4)
    layer = DeepTrainingActivation()
    layer.build(x.shape)
    layer.set_act_learn(act_learn)
    expected = (1 - act_learn) * np.maximum(x, 0) + act_learn * x
    np.testing.assert_allclose(to_numpy(layer(x)), expected, rtol=1e-6, atol=1e-7)


def test_act_learn_is_a_non_trainable_variable():
    layer = DeepTrainingActivation(act_learn=0.25)
    layer.build((None, 4))
    assert layer.trainable_weights == []
    assert [v.name for v in layer.non_trainable_weights] == ["act_learn"]
    assert layer.act_learn_value == 0.25


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), float("inf")])
def test_rejects_act_learn_outside_unit_interval(bad):
    layer = DeepTrainingActivation()
    layer.build((None, 4))
    with pytest.raises(ValueError, match=r"act_learn \(λ\) must lie in \[0, 1\]"):
        layer.set_act_learn(bad)
    with pytest.raises(ValueError, match="must lie in"):
        DeepTrainingActivation(act_learn=bad)
    assert layer.act_learn_value == 1.0


@pytest.mark.parametrize("bad", [True, "0.5", None])
def test_rejects_act_learn_that_is_not_a_number(bad):
    with pytest.raises(TypeError, match=r"act_learn \(λ\) must be a number in \[0, 1\]"):
        DeepTrainingActivation(act_learn=bad)


def test_config_carries_current_act_learn():
    layer = DeepTrainingActivation()
    layer.build((None, 4))
    layer.set_act_learn(0.4)
    clone = DeepTrainingActivation.from_config(layer.get_config())
    assert clone.act_learn_value == pytest.approx(0.4)
