"""VanillaNet-5 at 224², batch 1, CPU: training graph vs fused deploy graph.

Ours on the TensorFlow backend (tf.function, with and without XLA), the same deploy
graph written directly in TensorFlow ops (benchmarks/vanillanet_handwritten_tf.py, the
ceiling of what TensorFlow runs) and, in the same run, the official architecture in
PyTorch eager (the reference). Results go to benchmarks/results/<model>_latency.json
and the README.

    python benchmarks/vanillanet_latency.py --runs=20
"""

import os
import sys

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

from keras_minimal.applications.vanillanet.variants import VARIANTS  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("model", "vanillanet_5", "Registered VanillaNet name.")
flags.DEFINE_integer("image_size", 224, "Input side.")
flags.DEFINE_integer("runs", 20, "Timed runs per measurement (median reported).")
flags.DEFINE_integer("warmup", 5, "Untimed runs first.")
flags.DEFINE_integer("threads", 2, "PyTorch intra-op threads (TF uses every core).")
flags.DEFINE_bool("reference", True, "Also time the official architecture in PyTorch eager.")
flags.DEFINE_string("results_name", None, "Results file name; default <model>_latency.")


def keras_latencies(name, image_size, runs, warmup):
    import keras_minimal
    from keras_minimal.deploy import to_deploy
    from keras_minimal.deploy.latency import model_latency

    trained = keras_minimal.create_model(name, input_shape=(image_size, image_size, 3))
    fused = to_deploy(trained)
    results = {}
    for graph, model in (("train", trained), ("deploy", fused)):
        for xla in (False, True):
            key = f"keras_tf{'_xla' if xla else ''}/{graph}"
            results[key] = model_latency(model, runs=runs, warmup=warmup, jit_compile=xla)
            print(f"{key:<24}{results[key]['median_ms']:8.1f} ms")
    if not VARIANTS[name].ada_pool:
        key = "tf_handwritten/deploy"
        results[key] = handwritten_latency(fused, name, runs, warmup)
        print(f"{key:<24}{results[key]['median_ms']:8.1f} ms")
    return results


def handwritten_latency(fused, name, runs, warmup):
    import numpy as np

    from benchmarks.vanillanet_handwritten_tf import handwritten_deploy_function
    from keras_minimal.deploy.latency import measure_latency

    run = handwritten_deploy_function(fused, VARIANTS[name].strides)
    x = np.random.default_rng(0).uniform(0, 255, (1, *fused.input_shape[1:])).astype("float32")
    difference = np.abs(run(x) - fused.predict(x, verbose=0)).max()
    if difference > 1e-5:
        raise AssertionError(f"The hand-written graph differs from the Keras one by {difference}")
    return measure_latency(run, x, warmup=warmup, runs=runs)


def torch_latencies(name, image_size, runs, warmup, threads):
    import numpy as np
    import torch

    from keras_minimal.deploy.latency import measure_latency
    from tests.torch_reference import (
        random_deploy_state_dict,
        random_training_state_dict,
        vanillanet_forward,
    )

    torch.set_num_threads(threads)
    variant = VARIANTS[name]
    x = np.random.default_rng(0).normal(size=(1, image_size, image_size, 3)).astype("float32")
    results = {}
    states = {
        "train": random_training_state_dict(variant.dims, variant.strides, 1000),
        "deploy": random_deploy_state_dict(variant.dims, variant.strides, 1000),
    }
    for graph, state in states.items():
        tensors = {k: torch.from_numpy(v) for k, v in state.items()}

        def run(inputs, tensors=tensors):
            with torch.no_grad():
                return vanillanet_forward(
                    tensors, inputs, variant.strides, ada_pool=variant.ada_pool
                )

        key = f"torch_eager_reference/{graph}"
        results[key] = measure_latency(run, x, warmup=warmup, runs=runs)
        print(f"{key:<24}{results[key]['median_ms']:8.1f} ms")
    return results


def main(argv):
    del argv
    from benchmarks.common import write_results

    results = keras_latencies(FLAGS.model, FLAGS.image_size, FLAGS.runs, FLAGS.warmup)
    if FLAGS.reference:
        results.update(
            torch_latencies(FLAGS.model, FLAGS.image_size, FLAGS.runs, FLAGS.warmup, FLAGS.threads)
        )
    summary = {}
    for engine in ("keras_tf", "keras_tf_xla", "torch_eager_reference"):
        if f"{engine}/train" in results:
            ratio = (
                results[f"{engine}/deploy"]["median_ms"] / results[f"{engine}/train"]["median_ms"]
            )
            summary[f"{engine} deploy/train"] = round(ratio, 3)
    best_ours = min(
        results[k]["median_ms"] for k in results if k.startswith("keras") and "deploy" in k
    )
    if "tf_handwritten/deploy" in results:
        summary["keras_tf deploy / tf_handwritten deploy"] = round(
            results["keras_tf/deploy"]["median_ms"] / results["tf_handwritten/deploy"]["median_ms"],
            3,
        )
    if "torch_eager_reference/deploy" in results:
        summary["best ours deploy / torch eager deploy"] = round(
            best_ours / results["torch_eager_reference/deploy"]["median_ms"], 3
        )
    for key, value in summary.items():
        print(f"{key:<40}{value:8.3f}")
    path = write_results(
        FLAGS.results_name or f"{FLAGS.model}_latency",
        {
            "model": FLAGS.model,
            "image_size": FLAGS.image_size,
            "batch": 1,
            "latency": results,
            "ratios": summary,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    app.run(main)
