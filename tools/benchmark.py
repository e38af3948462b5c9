r"""Latency (batch 1) and throughput (batch 32) of models across runtimes, train vs deploy graph.

    python tools/benchmark.py --models=vanillanet_5,pplcnet_x1_0 \
        --runtimes=keras,keras_xla,saved_model,tflite,onnx --output=benchmarks/results/runtimes
    python tools/benchmark.py --models=vanillanet_5 --graphs=deploy --runtimes=onnx,keras_bf16 \
        --reference="torch eager=python benchmarks/reference_latency.py --model=vanillanet_5"

Writes <output>.json (rows + machine and versions) and <output>.png (latency vs GMACs) and
prints a table. Every exported runtime is verified against the Keras model before timing.
"""

import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

from tools.cli import run  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_list("models", ["vanillanet_5"], "Registered model names.")
flags.DEFINE_list("graphs", ["train", "deploy"], "train (as built) and/or deploy (to_deploy).")
flags.DEFINE_list(
    "runtimes",
    ["keras", "keras_xla", "saved_model", "tflite", "onnx"],
    "keras, keras_xla, keras_bf16, saved_model, tflite, tflite_int8, onnx, onnx_int8.",
)
flags.DEFINE_integer("image_size", 224, "Input side.", lower_bound=1)
flags.DEFINE_list("batch_sizes", ["1", "32"], "Batch sizes: 1 for latency, larger for throughput.")
flags.DEFINE_integer("runs", 20, "Timed runs at batch 1 (median and p90 reported).", lower_bound=1)
flags.DEFINE_integer("throughput_runs", 5, "Timed runs at larger batches.", lower_bound=1)
flags.DEFINE_integer("warmup", 5, "Untimed runs first.", lower_bound=0)
flags.DEFINE_integer(
    "threads", 2, "TFLite and onnxruntime threads (TensorFlow uses every core).", lower_bound=1
)
flags.DEFINE_multi_string("reference", [], "'label=command' printing a JSON line with median_ms.")
flags.DEFINE_string("output", None, "Output prefix for <prefix>.json and <prefix>.png.")


def graphs_of(name, graphs, image_size):
    import keras_minimal
    from keras_minimal.deploy import to_deploy

    # Logits, not probabilities: a softmax of random weights is flat and says little about drift.
    model = keras_minimal.create_model(
        name, input_shape=(image_size, image_size, 3), classifier_activation=None
    )
    built = {"train": model}
    if "deploy" in graphs:
        built["deploy"] = to_deploy(model)
    return {graph: built[graph] for graph in graphs}


def parse_batch_sizes(values):
    if not all(value.isdigit() and int(value) > 0 for value in values):
        raise app.UsageError(
            f"--batch_sizes takes positive integers, e.g. 1,32. Received: {','.join(values)}"
        )
    return [int(value) for value in values]


def reference_result(label, command):
    """The JSON line of a --reference command; its failure is the user's command failing."""
    from keras_minimal.deploy.benchmarking import run_reference_command

    try:
        return run_reference_command(command)
    except RuntimeError as error:
        raise app.UsageError(f"--reference {label}: {error}") from None


def main(argv):
    del argv
    from keras_minimal.deploy.benchmarking import (
        RUNTIMES,
        benchmark_model,
        describe_environment,
        format_rows,
        model_summary,
        plot_latency_vs_gmacs,
    )

    unknown = [r for r in FLAGS.runtimes if r not in RUNTIMES]
    if unknown:
        raise app.UsageError(f"Unknown runtime(s) {unknown}; choose from {RUNTIMES}.")
    bad_graphs = [g for g in FLAGS.graphs if g not in ("train", "deploy")]
    if bad_graphs:
        raise app.UsageError(f"Unknown graph(s) {bad_graphs}; choose from train, deploy.")
    for flag in ("models", "graphs", "runtimes", "batch_sizes"):
        if not FLAGS[flag].value:
            raise app.UsageError(f"--{flag} is empty: name at least one.")
    batch_sizes = parse_batch_sizes(FLAGS.batch_sizes)
    rows = []
    for name in FLAGS.models:
        for graph, model in graphs_of(name, FLAGS.graphs, FLAGS.image_size).items():
            summary = model_summary(model)
            for row in benchmark_model(
                model,
                FLAGS.runtimes,
                batch_sizes,
                FLAGS.runs,
                FLAGS.warmup,
                FLAGS.threads,
                FLAGS.throughput_runs,
            ):
                rows.append({"model": name, "graph": graph, **summary, **row})
                print(format_rows(rows[-1:]).splitlines()[-1], flush=True)
    for reference in FLAGS.reference:
        label, _, command = reference.partition("=")
        result = reference_result(label, command)
        rows.append(
            {
                "model": result.get("model", label),
                "graph": result.get("graph", ""),
                "runtime": f"ref:{label}",
                "batch": result.get("batch", 1),
                **result,
            }
        )
    print("\n" + format_rows(rows))
    if FLAGS.output:
        os.makedirs(os.path.dirname(os.path.abspath(FLAGS.output)), exist_ok=True)
        with open(FLAGS.output + ".json", "w") as f:
            json.dump({"environment": describe_environment(), "rows": rows}, f, indent=2)
        plot_latency_vs_gmacs(rows, FLAGS.output + ".png")
        print(f"wrote {FLAGS.output}.json and {FLAGS.output}.png")
    failed = [f"{r['model']} {r['runtime']} (batch {r['batch']})" for r in rows if "error" in r]
    if failed:
        print(f"error: these runtimes failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    run(main)
