"""ConvNeXt-T and PP-LCNet x0.5 / x1.0 at 224², batch 1, CPU: Keras (TF), TFLite, onnxruntime.

Every engine runs the deploy graph (`to_deploy`: PP-LCNet with its BatchNorms folded,
ConvNeXt without stochastic depth) with random weights; latency does not depend on
their values. Engines:

  keras_tf      tf.function of the Keras model (TensorFlow backend, oneDNN, every core);
                also timed on the training graph at inference (keras_tf_train_graph),
                which TensorFlow runs faster for ConvNeXt (its single 7×7 kernels)
  tflite        the same graph exported by keras_minimal.deploy.export (LiteRT converter),
                run by the ai-edge-litert interpreter with XNNPACK and --threads threads
  onnxruntime   the same graph exported by keras_minimal.deploy.export (tf2onnx and the
                ONNX rewrites, batch fixed to 1) in onnxruntime, --threads threads

Results go to benchmarks/results/convnext_pplcnet_latency.json.

    python benchmarks/convnext_pplcnet_latency.py --runs=50
    python benchmarks/convnext_pplcnet_latency.py --models=pplcnet_x1_0 --engines=tflite --runs=2
"""

import os
import sys
import tempfile

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_list(
    "models", ["convnext_tiny", "pplcnet_x0_5", "pplcnet_x1_0"], "Registered model names."
)
flags.DEFINE_list(
    "engines",
    ["keras_tf", "keras_tf_train_graph", "tflite", "onnxruntime"],
    "Engines to time.",
)
flags.DEFINE_integer("image_size", 224, "Input side.")
flags.DEFINE_integer("runs", 50, "Timed runs per measurement (median reported).")
flags.DEFINE_integer("warmup", 10, "Untimed runs first.")
flags.DEFINE_integer("threads", 2, "Threads for TFLite (XNNPACK) and onnxruntime.")
flags.DEFINE_bool("check", True, "Check every engine's logits against Keras (1e-4 relative).")


def build_models(name, image_size):
    """(training graph, deploy graph) with the same random weights."""
    import keras_minimal
    from keras_minimal.deploy import to_deploy

    model = keras_minimal.create_model(
        name, input_shape=(image_size, image_size, 3), classifier_activation=None
    )
    return model, to_deploy(model)


ENGINE_RUNTIMES = {"tflite": "tflite", "onnxruntime": "onnx"}


def time_model(name, workdir):
    import numpy as np

    from keras_minimal.deploy.benchmarking import runtime_function
    from keras_minimal.deploy.latency import inference_function, measure_latency

    trained, model = build_models(name, FLAGS.image_size)
    size = FLAGS.image_size
    x = np.random.default_rng(0).uniform(0, 255, (1, size, size, 3)).astype("float32")
    keras_run = inference_function(model)
    reference = keras_run(x)
    results = {}
    for engine in FLAGS.engines:
        info = {}
        if engine == "keras_tf":
            run = keras_run
        elif engine == "keras_tf_train_graph":
            run = inference_function(trained)
        elif engine in ENGINE_RUNTIMES:
            run = runtime_function(model, ENGINE_RUNTIMES[engine], workdir, 1, FLAGS.threads)
        else:
            raise app.UsageError(f"Unknown engine {engine!r}")
        if FLAGS.check:
            error = float(np.max(np.abs(run(x) - reference)) / np.max(np.abs(reference)))
            info["max_rel_error_vs_keras"] = error
            if not error <= 1e-4:  # NaN fails too
                raise AssertionError(f"{name} on {engine}: max |diff| / max |ref| = {error:.2e}")
        results[engine] = {**measure_latency(run, x, FLAGS.warmup, FLAGS.runs), **info}
        print(f"{name:<16}{engine:<14}{results[engine]['median_ms']:8.2f} ms", flush=True)
    return results


def main(argv):
    del argv
    import tensorflow as tf

    from benchmarks.common import write_results

    tf.get_logger().setLevel("ERROR")
    with tempfile.TemporaryDirectory() as workdir:
        results = {name: time_model(name, workdir) for name in FLAGS.models}
    path = write_results(
        "convnext_pplcnet_latency",
        {
            "image_size": FLAGS.image_size,
            "batch": 1,
            "threads": FLAGS.threads,
            "graph": "deploy (to_deploy)",
            "latency": results,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    app.run(main)
