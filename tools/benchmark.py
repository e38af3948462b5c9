r"""Latency (batch 1) and throughput (batch 32) of models across runtimes, train vs deploy graph.

    python tools/benchmark.py --models=vanillanet_5,pplcnet_x1_0 \
        --runtimes=keras,keras_xla,saved_model,tflite,onnx --output=benchmarks/results/runtimes
    python tools/benchmark.py --models=vanillanet_5 --graphs=deploy --runtimes=onnx,keras_bf16 \
        --reference="torch.onnx+ort=python benchmarks/reference_latency.py --runtime=onnxruntime \
            --model={model} --batch={batch} --image_size={image_size} --runs={runs}"

Writes <output>.json (rows + machine and versions) and <output>.png (latency vs GMACs) and
prints a table. Every exported runtime is verified against the Keras model before timing.

A --reference "LABEL=COMMAND" is timed in the same run: for each model and batch size its
command runs once before that model's runtimes and once after (its row: the mean of the two
medians, and each), with {model}, {batch}, {image_size}, {runs} and {warmup} replaced by the
values of the runs it is compared with; each of our rows gets over_reference[LABEL], our median
over the reference's (see keras_minimal/deploy/reference_runs.py). The command prints one JSON
line with "median_ms", as benchmarks/reference_latency.py does.
"""

import functools
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
flags.DEFINE_multi_string(
    "reference",
    [],
    "'LABEL=COMMAND' printing a JSON line with median_ms, run before and after each model's "
    "runtimes at each batch size; {model}, {batch}, {image_size}, {runs} and {warmup} in "
    "COMMAND become the values of the runs it is compared with.",
)
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


def runtime_rows(name, graphs, summaries, batch):
    """Our rows of model `name` (its graphs and their summaries) at one batch size, each printed
    as it is measured."""
    from keras_minimal.deploy.benchmarking import benchmark_model, format_rows

    rows = []
    for graph, model in graphs.items():
        for row in benchmark_model(
            model,
            FLAGS.runtimes,
            [batch],
            FLAGS.runs,
            FLAGS.warmup,
            FLAGS.threads,
            FLAGS.throughput_runs,
        ):
            rows.append({"model": name, "graph": graph, **summaries[graph], **row})
            print(format_rows(rows[-1:]).splitlines()[-1], flush=True)
    return rows


def parse_references(values):
    references = [value.partition("=")[::2] for value in values]
    for value, (label, command) in zip(values, references, strict=True):
        if not label.strip() or not command.strip():
            raise app.UsageError(
                f"--reference takes LABEL=COMMAND, e.g. 'torch=python "
                f"benchmarks/reference_latency.py --batch={{batch}}'. Received: {value!r}"
            )
    return references


def reference_result(label, command):
    """The JSON line of a --reference command; its failure is the user's command failing."""
    from keras_minimal.deploy.reference_runs import run_reference_command

    try:
        return run_reference_command(command)
    except RuntimeError as error:
        raise app.UsageError(f"--reference {label}: {error}") from None


def main(argv):
    del argv
    from keras_minimal.deploy.benchmarking import (
        RUNTIMES,
        describe_environment,
        format_rows,
        model_summary,
        plot_latency_vs_gmacs,
    )
    from keras_minimal.deploy.reference_runs import (
        check_reference_commands,
        time_between_references,
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
    references = parse_references(FLAGS.reference)
    check_reference_commands(references, FLAGS.models, batch_sizes)
    rows = []
    for name in FLAGS.models:
        graphs = graphs_of(name, FLAGS.graphs, FLAGS.image_size)
        summaries = {graph: model_summary(model) for graph, model in graphs.items()}
        for batch in batch_sizes:
            rows += time_between_references(
                functools.partial(runtime_rows, name, graphs, summaries, batch),
                references,
                run=reference_result,
                model=name,
                batch=batch,
                image_size=FLAGS.image_size,
                runs=FLAGS.runs if batch == 1 else FLAGS.throughput_runs,
                warmup=FLAGS.warmup,
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
