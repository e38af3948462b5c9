import dataclasses
import logging

import keras
import numpy as np
import pytest

import keras_minimal
from keras_minimal.training.optimizers import (
    SGD,
    AdamW,
    Lamb,
    layer_lr_multipliers,
    learning_rate_schedule,
    make_optimizer,
    no_weight_decay,
)
from keras_minimal.training.recipes import get_recipe

pytestmark = pytest.mark.multibackend


def _dense():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="fc")])
    model.layers[0].kernel.assign(np.array([[0.5, -1.0], [0.25, 2.0], [-0.75, 0.1]]))
    model.layers[0].bias.assign(np.array([0.3, -0.2]))
    return model


def _grads():
    return [
        np.array([[0.1, -0.2], [0.3, 0.05], [-0.4, 0.2]], "float32"),
        np.array([0.5, -0.1], "float32"),
    ]


def _run(optimizer, model, steps=3):
    variables = model.trainable_variables
    optimizer.exclude_from_weight_decay(var_list=[v for v in variables if no_weight_decay(v)])
    for _ in range(steps):
        optimizer.apply([keras.ops.convert_to_tensor(g) for g in _grads()], variables)
    return [keras.ops.convert_to_numpy(v) for v in variables]


def _timm_lamb(params, decayed, lr, wd, steps, eps=1e-6, b1=0.9, b2=0.999, max_norm=1.0):
    params = [p.astype("float64").copy() for p in params]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    for t in range(1, steps + 1):
        grads = [g.astype("float64") for g in _grads()]
        norm = np.sqrt(sum((g**2).sum() for g in grads))
        grads = [g / max(norm / max_norm, 1.0) for g in grads]
        for i, (p, g) in enumerate(zip(params, grads, strict=True)):
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            update = (m[i] / (1 - b1**t)) / (np.sqrt(v[i] / (1 - b2**t)) + eps)
            if decayed[i]:
                update = update + wd * p
                w_norm, u_norm = np.linalg.norm(p), np.linalg.norm(update)
                update = update * (w_norm / u_norm if w_norm > 0 and u_norm > 0 else 1.0)
            params[i] = p - lr * update
    return params


def test_lamb_follows_timm_with_decay_inside_the_trust_ratio():
    model = _dense()
    start = [keras.ops.convert_to_numpy(v) for v in model.trainable_variables]
    got = _run(Lamb(0.01, weight_decay=0.3, global_clipnorm=1.0), model)
    expected = _timm_lamb(start, [True, False], lr=0.01, wd=0.3, steps=3)
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-7)


def test_adamw_decay_is_decoupled_and_scaled_by_the_layer_multiplier():
    model = _dense()
    start = [keras.ops.convert_to_numpy(v).astype("float64") for v in model.trainable_variables]
    multipliers = {v.path: 0.5 for v in model.trainable_variables}
    got = _run(AdamW(0.01, weight_decay=0.1, epsilon=1e-8, lr_multipliers=multipliers), model)
    lr = 0.005
    for i, decayed in enumerate([True, False]):
        p, m, v = start[i].copy(), 0.0, 0.0
        for t in range(1, 4):
            g = _grads()[i].astype("float64")
            if decayed:
                p = p * (1 - lr * 0.1)  # torch AdamW: p ← p·(1 − lr·wd), then the Adam step
            m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
            alpha = lr * np.sqrt(1 - 0.999**t) / (1 - 0.9**t)
            p = p - alpha * m / (np.sqrt(v) + 1e-8 * np.sqrt(1 - 0.999**t))
        np.testing.assert_allclose(got[i], p, rtol=1e-5, atol=1e-7)


def test_sgd_weight_decay_is_l2_on_the_gradient():
    model = _dense()
    start = [keras.ops.convert_to_numpy(v).astype("float64") for v in model.trainable_variables]
    got = _run(SGD(0.1, momentum=0.0, weight_decay=0.01, weight_decay_mode="l2"), model, 1)
    np.testing.assert_allclose(got[0], start[0] - 0.1 * (_grads()[0] + 0.01 * start[0]), 1e-6)
    np.testing.assert_allclose(got[1], start[1] - 0.1 * _grads()[1], rtol=1e-6)


def test_unknown_multiplier_paths_are_refused():
    optimizer = AdamW(0.01, lr_multipliers={"nope/kernel": 0.5})
    with pytest.raises(ValueError, match="lr_multipliers name variables.*nope/kernel"):
        optimizer.build(_dense().trainable_variables)


def test_vanillanet_layer_decay_ids_match_the_official_assigner():
    model = keras_minimal.create_model("vanillanet_6", classes=10, input_shape=(32, 32, 3))
    multipliers = layer_lr_multipliers(model, 0.8, 4)
    # Official: values[i] = 0.8 ** (4 + 1 − i); stem 0, stages.i → i + 1, cls → 5.
    assert multipliers["stem1_conv/kernel"] == pytest.approx(0.8**5)
    assert multipliers["stem_act/depthwise/kernel"] == pytest.approx(0.8**5)
    assert multipliers["stages_0_conv1/kernel"] == pytest.approx(0.8**4)
    assert multipliers["stages_3_act/depthwise/kernel"] == pytest.approx(0.8**1)
    assert multipliers["cls1_fc/kernel"] == multipliers["predictions/bias"] == 1.0
    assert len(multipliers) == len(model.trainable_variables)


def test_make_optimizer_from_a_recipe():
    model = keras_minimal.create_model("vanillanet_6", classes=10, input_shape=(32, 32, 3))
    recipe = get_recipe("vanillanet_6")
    optimizer = make_optimizer(recipe, model, global_batch_size=256, steps_per_epoch=10)
    assert isinstance(optimizer, Lamb) and optimizer.use_ema
    # Official main.py: --opt_eps 1e-8 reaches timm's Lamb through create_optimizer.
    assert optimizer.epsilon == 1e-8
    default = make_optimizer(dataclasses.replace(recipe, optimizer_epsilon=None), model, 256, 10)
    assert default.epsilon == 1e-6  # timm Lamb's own default
    assert optimizer.ema_momentum == pytest.approx(0.99996)
    schedule = optimizer._learning_rate
    assert schedule.peak == pytest.approx(4.8e-3 / 4) and schedule.total_steps == 3000
    assert schedule.warmup_steps == 50 and schedule.minimum == 1e-6
    excluded = {v.path for v in model.trainable_variables if not optimizer._use_weight_decay(v)}
    assert "stem1_bn/gamma" in excluded and "stem1_conv/bias" in excluded
    assert "stem1_conv/kernel" not in excluded and "stem_act/depthwise/kernel" not in excluded
    sgd = make_optimizer(
        dataclasses.replace(recipe, optimizer="sgd", layer_decay=None), model, 256, 10
    )
    assert isinstance(sgd, SGD) and sgd.weight_decay_mode == "l2"
    with pytest.raises(ValueError, match="optimizer must be one of"):
        make_optimizer(dataclasses.replace(recipe, optimizer="rmsprop"), model, 256, 10)


def test_a_run_shorter_than_the_warmup_warms_up_for_the_whole_run(caplog):
    recipe = get_recipe("vanillanet_5")
    assert recipe.warmup_epochs == 5
    with caplog.at_level(logging.WARNING):
        schedule = learning_rate_schedule(recipe, 256, 10, epochs=3)
    assert schedule.warmup_steps == schedule.total_steps == 30
    rates = [float(schedule(step)) for step in range(30)]
    assert rates == sorted(rates) and rates[-1] == pytest.approx(schedule.peak)
    assert len(caplog.records) == 1
    assert "warms up for 5 epochs, longer than this 3-epoch run" in caplog.text
