"""Accuracy of a model trained on real data (scikit-learn digits) in every numeric form.

Trains `--model` on the digits (upsampled to --image_size² RGB), fuses it, then measures
held-out top-1 in each runtime: Keras fp32, Keras bf16, TFLite fp32 / fp16 / full-int8
(int8 in and out) and onnxruntime fp32 / int8 (static QDQ). Calibration uses training
images only. Results: benchmarks/results/<model>_quantized_accuracy.json.

    python benchmarks/quantized_accuracy.py --model=pplcnet_x1_0 --image_size=64 --epochs=40
    python benchmarks/quantized_accuracy.py --model=vanillanet_5 --image_size=32 --epochs=30
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
    from keras_minimal.deploy import export
    from keras_minimal.deploy.benchmarking import runtime_function
    from keras_minimal.deploy.runtimes import load_runtime

    if form == "tflite_int8_io":
        path = os.path.join(workdir, "int8_io.tflite")
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
        return load_runtime("tflite", path)
    return runtime_function(fused, form, workdir, batch_size=1, calibration=calibration)


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    import keras

    import keras_minimal
    from benchmarks.common import write_results
    from keras_minimal.deploy import to_deploy
    from keras_minimal.deploy.benchmarking import top1_accuracy
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
    }
    with tempfile.TemporaryDirectory() as workdir:
        for label, form in FORMS:
            function = runtime(fused, form, workdir, calibration)
            results["top1"][label] = top1_accuracy(function, x_test, y_test)
            print(f"{label:<28}{results['top1'][label]:8.2%}", flush=True)
    fp32 = results["top1"]["keras fp32"]
    results["drop_points_vs_fp32"] = {
        k: round(100 * (fp32 - v), 2) for k, v in results["top1"].items()
    }
    print(f"wrote {write_results(f'{FLAGS.model}_quantized_accuracy', results)}")


if __name__ == "__main__":
    app.run(main)
