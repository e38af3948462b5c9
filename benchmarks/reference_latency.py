"""The PyTorch reference, timed in this run: eager, and onnxruntime after torch.onnx.export.

The references are the official / timm architectures written with torch.nn.functional in
tests/torch_reference.py and checked there against the reference fixtures (VanillaNet,
timm ConvNeXt, timm lcnet); ConvNeXt and PP-LCNet take random weights in timm's layout. Prints one
JSON line (the protocol of tools/benchmark.py --reference):

    python benchmarks/reference_latency.py --model=vanillanet_5 --runtime=eager
    python tools/benchmark.py --models=vanillanet_5 --graphs=deploy --runtimes=onnx \
        --reference="torch eager=python benchmarks/reference_latency.py --runtime=eager" \
        --reference="torch.onnx+ort=python benchmarks/reference_latency.py --runtime=onnxruntime"
"""

import json
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("model", "vanillanet_5", "Registered model name with a torch reference.")
flags.DEFINE_enum("graph", "deploy", ["train", "deploy"], "Which graph of the reference.")
flags.DEFINE_enum("runtime", "eager", ["eager", "onnxruntime"], "Run in torch or onnxruntime.")
flags.DEFINE_integer("image_size", 224, "Input side.")
flags.DEFINE_integer("batch", 1, "Batch size.")
flags.DEFINE_integer("threads", 2, "Intra-op threads (torch and onnxruntime).")
flags.DEFINE_integer("runs", 20, "Timed runs.")
flags.DEFINE_integer("warmup", 5, "Untimed runs first.")


def _module(function, state, **kwargs):
    """A torch.nn.Module running function(state tensors, x, **kwargs), for torch.onnx."""
    import torch

    class Reference(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.names = sorted(state)
            for i, key in enumerate(self.names):
                self.register_buffer(f"t{i}", torch.from_numpy(np.asarray(state[key])))

        def forward(self, x):
            sd = {key: getattr(self, f"t{i}") for i, key in enumerate(self.names)}
            return function(sd, x, **kwargs)

    return Reference().eval()


def vanillanet_reference(name, graph):
    from keras_minimal.applications.vanillanet.variants import VARIANTS
    from tests.torch_reference import (
        random_deploy_state_dict,
        random_training_state_dict,
        vanillanet_torch,
    )

    variant = VARIANTS[name]
    make_state = random_deploy_state_dict if graph == "deploy" else random_training_state_dict
    state = make_state(variant.dims, variant.strides, 1000)
    module = _module(vanillanet_torch, state, strides=variant.strides, ada_pool=variant.ada_pool)
    return module, "official VanillaNet architecture (torch.nn.functional)"


def timm_reference(function, description, **model_kwargs):
    """A reference in timm's layout, its random weights shaped by our checkpoint mapping."""

    def build(name, graph):
        import keras

        import keras_minimal
        from tests.torch_reference import random_reference_state

        with keras.StatelessScope(initialize_variables=False):
            model = keras_minimal.create_model(name, **model_kwargs)
        return _module(function, random_reference_state(model)), description

    return build


def _references():
    from tests import torch_reference

    references = {f"vanillanet_{d}": vanillanet_reference for d in range(5, 14)}
    convnext = timm_reference(torch_reference.convnext_torch, "timm ConvNeXt (torch.nn.functional)")
    lcnet = timm_reference(
        torch_reference.lcnet_torch, "timm lcnet (torch.nn.functional)", head_bias=True
    )
    for size in ("tiny", "small", "base", "large", "xlarge"):
        references[f"convnext_{size}"] = convnext
    for scale in ("0_25", "0_35", "0_5", "0_75", "1_0", "1_5", "2_0", "2_5"):
        references[f"pplcnet_x{scale}"] = lcnet
    return references


def main(argv):
    del argv
    import torch

    from keras_minimal.deploy.latency import measure_latency

    references = _references()
    if FLAGS.model not in references:
        raise app.UsageError(f"No torch reference for {FLAGS.model!r}; have {sorted(references)}.")
    torch.set_num_threads(FLAGS.threads)
    module, description = references[FLAGS.model](FLAGS.model, FLAGS.graph)
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
            torch.onnx.export(module, (x,), path, dynamo=False, opset_version=17, input_names=["x"])
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
                "reference": description,
                "torch": torch.__version__,
                **timing,
            }
        )
    )


if __name__ == "__main__":
    app.run(main)
