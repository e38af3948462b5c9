"""Training throughput (images/s) at 224² on one GPU: keras_minimal (XLA + bf16) vs PyTorch.

For each model, a full training step (forward, loss, backward, optimizer update) on a
synthetic batch that stays on the device, timed after warm-up; in the same run, the
PyTorch reference (timm, or the official VanillaNet code) with bf16 autocast and
torch.compile, each engine in its own subprocess. Target: keras_minimal ≥ 1.1× PyTorch.

    python benchmarks/gpu_training_throughput.py                       # record (GPU)
    python benchmarks/gpu_training_throughput.py --steps=3 --warmup=1 --batch_size=8 \
        --models=vanillanet_5 --engines=keras                          # smoke run (CPU)
    # the official VanillaNet code for the PyTorch side of vanillanet_5:
    python benchmarks/gpu_training_throughput.py --vanillanet_repo=/path/to/VanillaNet

Models not registered in this checkout (ConvNeXt, NFNet, PP-LCNet land from other
branches) are reported as skipped.
"""

import json
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_list(
    "models", ["vanillanet_5", "convnext_tiny", "nfnet_f0", "pplcnet_x1_0"], "Registry names."
)
flags.DEFINE_list("engines", ["keras", "torch"], "Engines to time (each in a subprocess).")
flags.DEFINE_integer("batch_size", 128, "Batch size.")
flags.DEFINE_integer("image_size", 224, "Input side.")
flags.DEFINE_integer("steps", 50, "Timed training steps.")
flags.DEFINE_integer("warmup", 10, "Untimed steps first (compilation).")
flags.DEFINE_enum("precision", "mixed_bfloat16", ["mixed_bfloat16", "float32"], "Keras policy.")
flags.DEFINE_string("vanillanet_repo", None, "Checkout of huawei-noah/VanillaNet (torch side).")
flags.DEFINE_string("_worker", None, "Internal: engine:model to time in this process.")

# PyTorch references: timm names (timm ≥ 1.0), or the official VanillaNet module.
TIMM_NAMES = {
    "convnext_tiny": "convnext_tiny",
    "nfnet_f0": "dm_nfnet_f0",
    "pplcnet_x1_0": "lcnet_100",
}


def keras_step_rate(name):
    import keras
    import numpy as np
    import tensorflow as tf

    import keras_minimal

    if name not in keras_minimal.list_models():
        return {"skipped": f"{name} is not registered in this checkout"}
    keras.config.set_dtype_policy(FLAGS.precision)
    size = FLAGS.image_size
    model = keras_minimal.create_model(
        name, classes=1000, input_shape=(size, size, 3), classifier_activation=None
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(1e-4),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=True,
    )
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (FLAGS.batch_size, size, size, 3)).astype("float32")
    labels = rng.integers(0, 1000, FLAGS.batch_size)
    device = "/GPU:0" if tf.config.list_physical_devices("GPU") else "/CPU:0"
    with tf.device(device):  # synthetic input that stays on the device
        images, labels = tf.identity(images), tf.identity(labels)
    for _ in range(FLAGS.warmup):
        model.train_on_batch(images, labels)
    start = time.perf_counter()
    for _ in range(FLAGS.steps):
        loss = model.train_on_batch(images, labels)
    float(np.asarray(loss))  # wait for the device
    seconds = time.perf_counter() - start
    return {"images_per_s": FLAGS.steps * FLAGS.batch_size / seconds, "device": device}


def torch_model(name):
    if name in TIMM_NAMES:
        import timm

        return timm.create_model(TIMM_NAMES[name], num_classes=1000)
    if name.startswith("vanillanet") and FLAGS.vanillanet_repo:
        sys.path.insert(0, FLAGS.vanillanet_repo)
        from models import vanillanet

        return getattr(vanillanet, name)()
    return None


def torch_step_rate(name):
    import torch

    model = torch_model(name)
    if model is None:
        return {"skipped": f"no PyTorch reference for {name} (pass --vanillanet_repo)"}
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = model.to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    compiled = torch.compile(model)
    size = FLAGS.image_size
    images = torch.rand(FLAGS.batch_size, 3, size, size, device=device)
    labels = torch.randint(0, 1000, (FLAGS.batch_size,), device=device)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device, dtype=torch.bfloat16):
            loss = loss_fn(compiled(images), labels)
        loss.backward()
        optimizer.step()
        return loss

    for _ in range(FLAGS.warmup):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(FLAGS.steps):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return {"images_per_s": FLAGS.steps * FLAGS.batch_size / seconds, "device": device}


def run_worker(engine, name):
    try:
        result = keras_step_rate(name) if engine == "keras" else torch_step_rate(name)
    except ImportError as error:
        result = {"skipped": f"{engine} unavailable: {error}"}
    print("RESULT " + json.dumps(result))


def main(argv):
    if FLAGS._worker:
        engine, name = FLAGS._worker.split(":")
        run_worker(engine, name)
        return 0
    from benchmarks.common import write_results

    results = {
        "batch_size": FLAGS.batch_size,
        "image_size": FLAGS.image_size,
        "keras_precision": FLAGS.precision,
        "keras": "jit_compile=True (XLA), TF backend, AdamW",
        "torch": "bf16 autocast + torch.compile, AdamW",
    }
    passthrough = [a for a in argv[1:]] + [
        f"--{flag}={getattr(FLAGS, flag)}"
        for flag in ("batch_size", "image_size", "steps", "warmup", "precision")
    ]
    if FLAGS.vanillanet_repo:
        passthrough.append(f"--vanillanet_repo={FLAGS.vanillanet_repo}")
    for name in FLAGS.models:
        row = {}
        for engine in FLAGS.engines:
            command = [sys.executable, __file__, f"--_worker={engine}:{name}", *passthrough]
            process = subprocess.run(command, capture_output=True, text=True)
            lines = [x for x in process.stdout.splitlines() if x.startswith("RESULT ")]
            row[engine] = json.loads(lines[-1][7:]) if lines else {"error": process.stderr[-1500:]}
        keras_rate = row.get("keras", {}).get("images_per_s")
        torch_rate = row.get("torch", {}).get("images_per_s")
        if keras_rate and torch_rate:
            row["keras_over_torch"] = keras_rate / torch_rate
        results[name] = row
        print(name, json.dumps(row), flush=True)
    print(f"wrote {write_results('gpu_training_throughput', results)}")
    return 0


if __name__ == "__main__":
    app.run(main)
