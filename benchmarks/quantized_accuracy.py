"""Accuracy of a model trained on real data (scikit-learn digits) in every numeric form.

Trains `--model` on the digits (upsampled to --image_size² RGB), fuses it, then measures
held-out top-1 in each runtime: Keras fp32, Keras bf16, TFLite fp32 / full-int8 (int8 in
and out) and onnxruntime fp32 / int8 (static QDQ), and each form's top-1 agreement with
Keras fp32 (the fraction of test images whose class it keeps). Calibration uses training
images only. With --qat_epochs, the fused model is also fine-tuned with quantisation-aware
training (keras_minimal.quantization.quantize_aware) on the training images and exported
to full-integer TFLite with its trained ranges (no calibration): its Keras (fake-quant)
and LiteRT int8 accuracies are measured too, with the export's agreement with its Keras
model on every test image, and layer by layer (each quantised tensor computed from the
export's own inputs, keras_minimal.deploy.layerwise_agreement) and run by each of LiteRT's
kernel sets (XNNPACK, built-in, reference), which round differently. Results:
benchmarks/results/<model>_quantized_accuracy.json (<model>_<size>px_qat_accuracy.json
with --qat_epochs).

    python benchmarks/quantized_accuracy.py --model=pplcnet_x1_0 --image_size=64 --epochs=40
    python benchmarks/quantized_accuracy.py --model=vanillanet_5 --image_size=32 --epochs=30
    python benchmarks/quantized_accuracy.py --model=pplcnet_x0_25 --image_size=32 \
        --epochs=15 --qat_epochs=3
"""

import os
import sys
import tempfile

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags, logging  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("model", "pplcnet_x1_0", "Registered model name.")
flags.DEFINE_integer("image_size", 64, "Digits are upsampled to this side.")
flags.DEFINE_integer("epochs", 40, "Training epochs.")
flags.DEFINE_integer("batch_size", 64, "Training batch size.")
flags.DEFINE_float("learning_rate", 2e-3, "Peak AdamW learning rate.")
flags.DEFINE_integer("num_calibration", 200, "Training images used to calibrate int8.")
flags.DEFINE_integer("seed", 0, "Random seed.")
flags.DEFINE_integer("qat_epochs", 0, "Quantisation-aware fine-tuning epochs (0: none).")
flags.DEFINE_float("qat_learning_rate", 2e-4, "Initial AdamW learning rate of the QAT fine-tune.")

FORMS = [
    ("keras fp32", "keras"),
    ("keras bf16", "keras_bf16"),
    ("tflite fp32", "tflite"),
    ("tflite int8 (int8 in/out)", "tflite_int8_io"),
    ("onnx fp32", "onnx"),
    ("onnx int8", "onnx_int8"),
]


def train(model, x, y):
    import keras

    from keras_minimal.layers.deep_training_activation import deep_training_layers
    from keras_minimal.training import DeepTrainingScheduler

    steps = -(-len(x) // FLAGS.batch_size) * FLAGS.epochs
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, steps, warmup_target=FLAGS.learning_rate, warmup_steps=steps // 16
    )
    model.compile(
        keras.optimizers.AdamW(schedule, weight_decay=0.05),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    callbacks = []
    if deep_training_layers(model):
        callbacks.append(DeepTrainingScheduler(max(1, FLAGS.epochs // 3)))
    model.fit(
        x, y, batch_size=FLAGS.batch_size, epochs=FLAGS.epochs, verbose=2, callbacks=callbacks
    )


def runtime(fused, form, workdir, calibration):
    from keras_minimal.deploy import ExportVerificationError, export
    from keras_minimal.deploy.benchmarking import runtime_function
    from keras_minimal.deploy.runtimes import load_runtime

    if form == "tflite_int8_io":
        path = os.path.join(workdir, "int8_io.tflite")
        try:
            export(
                fused,
                path,
                "tflite",
                quantization="int8",
                int8_io=True,
                fuse=False,
                representative_data=calibration,
                batch_size=1,
            )
        except ExportVerificationError as error:  # a lossy int8 export is what is measured
            path = error.result.path
        return load_runtime("tflite", path)
    return runtime_function(fused, form, workdir, batch_size=1, calibration=calibration)


def fine_tune_quantize_aware(fused, x, y):
    """The QAT model of `fused`, fine-tuned for --qat_epochs (AdamW, cosine decay)."""
    import keras

    from keras_minimal.quantization import quantize_aware

    model = quantize_aware(fused)
    steps = -(-len(x) // FLAGS.batch_size) * FLAGS.qat_epochs
    schedule = keras.optimizers.schedules.CosineDecay(FLAGS.qat_learning_rate, steps)
    model.compile(
        keras.optimizers.AdamW(schedule, weight_decay=0.05),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x, y, batch_size=FLAGS.batch_size, epochs=FLAGS.qat_epochs, verbose=2)
    return model


def quantize_aware_results(qat_model, workdir, x_test, y_test):
    """Keras (fake-quant) and LiteRT int8 top-1 of `qat_model`, and its export's checks."""
    from keras_minimal.deploy import ExportVerificationError, export
    from keras_minimal.deploy.benchmarking import batched_outputs, top1
    from keras_minimal.deploy.latency import inference_function
    from keras_minimal.deploy.runtimes import TFLITE_KERNELS, load_runtime

    path = os.path.join(workdir, "qat_int8_io.tflite")
    options = dict(int8_io=True, batch_size=1, verification_data=x_test)
    try:
        result = export(
            qat_model, path, "tflite", quantization="int8", num_verification=len(x_test), **options
        )
    except ExportVerificationError as error:
        result = error.result
    checks = [
        {
            "compared": c.compared,
            "top1_agreement": c.top1_agreement,
            "max_rel_error": c.max_rel_error,
            "within_one_step": c.within_one_step,
            "output_step": c.output_step,
            "passed": c.passed,
        }
        for c in result.checks
    ]
    export_report = {"passed": result.passed, "checks": checks}
    export_report["layerwise"] = layerwise_summary(qat_model, result.path, x_test)
    keras_outputs = batched_outputs(inference_function(qat_model), x_test)
    kernel_outputs = {
        kernels: batched_outputs(
            load_runtime("tflite", result.path, tflite_kernels=kernels), x_test
        )
        for kernels in TFLITE_KERNELS
    }
    export_report["tflite_kernel_sets"] = kernel_set_agreement(keras_outputs, kernel_outputs)
    accuracies = {
        "keras qat (fake quant)": top1(keras_outputs, y_test),
        "tflite int8 qat (int8 in/out)": top1(kernel_outputs["xnnpack"], y_test),
    }
    return accuracies, export_report


def kernel_set_agreement(keras_outputs, kernel_outputs):
    """The int8 file's outputs under each of LiteRT's kernel sets, against the Keras QAT
    model's and against the default (XNNPACK) set's: how far the file's own outputs depend on
    the kernels that run it, a ceiling for any agreement with the QAT model."""
    import numpy as np

    from keras_minimal.deploy.parity import top1_agreement

    xnnpack = kernel_outputs["xnnpack"]
    return {
        kernels: {
            "top1_agreement_vs_keras_qat": top1_agreement(keras_outputs, values),
            "top1_agreement_vs_xnnpack": top1_agreement(xnnpack, values),
            "identical_outputs_vs_xnnpack": float(np.mean(np.all(values == xnnpack, axis=-1))),
        }
        for kernels, values in kernel_outputs.items()
    }


def layerwise_summary(qat_model, path, images):
    """Each quantised tensor of the export against the QAT layer fed TFLite's own inputs
    (keras_minimal.deploy.layerwise_agreement): where end-to-end agreement falls short,
    this tells an unfaithful layer from one-step differences that the network amplifies."""
    import dataclasses

    from keras_minimal.deploy.layerwise_agreement import layerwise_agreement

    layers = layerwise_agreement(qat_model, path, images)
    matched = [r for r in layers if r.tensor is not None]
    return {
        "images": len(images),
        "quantised_tensors": len(layers),
        "unmatched": [r.layer for r in layers if r.tensor is None],
        "max_steps": max(r.max_steps for r in matched),
        "min_within_one_step": min(r.within_one_step for r in matched),
        "min_exact": min(r.exact for r in matched),
        "mean_exact": sum(r.exact for r in matched) / len(matched),
        "layers": [dataclasses.asdict(r) for r in layers],
        # The Keras model run on its own inputs: how far one-step differences spread.
        "free_running_within_one_step": {
            r.layer: r.within_one_step
            for r in layerwise_agreement(qat_model, path, images, teacher_forcing=False)
        },
    }


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    import keras

    import keras_minimal
    from benchmarks.common import write_results
    from keras_minimal.deploy import to_deploy
    from keras_minimal.deploy.benchmarking import batched_outputs, top1_scores
    from keras_minimal.training.digits import load_digits_rgb

    keras.utils.set_random_seed(FLAGS.seed)
    (x_train, y_train), (x_test, y_test) = load_digits_rgb(FLAGS.image_size, seed=FLAGS.seed)
    model = keras_minimal.create_model(
        FLAGS.model, classes=10, input_shape=(FLAGS.image_size, FLAGS.image_size, 3)
    )
    train(model, x_train, y_train)
    fused = to_deploy(model)
    calibration = x_train[: FLAGS.num_calibration]
    results = {
        "model": FLAGS.model,
        "image_size": FLAGS.image_size,
        "epochs": FLAGS.epochs,
        "test_images": len(x_test),
        "calibration_images": len(calibration),
        "top1": {},
        "top1_agreement_vs_keras_fp32": {},
    }
    name = f"{FLAGS.model}_quantized_accuracy"
    with tempfile.TemporaryDirectory() as workdir:
        float32 = None
        for label, form in FORMS:
            outputs = batched_outputs(runtime(fused, form, workdir, calibration), x_test)
            float32 = outputs if float32 is None else float32  # FORMS[0] is Keras fp32
            scores = top1_scores(outputs, y_test, float32)
            results["top1"][label] = scores["top1"]
            results["top1_agreement_vs_keras_fp32"][label] = scores["top1_agreement"]
            print(
                f"{label:<28}{scores['top1']:8.2%}  agrees with fp32 on "
                f"{scores['top1_agreement']:.2%}",
                flush=True,
            )
        if FLAGS.qat_epochs:
            name = f"{FLAGS.model}_{FLAGS.image_size}px_qat_accuracy"
            results.update(qat_epochs=FLAGS.qat_epochs, qat_learning_rate=FLAGS.qat_learning_rate)
            qat_model = fine_tune_quantize_aware(fused, x_train, y_train)
            top1, results["qat_export"] = quantize_aware_results(qat_model, workdir, x_test, y_test)
            results["top1"].update(top1)
            for label, value in top1.items():
                print(f"{label:<28}{value:8.2%}", flush=True)
            for kernels, scores in results["qat_export"]["tflite_kernel_sets"].items():
                print(f"tflite int8 qat, {kernels} kernels: {scores}", flush=True)
    fp32 = results["top1"]["keras fp32"]
    results["drop_points_vs_fp32"] = {
        k: round(100 * (fp32 - v), 2) for k, v in results["top1"].items()
    }
    print(f"wrote {write_results(name, results)}")


if __name__ == "__main__":
    app.run(main)
