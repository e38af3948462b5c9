"""The main job, offline: train a small VanillaNet on scikit-learn's digits, fuse, export.

    python tools/demo.py                          # ~1-2 min on 2 CPU cores
    python tools/demo.py --epochs=5               # a quick smoke run
    python tools/demo.py --output_dir=elsewhere/  # instead of ./demo_output/

Deep training anneals λ 0 → 1 over the first third of training, so the trained
network can be fused (keras_minimal.deploy.to_deploy) into the deploy graph;
the demo checks that both graphs agree and reports accuracy, parameters and
CPU latency of each. It then exports the model to SavedModel, TFLite (float32
and int8) and ONNX, verifies every artefact in its runtime (the parity report)
and ends with a summary: test accuracy and batch-1 latency in every runtime, and
the machine that measured them.

--output_dir keeps the trained model (vanillanet_digits.keras, the training graph
with λ = 1) and every artefact with its parity report (<artefact>.report.json);
a rerun replaces them. Training prints a line every --print_every epochs.
"""

import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import flags  # noqa: E402

from tools.cli import run  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_integer("epochs", 80, "Training epochs.")
flags.DEFINE_integer("batch_size", 64, "Batch size.")
flags.DEFINE_float("learning_rate", 2e-3, "Peak AdamW learning rate (after warmup).")
flags.DEFINE_float("weight_decay", 0.05, "AdamW weight decay.")
flags.DEFINE_integer("warmup_epochs", 5, "Linear warmup epochs before the cosine decay.")
flags.DEFINE_float("decay_fraction", 1 / 3, "Fraction of the epochs over which λ goes 0 → 1.")
flags.DEFINE_integer("image_size", 32, "Digits are upsampled to this size.")
flags.DEFINE_integer("latency_runs", 20, "Timed runs per latency measurement.")
flags.DEFINE_integer("seed", 0, "Random seed.")
flags.DEFINE_string(
    "output_dir", "demo_output", "Where the trained model and the exported artefacts are kept."
)
flags.DEFINE_integer(
    "print_every", 10, "Print a line every N epochs (and the first and last).", lower_bound=1
)

# (format, quantization) of the exported artefacts.
EXPORT_TARGETS = [("saved_model", None), ("tflite", None), ("tflite", "int8"), ("onnx", None)]

# A small VanillaNet for 32×32 inputs: 32 → 8 (stem) → 4 → 2 → 2.
DEMO_DIMS = (32, 64, 128, 256)
DEMO_STRIDES = (2, 2, 1)


def trainable_params(model):
    return sum(int(v.numpy().size) for v in model.trainable_variables)


def build_model(image_size):
    from keras_minimal.applications import VanillaNet

    return VanillaNet(
        DEMO_DIMS,
        DEMO_STRIDES,
        classes=10,
        input_shape=(image_size, image_size, 3),
        name="vanillanet_digits",
    )


def demo_recipe(epochs, batch_size, learning_rate, weight_decay, warmup_epochs, decay_fraction):
    """The demo's training recipe, as data: AdamW with warmup + cosine, λ over a fraction."""
    from keras_minimal.training.recipes import Recipe

    return Recipe(
        model="vanillanet_digits",
        source="tools/demo.py",
        epochs=epochs,
        global_batch_size=batch_size,
        optimizer="adamw",
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        warmup_epochs=warmup_epochs,
        loss="cross_entropy",
        deep_training_epochs=max(1, round(epochs * decay_fraction)),
        train_image_size=FLAGS.image_size,
        eval_image_size=FLAGS.image_size,
    )


def train(model, x_train, y_train, recipe, scratch_dir):
    """Train with the library's Trainer (model.fit, recipe optimizer, λ schedule); its
    checkpoints go to `scratch_dir`."""
    from keras_minimal.training.data import ArraySource
    from tools.progress import Trainer

    trainer = Trainer(
        lambda: model,
        recipe,
        ArraySource(x_train, y_train, num_classes=10),
        output_dir=scratch_dir,
        seed=FLAGS.seed,
        mixed_precision="float32",
        jit_compile=False,
        train_crop=False,  # the digits are centred: no crop, no flip
        hflip=0.0,
        tensorboard=False,
        verbose=0,
        print_every=FLAGS.print_every,
    )
    trainer.fit()
    return trainer.model


def save_trained_model(model, output_dir):
    """The trained model as <output_dir>/vanillanet_digits.keras (for tools/export.py)."""
    from keras_minimal.atomic_files import write_atomically
    from keras_minimal.keras_bytes import model_bytes

    return write_atomically(os.path.join(output_dir, f"{model.name}.keras"), model_bytes(model))


def export_and_verify(model, x_train, x_test, output_dir):
    """Export every target and print its parity report; returns the ExportResults."""
    from keras_minimal.deploy import export_artefacts

    results = export_artefacts(
        model,
        output_dir,
        EXPORT_TARGETS,
        name="vanillanet_digits",
        representative_data=x_train[:200],
        verification_data=x_test[:64],
        overwrite=True,
    )
    print("\nparity of every artefact with the Keras model (run in its own runtime):")
    for result in results:
        print(f"\n{result.path}\n{result.table()}")
    return results


def runtime_rows(model, fused, results, x_test, y_test):
    """(runtime, graph or artefact, numerics, test top-1, median batch-1 latency in ms)."""
    from keras_minimal.deploy.benchmarking import top1_accuracy
    from keras_minimal.deploy.latency import inference_function, measure_latency
    from keras_minimal.deploy.runtimes import load_runtime

    runtimes = [
        ("keras", "training graph", "float32", inference_function(model)),
        ("keras", "deploy graph", "float32", inference_function(fused)),
    ]
    for result, (format, _) in zip(results, EXPORT_TARGETS, strict=True):
        numerics = result.checks[-1].numerics
        runtimes.append(
            (format, os.path.basename(result.path), numerics, load_runtime(format, result.path))
        )
    rows = []
    for runtime, label, numerics, function in runtimes:
        accuracy = top1_accuracy(function, x_test, y_test)
        latency = measure_latency(function, x_test[:1], runs=FLAGS.latency_runs)["median_ms"]
        rows.append((runtime, label, numerics, accuracy, latency))
    return rows


def machine():
    """The machine that measured the latencies, in words."""
    from keras_minimal.deploy.benchmarking import describe_environment

    environment = describe_environment()
    versions = environment["versions"]
    return (
        f"{environment['cpu']}, {environment['cores']} cores, {environment['platform']}; "
        f"Python {versions['python']}, TensorFlow {versions.get('tensorflow', '?')}, "
        f"Keras {versions.get('keras', '?')}"
    )


def print_summary(rows, output_dir, seconds):
    from tools.progress import format_duration

    print(f"\nsummary: {FLAGS.epochs} epochs, the whole demo took {format_duration(seconds)}")
    print(
        f"{'runtime':<13}{'graph / artefact':<31}{'numerics':<10}{'test top-1':>10}"
        f"{'latency ms (b=1)':>18}"
    )
    for runtime, label, numerics, accuracy, latency in rows:
        print(f"{runtime:<13}{label:<31}{numerics:<10}{accuracy:>10.2%}{latency:>18.2f}")
    print(
        f"latency: median of {FLAGS.latency_runs} runs at batch 1 (TFLite and onnxruntime on "
        f"2 threads, TensorFlow on every core) on {machine()}"
    )
    print(
        f"artefacts, their parity reports (*.report.json) and the trained model "
        f"(vanillanet_digits.keras) are in {os.path.abspath(output_dir)}"
    )


def main(argv):
    del argv
    start = time.perf_counter()  # the summary's run time includes importing TensorFlow
    import keras
    import numpy as np

    from keras_minimal.deploy import to_deploy
    from keras_minimal.deploy.latency import model_latency
    from keras_minimal.training.digits import load_digits_rgb

    keras.utils.set_random_seed(FLAGS.seed)
    (x_train, y_train), (x_test, y_test) = load_digits_rgb(FLAGS.image_size, seed=FLAGS.seed)
    print(f"digits: {len(x_train)} train / {len(x_test)} test images, {FLAGS.image_size}² RGB")

    recipe = demo_recipe(
        FLAGS.epochs,
        FLAGS.batch_size,
        FLAGS.learning_rate,
        FLAGS.weight_decay,
        FLAGS.warmup_epochs,
        FLAGS.decay_fraction,
    )
    lambda_epochs = recipe.deep_training_epochs
    print(f"training {recipe.epochs} epochs, λ 0 → 1 over the first {lambda_epochs}:")
    train_start = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        model = train(build_model(FLAGS.image_size), x_train, y_train, recipe, scratch)
    train_seconds = time.perf_counter() - train_start
    print(f"trained {FLAGS.epochs} epochs in {train_seconds:.0f} s; λ = {model.act_learn}")
    print(f"trained model: {save_trained_model(model, FLAGS.output_dir)}")

    fused = to_deploy(model)
    probs = model.predict(x_test, verbose=0)
    fused_probs = fused.predict(x_test, verbose=0)
    accuracy = float(np.mean(probs.argmax(1) == y_test))
    fused_accuracy = float(np.mean(fused_probs.argmax(1) == y_test))
    max_diff = float(np.max(np.abs(probs - fused_probs)))
    agreement = float(np.mean(probs.argmax(1) == fused_probs.argmax(1)))

    latency = {
        "training graph": model_latency(model, runs=FLAGS.latency_runs),
        "deploy graph": model_latency(fused, runs=FLAGS.latency_runs),
    }
    rows = [
        ("training graph", model, accuracy),
        ("deploy graph", fused, fused_accuracy),
    ]
    print()
    print(f"{'graph':<16}{'test acc':>10}{'params':>10}{'layers':>8}{'latency ms (b=1)':>18}")
    for label, net, acc in rows:
        print(
            f"{label:<16}{acc:>10.2%}{trainable_params(net):>10,}{len(net.layers):>8}"
            f"{latency[label]['median_ms']:>18.2f}"
        )
    print(f"\nfused vs unfused: max |Δprob| = {max_diff:.2e}, top-1 agreement {agreement:.2%}")
    if agreement < 1.0 or max_diff > 1e-4:
        print("ERROR: the fused model does not reproduce the trained model.")
        return 1

    results = export_and_verify(model, x_train, x_test, FLAGS.output_dir)
    summary = runtime_rows(model, fused, results, x_test, y_test)
    print_summary(summary, FLAGS.output_dir, time.perf_counter() - start)
    if not all(result.passed for result in results):
        print("ERROR: an exported artefact does not match the Keras model (see the reports).")
        return 1
    return 0


if __name__ == "__main__":
    run(main)
