"""Inference latency of a Keras model on the current backend (batch-1 style timing)."""

import statistics
import time

import keras
import numpy as np


def inference_function(model, jit_compile=False):
    """A compiled-where-possible callable x → outputs for timing inference.

    TensorFlow: tf.function (XLA when jit_compile). JAX: jax.jit of the stateless
    call. torch: eager under no_grad (torch.compile is out of scope here).
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        function = tf.function(lambda x: model(x, training=False), jit_compile=jit_compile)
        return lambda x: function(x).numpy()
    if backend == "jax":
        import jax

        trainable = [v.value for v in model.trainable_variables]
        non_trainable = [v.value for v in model.non_trainable_variables]

        @jax.jit
        def run(x):
            return model.stateless_call(trainable, non_trainable, x, training=False)[0]

        return lambda x: np.asarray(run(x))
    import torch

    def run(x):
        with torch.no_grad():
            return keras.ops.convert_to_numpy(model(x, training=False))

    return run


def measure_latency(function, inputs, warmup=5, runs=20):
    """Median and p90 milliseconds of `function(inputs)` over `runs` timed calls."""
    for _ in range(warmup):
        function(inputs)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function(inputs)
        times.append((time.perf_counter() - start) * 1000.0)
    times.sort()
    return {
        "median_ms": statistics.median(times),
        "p90_ms": times[min(len(times) - 1, int(round(0.9 * (len(times) - 1))))],
        "runs": runs,
    }


def model_latency(model, batch_size=1, warmup=5, runs=20, jit_compile=False, seed=0):
    """Latency of `model` on random images of its input size (which must be static)."""
    shape = tuple(model.input.shape[1:])
    if None in shape:
        raise ValueError(
            f"model_latency needs a static input size. Received: input shape {shape}; "
            "build the model with input_shape=(H, W, C)."
        )
    inputs = np.random.default_rng(seed).uniform(0, 255, (batch_size, *shape)).astype("float32")
    return measure_latency(inference_function(model, jit_compile), inputs, warmup, runs)
