"""Shared test helpers: reference fixtures, tolerances, parameter counting."""

import json
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

DATA = Path(__file__).parent / "data"


@dataclass
class ReferenceFixture:
    meta: dict
    state_dict: dict
    deploy_state_dict: dict
    inputs: np.ndarray
    outputs: dict

    @property
    def config(self):
        return self.meta["reference_config"]


def load_fixture(name):
    """A reference fixture from tests/data (copied from ../shared/fixtures)."""
    with np.load(DATA / f"{name}.npz", allow_pickle=False) as data:

        def prefixed(prefix):
            return {k[len(prefix) :]: data[k] for k in data.files if k.startswith(prefix)}

        return ReferenceFixture(
            meta=json.loads(str(data["meta"])),
            state_dict=prefixed("sd/"),
            deploy_state_dict=prefixed("deploy_sd/"),
            inputs=data["input"],
            outputs=prefixed("out/"),
        )


def vanillanet_for(fixture, **kwargs):
    """An untrained VanillaNet of a VanillaNet fixture's architecture: logits, no
    preprocessing, the fixture's input size; `kwargs` go to the builder."""
    from keras_minimal.applications import VanillaNet

    config = fixture.config
    kwargs.setdefault("act_num", config["act_num"])
    kwargs.setdefault("classes", config["num_classes"])
    return VanillaNet(
        config["dims"],
        config["strides"],
        include_preprocessing=False,
        classifier_activation=None,
        input_shape=fixture.inputs.shape[1:],
        **kwargs,
    )


def nfnet_for(fixture, **kwargs):
    """An untrained NFNet of a timm dm_nfnet fixture's architecture: logits, no
    preprocessing, the fixture's input size; `kwargs` go to the builder."""
    from keras_minimal.applications import NFNet

    config = fixture.meta["dm_nfnet_cfg_args"]
    return NFNet(
        config["depths"],
        config["channels"],
        group_size=config["group_size"],
        stem_chs=config["stem_chs"],
        classes=fixture.meta["num_classes"],
        include_preprocessing=False,
        classifier_activation=None,
        input_shape=fixture.inputs.shape[1:],
        **kwargs,
    )


def reference_param_counts():
    return json.loads((DATA / "reference_param_counts.json").read_text())


def assert_matches_reference(ours, reference, rtol=1e-4):
    """max |ours − ref| ≤ rtol · max |ref| (the parity criterion of the issues)."""
    ours = keras.ops.convert_to_numpy(ours)
    error = np.max(np.abs(ours - reference))
    scale = np.max(np.abs(reference))
    assert ours.shape == reference.shape, (ours.shape, reference.shape)
    assert error <= rtol * scale, f"max |diff| {error:.3g} > {rtol} · max |ref| ({scale:.3g})"


def trainable_param_count(model):
    return sum(int(np.prod(v.shape)) for v in model.trainable_variables)


def batch_norm_layers(layer):
    found = []
    for sub in getattr(layer, "_layers", []):
        if isinstance(sub, keras.layers.BatchNormalization):
            found.append(sub)
        else:
            found.extend(batch_norm_layers(sub))
    return found


def randomize_batch_norms(model, seed=0):
    """Give every BatchNorm non-trivial statistics so that folding them is really tested."""
    rng = np.random.default_rng(seed)
    for bn in batch_norm_layers(model):
        n = bn.gamma.shape[0]
        bn.gamma.assign(rng.uniform(0.5, 1.5, n).astype("float32"))
        bn.beta.assign(rng.normal(0, 0.2, n).astype("float32"))
        bn.moving_mean.assign(rng.normal(0, 0.2, n).astype("float32"))
        bn.moving_variance.assign(rng.uniform(0.5, 2.0, n).astype("float32"))
    return model


def backend_gradient(function, x):
    """d sum(function(x)) / dx as numpy, on the current Keras backend (`function` returns
    a scalar)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = function(x)
        return tape.gradient(y, x).numpy()
    if backend == "jax":
        import jax

        return np.asarray(jax.grad(function)(x))
    import torch

    x = torch.tensor(x, requires_grad=True)
    function(x).backward()
    return x.grad.numpy()
