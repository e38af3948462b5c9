"""The PyTorch reference, timed in this run: eager, and onnxruntime after torch.onnx.export.

The references are the official / timm architectures written with torch.nn.functional in
tests/torch_reference.py and checked there against the reference fixtures (VanillaNet,
timm ConvNeXt, lcnet and dm_nfnet); ConvNeXt, PP-LCNet and NFNet take random weights in timm's
layout. Prints one JSON line (the protocol of tools/benchmark.py --reference):

    python benchmarks/reference_latency.py --model=vanillanet_5 --runtime=eager
    python tools/benchmark.py --models=vanillanet_5 --graphs=deploy --runtimes=onnx \
        --reference="torch eager=python benchmarks/reference_latency.py --runtime=eager \
            --model={model} --batch={batch} --image_size={image_size}" \
        --reference="torch.onnx+ort=python benchmarks/reference_latency.py \
            --runtime=onnxruntime --model={model} --batch={batch} --image_size={image_size}"

(tools/benchmark.py fills the {placeholders} and runs each before and after ours.)
"""

import json
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

from benchmarks.torch_references import (  # noqa: E402
    export_reference_onnx,
    reference_module,
    reference_names,
)

FLAGS = flags.FLAGS
flags.DEFINE_string("model", "vanillanet_5", "Registered model name with a torch reference.")
flags.DEFINE_enum("graph", "deploy", ["train", "deploy"], "Which graph of the reference.")
flags.DEFINE_enum("runtime", "eager", ["eager", "onnxruntime"], "Run in torch or onnxruntime.")
flags.DEFINE_integer("image_size", 224, "Input side.")
flags.DEFINE_integer("batch", 1, "Batch size.")
flags.DEFINE_integer("threads", 2, "Intra-op threads (torch and onnxruntime).")
flags.DEFINE_integer("runs", 20, "Timed runs.")
flags.DEFINE_integer("warmup", 5, "Untimed runs first.")


def main(argv):
    del argv
    import torch

    from keras_minimal.deploy.latency import measure_latency

    if FLAGS.model not in reference_names():
        raise app.UsageError(f"No torch reference for {FLAGS.model!r}; have {reference_names()}.")
    torch.set_num_threads(FLAGS.threads)
    module, description = reference_module(FLAGS.model, FLAGS.graph)
    x = torch.from_numpy(
        np.random.default_rng(0)
        .normal(size=(FLAGS.batch, 3, FLAGS.image_size, FLAGS.image_size))
        .astype("float32")
    )
    if FLAGS.runtime == "eager":

        def run(inputs):
            with torch.no_grad():
                return module(inputs)

        timing = measure_latency(run, x, warmup=FLAGS.warmup, runs=FLAGS.runs)
    else:
        import onnxruntime

        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "reference.onnx")
            export_reference_onnx(module, x, path)
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = FLAGS.threads
            session = onnxruntime.InferenceSession(
                path, options, providers=["CPUExecutionProvider"]
            )
            feed = x.numpy()
            timing = measure_latency(
                lambda _: session.run(None, {"x": feed}), feed, warmup=FLAGS.warmup, runs=FLAGS.runs
            )
    print(
        json.dumps(
            {
                "model": FLAGS.model,
                "graph": FLAGS.graph,
                "runtime": FLAGS.runtime,
                "batch": FLAGS.batch,
                "image_size": FLAGS.image_size,
                "reference": description,
                "torch": torch.__version__,
                **timing,
            }
        )
    )


if __name__ == "__main__":
    app.run(main)
