r"""Fuse and export a model, then verify every artefact in its runtime and print the report.

    python tools/export.py --model=vanillanet_5 --weights=/path/vanillanet_5.pth \
        --formats=saved_model,tflite,onnx --output=exported/
    python tools/export.py --keras_file=trained.keras --formats=tflite --quantization=int8 \
        --int8_io --representative_data=digits --output=exported/
    python tools/export.py --keras_file=trained.keras --nofuse --formats=onnx --output=out/
    python tools/export.py --keras_file=runs/lc_qat/final.keras --formats=tflite \
        --quantization=int8 --int8_io --representative_data=digits --output=exported/

A quantisation-aware model (tools/train.py --qat) exports to full-integer TFLite with the
ranges it trained: --representative_data then only verifies, nothing is calibrated.

Exits non-zero (and says why) when an artefact does not run in its runtime or does not
match the Keras model: on its logits, and on its probabilities too for a model that ends
in a softmax (keras_minimal/deploy/parity.py). int8 is judged on top-1 agreement, which
needs a trained model: random weights give a flat softmax that int8 rounds to a tie.
"""

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

from tools.cli import run  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, "Registered model name (see keras_minimal.list_models()).")
flags.DEFINE_string("keras_file", None, "A .keras file to export instead of --model.")
flags.DEFINE_string("weights", None, 'For --model: None, "imagenet" or a weights/checkpoint path.')
flags.DEFINE_integer("classes", 1000, "For --model: number of classes.")
flags.DEFINE_list("formats", ["saved_model", "tflite", "onnx"], "saved_model, tflite, onnx.")
flags.DEFINE_enum("quantization", "none", ["none", "fp16", "int8"], "TFLite quantisation.")
flags.DEFINE_bool("int8_io", False, "int8 inputs and outputs (with --quantization=int8).")
flags.DEFINE_string(
    "representative_data",
    None,
    "Calibration/verification images (verification only for a quantisation-aware "
    "model): 'digits' (bundled), an ImageFolder directory or a "
    "TFRecord pattern (through the evaluation preprocessing, normalised when the exported "
    "model has no preprocessing), or a .npy file of NHWC model inputs (used as they are).",
)
flags.DEFINE_float("crop_pct", 0.875, "Centre-crop fraction for --representative_data images.")
flags.DEFINE_integer("num_calibration", 200, "Calibration images for int8.")
flags.DEFINE_bool(
    "fuse", True, "Fuse into the deploy graph first (keras_minimal.deploy.to_deploy)."
)
flags.DEFINE_enum(
    "include_preprocessing",
    "keep",
    ["keep", "yes", "no"],
    "Keep the model's preprocessing, or rebuild with/without it.",
)
flags.DEFINE_integer("batch_size", 0, "Static batch size; 0 for a dynamic batch dimension.")
flags.DEFINE_integer("image_size", None, "Static image side (needed when the model's is dynamic).")
flags.DEFINE_integer("opset", 17, "ONNX opset (13–18).")
flags.DEFINE_string("output", None, "Output directory.")
flags.DEFINE_string("name", None, "Artefact base name (default: the model name).")
flags.DEFINE_bool("overwrite", False, "Replace existing artefacts.")
flags.DEFINE_integer("threads", 2, "Runtime threads for verification.")


def load_model():
    import keras

    import keras_minimal

    if bool(FLAGS.model) == bool(FLAGS.keras_file):
        raise app.UsageError("Pass exactly one of --model or --keras_file.")
    if FLAGS.keras_file:
        return keras.saving.load_model(FLAGS.keras_file)
    kwargs = {"weights": FLAGS.weights, "classes": FLAGS.classes}
    if FLAGS.image_size:
        kwargs["input_shape"] = (FLAGS.image_size, FLAGS.image_size, 3)
    return keras_minimal.create_model(FLAGS.model, **kwargs)


def load_images(model):
    from keras_minimal.deploy.calibration import calibration_images

    if FLAGS.representative_data is None:
        return None
    size = FLAGS.image_size or model.input.shape[1]
    if size is None:
        raise app.UsageError("--representative_data needs --image_size for this model.")
    return calibration_images(
        FLAGS.representative_data,
        size,
        limit=FLAGS.num_calibration,
        crop_pct=FLAGS.crop_pct,
        normalize=not exported_takes_rgb(model),
    )


def exported_takes_rgb(model):
    """Whether the exported graph normalises [0, 255] RGB itself (include_preprocessing)."""
    if FLAGS.include_preprocessing != "keep":
        return FLAGS.include_preprocessing == "yes"
    return getattr(model, "builder_config", {}).get("include_preprocessing", True)


def main(argv):
    del argv
    from keras_minimal.deploy import export_artefacts
    from keras_minimal.deploy.exporter import FORMATS
    from keras_minimal.quantization import is_quantize_aware

    if not FLAGS.formats:
        raise app.UsageError(f"--formats is empty: name at least one of {FORMATS}.")
    unknown = [f for f in FLAGS.formats if f not in FORMATS]
    if unknown:
        raise app.UsageError(f"Unknown format(s) {unknown}; choose from {FORMATS}.")
    if not FLAGS.output:
        raise app.UsageError("--output (a directory) is required.")
    quantization = None if FLAGS.quantization == "none" else FLAGS.quantization
    if quantization and "tflite" not in FLAGS.formats:
        raise app.UsageError(
            f"--quantization={quantization} applies to TFLite only; add tflite to --formats."
        )
    model = load_model()
    data = load_images(model)
    # A quantisation-aware model brings its int8 ranges: its images only verify.
    images = "verification_data" if is_quantize_aware(model) else "representative_data"
    targets = [(f, quantization if f == "tflite" else None) for f in FLAGS.formats]
    results = export_artefacts(
        model,
        FLAGS.output,
        targets,
        name=FLAGS.name or FLAGS.model,
        **{images: data},
        int8_io=FLAGS.int8_io,
        fuse=FLAGS.fuse,
        include_preprocessing={"keep": None, "yes": True, "no": False}[FLAGS.include_preprocessing],
        batch_size=FLAGS.batch_size or None,
        image_size=FLAGS.image_size,
        opset=FLAGS.opset,
        overwrite=FLAGS.overwrite,
        num_calibration=FLAGS.num_calibration,
        threads=FLAGS.threads,
    )
    for result in results:
        print(f"\n{result.path}  (report: {result.report_path})\n{result.table()}")
    failed = [r.path for r in results if not r.passed]
    if failed:
        print(f"\nerror: verification failed for {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    run(main)
