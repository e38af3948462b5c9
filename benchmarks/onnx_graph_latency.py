"""What the ONNX graph rewrites (keras_minimal/deploy/onnx_graph/) buy in onnxruntime, per
family, batch 1, against PyTorch's export of the same architecture in the same run.

For each model (deploy graph, random weights) tf2onnx's graph is written once and run in
onnxruntime (--threads threads) with the rewrites export() applied before this work
("previous": hard-swish and pointwise-Dense rewrites) and with every rewrite ("rewritten"),
next to the torch reference where benchmarks/torch_references.py has one (torch.onnx.export
of the architecture, as benchmarks/reference_latency.py times it).

One session at a time: each round creates a graph's session, warms it (--warmup runs), times
--runs runs and deletes it before the next graph's, so that no idle session's spinning thread
pool competes with the one timed (with several sessions alive, a 3 ms model's round medians
were bimodal on 2 cores). The sessions keep onnxruntime's default
session.intra_op.allow_spinning=1, as users get. The --rounds rounds cycle over the graphs, so
that a busy neighbour or drift slows each alike; the load average at the start and end is
recorded, since the machine may be shared.

    python benchmarks/onnx_graph_latency.py --models=pplcnet_x1_0,convnext_tiny,nfnet_f0
"""

import collections
import copy
import os
import statistics
import sys
import tempfile

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_list("models", ["pplcnet_x1_0", "convnext_tiny", "nfnet_f0"], "Registered models.")
flags.DEFINE_list("image_sizes", ["224", "224", "256"], "Input side of each model.")
flags.DEFINE_integer("threads", 2, "onnxruntime intra-op threads.")
flags.DEFINE_integer("runs", 10, "Timed runs per round.")
flags.DEFINE_integer("warmup", 10, "Untimed runs of each fresh session first.")
flags.DEFINE_integer(
    "rounds", 10, "Rounds, each timing every graph (previous, rewritten, reference)."
)
flags.DEFINE_string("output", "onnx_graph_latency", "Result name under benchmarks/results.")


def _previous_rewrites(model):
    from keras_minimal.deploy.onnx_graph.hard_swish import fuse_hard_swish
    from keras_minimal.deploy.onnx_graph.pointwise_conv import pointwise_matmuls_to_conv

    fuse_hard_swish(model)
    pointwise_matmuls_to_conv(model)


def _session(serialized):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = FLAGS.threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "1")
    return onnxruntime.InferenceSession(serialized, options, providers=["CPUExecutionProvider"])


def _outputs(serialized, feed):
    return _session(serialized).run(None, feed)[0]


def _round_median_ms(serialized, feed):
    """Median of --runs runs of a fresh session after --warmup runs; the session is freed on
    return, so that it is the only one alive while it is timed."""
    from keras_minimal.deploy.latency import measure_latency

    session = _session(serialized)
    timing = measure_latency(
        lambda inputs: session.run(None, inputs), feed, warmup=FLAGS.warmup, runs=FLAGS.runs
    )
    return timing["median_ms"]


def _counts(model):
    return dict(collections.Counter(node.op_type for node in model.graph.node).most_common())


def _load_average():
    return [round(value, 2) for value in os.getloadavg()]


def _reference_graph(name, size, workdir):
    """(serialized torch.onnx export of the reference, description), or (None, why not)."""
    import torch

    from benchmarks.torch_references import (
        export_reference_onnx,
        reference_module,
        reference_names,
    )

    if name not in reference_names():
        return None, "no torch reference in benchmarks/torch_references.py"
    module, description = reference_module(name)
    path = os.path.join(workdir, f"{name}_reference.onnx")
    export_reference_onnx(module, torch.zeros(1, 3, size, size), path)
    with open(path, "rb") as f:
        return f.read(), f"{description} → torch.onnx.export (opset 17)"


def _benchmark(name, size, workdir):
    import numpy as np
    import onnx
    import tensorflow as tf

    import keras_minimal
    from keras_minimal.deploy import to_deploy
    from keras_minimal.deploy.onnx_graph.pipeline import rewrite_model

    model = to_deploy(
        keras_minimal.create_model(name, input_shape=(size, size, 3), classifier_activation=None)
    )
    path = os.path.join(workdir, f"{name}.onnx")
    signature = [tf.TensorSpec((1, size, size, 3), tf.float32, name="image")]
    model.export(path, format="onnx", input_signature=signature, verbose=False, opset_version=17)
    del model
    raw = onnx.load(path)
    graphs = {"previous": copy.deepcopy(raw), "rewritten": copy.deepcopy(raw)}
    _previous_rewrites(graphs["previous"])
    rewrite_model(graphs["rewritten"])
    x = np.random.default_rng(0).uniform(0, 255, (1, size, size, 3)).astype("float32")
    serialized = {key: graph.SerializeToString() for key, graph in graphs.items()}
    feeds = {key: {"image": x} for key in serialized}
    outputs = {key: _outputs(serialized[key], feeds[key]) for key in serialized}
    scale = float(np.abs(outputs["previous"]).max())
    row = {
        "model": name,
        "image_size": size,
        "batch": 1,
        "max_rel_error_rewritten_vs_previous": float(
            np.abs(outputs["rewritten"] - outputs["previous"]).max() / scale
        ),
        "nodes": {key: _counts(graph) for key, graph in graphs.items()},
    }
    del graphs
    reference, row["reference"] = _reference_graph(name, size, workdir)
    if reference is not None:
        serialized["reference"] = reference
        feeds["reference"] = {"x": np.ascontiguousarray(x.transpose(0, 3, 1, 2))}
    row["load_average_start"] = _load_average()
    times = {key: [] for key in serialized}
    for _ in range(FLAGS.rounds):
        for key in serialized:
            times[key].append(_round_median_ms(serialized[key], feeds[key]))
    for key, medians in times.items():
        row[f"{key}_median_ms"] = statistics.median(medians)
        row[f"{key}_fastest_round_ms"] = min(medians)  # the least disturbed by neighbours
        row[f"{key}_round_medians_ms"] = medians
    if reference is not None:
        for key in ("previous", "rewritten"):
            row[f"{key}_over_reference"] = row[f"{key}_median_ms"] / row["reference_median_ms"]
    row["rewritten_over_previous"] = row["rewritten_median_ms"] / row["previous_median_ms"]
    row["load_average_end"] = _load_average()
    if max(row["load_average_start"][0], row["load_average_end"][0]) > os.cpu_count():
        row["note"] = (
            "contended: the load average exceeded the core count (a machine shared with other "
            "engineers); absolute times are inflated, the rounds cycling over the graphs keep "
            "ratios fairer"
        )
    return row


def main(argv):
    del argv
    import json

    from benchmarks.common import write_results

    if len(FLAGS.image_sizes) != len(FLAGS.models):
        raise app.UsageError(
            f"--image_sizes needs one side per model. Received: {len(FLAGS.image_sizes)} sides "
            f"for {len(FLAGS.models)} models."
        )
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for name, size in zip(FLAGS.models, FLAGS.image_sizes, strict=True):
            rows.append(_benchmark(name, int(size), workdir))
            print(json.dumps({k: v for k, v in rows[-1].items() if k != "nodes"}), flush=True)
    print(write_results(FLAGS.output, rows))


if __name__ == "__main__":
    app.run(main)
