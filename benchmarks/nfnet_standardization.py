"""NFNet-F0 on CPU: weight standardisation on the fly (training graph) vs folded (to_deploy).

Every call of the training graph re-standardises all 71 M kernel weights; the deploy
graph holds the standardised kernels as plain Conv2D weights. TensorFlow backend,
tf.function (optionally XLA), 256² (F0's test resolution), batch 1 and 8. Target: folded
≥ 1.3× faster. Results go to benchmarks/results/<model>_standardization.json.

    python benchmarks/nfnet_standardization.py --runs=20
    python benchmarks/nfnet_standardization.py --runs=2 --warmup=1 --image_size=64  # smoke
"""

import os
import sys

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("model", "nfnet_f0", "Registered NFNet name.")
flags.DEFINE_integer("image_size", 256, "Input side (F0's test resolution is 256).")
flags.DEFINE_list("batch_sizes", ["1", "8"], "Batch sizes to time.")
flags.DEFINE_integer("runs", 20, "Timed runs per measurement (median reported).")
flags.DEFINE_integer("warmup", 5, "Untimed runs first.")
flags.DEFINE_bool("xla", False, "Also time with jit_compile=True.")
flags.DEFINE_string("results_name", None, "Results file name; default <model>_standardization.")


def latencies(model_name, image_size, batch_sizes, runs, warmup, xla):
    import keras_minimal
    from keras_minimal.deploy import to_deploy
    from keras_minimal.deploy.latency import model_latency

    on_the_fly = keras_minimal.create_model(model_name, input_shape=(image_size, image_size, 3))
    folded = to_deploy(on_the_fly)
    results = {}
    for batch in batch_sizes:
        for jit in (False, True) if xla else (False,):
            engine = "keras_tf_xla" if jit else "keras_tf"
            for graph, model in (("on_the_fly", on_the_fly), ("folded", folded)):
                key = f"{engine}/batch{batch}/{graph}"
                results[key] = model_latency(
                    model, batch_size=batch, runs=runs, warmup=warmup, jit_compile=jit
                )
                print(f"{key:<36}{results[key]['median_ms']:9.1f} ms", flush=True)
    return results


def speedups(results):
    ratios = {}
    for key in results:
        if key.endswith("/on_the_fly"):
            prefix = key.removesuffix("/on_the_fly")
            ratio = results[key]["median_ms"] / results[f"{prefix}/folded"]["median_ms"]
            ratios[f"{prefix} folded speed-up"] = round(ratio, 3)
    return ratios


def main(argv):
    del argv
    from benchmarks.common import write_results

    batch_sizes = [int(b) for b in FLAGS.batch_sizes]
    results = latencies(
        FLAGS.model, FLAGS.image_size, batch_sizes, FLAGS.runs, FLAGS.warmup, FLAGS.xla
    )
    ratios = speedups(results)
    for key, value in ratios.items():
        print(f"{key:<44}{value:7.3f}×")
    path = write_results(
        FLAGS.results_name or f"{FLAGS.model}_standardization",
        {
            "model": FLAGS.model,
            "image_size": FLAGS.image_size,
            "latency": results,
            "speedups": ratios,
            "target": "folded ≥ 1.3× faster",
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    app.run(main)
