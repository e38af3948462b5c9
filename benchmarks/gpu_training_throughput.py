"""Training throughput (images/s) at 224² on one GPU: keras_minimal (XLA + bf16) vs PyTorch.

For each model, a full training step (forward, loss, backward, optimizer update) on a
synthetic batch that stays on the device, timed after warm-up; in the same run, the
PyTorch reference with bf16 autocast, channels-last and torch.compile, each engine in its
own subprocess. Target: keras_minimal ≥ 1.1× PyTorch.

Keras runs on the JAX backend by default (every jitted step is XLA) and on TensorFlow with
--keras_backend=tensorflow (jit_compile=True). The PyTorch references: timm for ConvNeXt,
NFNet (dm_nfnet_f0) and PP-LCNet (lcnet_100); for VanillaNet the official code when
--vanillanet_repo points at a checkout, else tests/torch_vanillanet.py (the official
architecture and state-dict names, checked against the official fixtures).

    python benchmarks/gpu_training_throughput.py                       # record (GPU)
    python benchmarks/gpu_training_throughput.py --steps=3 --warmup=1 --batch_size=8 \
        --models=vanillanet_5 --image_size=64                          # smoke run (CPU)

On the lent GPU machine (device tool; its image has JAX, PyTorch and timm but no Keras and
no TensorFlow), carry Keras' wheels for its Python 3.12:

    pip download --no-deps --only-binary=:all: --python-version 3.12 \
        --platform manylinux_2_28_x86_64 -d .device_wheels keras==3.15.1 namex optree
    # run(carry=[".device_wheels"], command="pip install --no-index --no-deps
    #     .device_wheels/*.whl && python3 benchmarks/gpu_training_throughput.py")
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
flags.DEFINE_enum("keras_backend", "jax", ["jax", "tensorflow"], "Keras backend (both use XLA).")
flags.DEFINE_string("vanillanet_repo", None, "Checkout of huawei-noah/VanillaNet (torch side).")
flags.DEFINE_string("_worker", None, "Internal: engine:model to time in this process.")

# PyTorch references: timm names (timm ≥ 1.0), or the official VanillaNet module.
TIMM_NAMES = {
    "convnext_tiny": "convnext_tiny",
    "nfnet_f0": "dm_nfnet_f0",
    "pplcnet_x1_0": "lcnet_100",
}


def on_device(array):
    """`array` placed on the accelerator of the current Keras backend (synthetic input)."""
    import keras

    if keras.backend.backend() == "jax":
        import jax

        return jax.device_put(array)
    import tensorflow as tf

    device = "/GPU:0" if tf.config.list_physical_devices("GPU") else "/CPU:0"
    with tf.device(device):
        return tf.identity(array)


def keras_device_name():
    import keras

    if keras.backend.backend() == "jax":
        import jax

        return jax.devices()[0].device_kind
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return tf.config.experimental.get_device_details(gpus[0]).get("device_name") if gpus else "cpu"


def keras_step_rate(name):
    import keras
    import numpy as np

    import keras_minimal

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
    images = on_device(rng.uniform(0, 255, (FLAGS.batch_size, size, size, 3)).astype("float32"))
    labels = on_device(rng.integers(0, 1000, FLAGS.batch_size).astype("int32"))
    for _ in range(FLAGS.warmup):
        model.train_on_batch(images, labels)
    start = time.perf_counter()
    for _ in range(FLAGS.steps):
        loss = model.train_on_batch(images, labels)
    float(np.asarray(loss))  # wait for the device
    seconds = time.perf_counter() - start
    return {
        "images_per_s": FLAGS.steps * FLAGS.batch_size / seconds,
        "device": keras_device_name(),
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
    }


def torch_model(name):
    if name in TIMM_NAMES:
        import timm

        return timm.create_model(TIMM_NAMES[name], num_classes=1000)
    if name.startswith("vanillanet"):
        if FLAGS.vanillanet_repo:
            sys.path.insert(0, FLAGS.vanillanet_repo)
            from models import vanillanet

            return getattr(vanillanet, name)()
        from tests.torch_vanillanet import vanillanet_torch_model

        return vanillanet_torch_model(name)
    return None


def torch_step_rate(name):
    import torch

    model = torch_model(name)
    if model is None:
        return {"skipped": f"no PyTorch reference for {name}"}
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = model.to(device, memory_format=torch.channels_last).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    compiled = torch.compile(model)
    size = FLAGS.image_size
    images = torch.rand(FLAGS.batch_size, 3, size, size, device=device)
    images = images.contiguous(memory_format=torch.channels_last)
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
    name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    return {
        "images_per_s": FLAGS.steps * FLAGS.batch_size / seconds,
        "device": name,
        "torch": torch.__version__,
    }


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
    os.environ["KERAS_BACKEND"] = FLAGS.keras_backend  # this process and the workers
    from benchmarks.common import write_results

    results = {
        "batch_size": FLAGS.batch_size,
        "image_size": FLAGS.image_size,
        "keras_precision": FLAGS.precision,
        "keras": f"jit_compile=True (XLA), {FLAGS.keras_backend} backend, AdamW",
        "torch": "bf16 autocast + channels_last + torch.compile, AdamW",
    }
    passthrough = [a for a in argv[1:]] + [
        f"--{flag}={getattr(FLAGS, flag)}"
        for flag in ("batch_size", "image_size", "steps", "warmup", "precision", "keras_backend")
    ]
    if FLAGS.vanillanet_repo:
        passthrough.append(f"--vanillanet_repo={FLAGS.vanillanet_repo}")
    for name in FLAGS.models:
        row = {}
        for engine in FLAGS.engines:
            command = [sys.executable, __file__, f"--_worker={engine}:{name}", *passthrough]
            env = dict(os.environ)
            if engine == "torch":  # it imports Keras (JAX) for the names only: keep JAX off the GPU
                env.update(XLA_PYTHON_CLIENT_PREALLOCATE="false", JAX_PLATFORMS="cpu")
            process = subprocess.run(command, capture_output=True, text=True, env=env)
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
