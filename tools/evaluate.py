r"""Evaluate a model: top-1 / top-5 accuracy, cross-entropy loss and images/s.

    python tools/evaluate.py --model=vanillanet_5 --weights=imagenet --data=/imagenet/val
    python tools/evaluate.py --model=vanillanet_5 --weights=runs/vn5/final_ema.weights.h5 \
        --data=/imagenet/val --graph=deploy
    python tools/evaluate.py --model=vanillanet_5 --weights=vanillanet_5.pth \
        --data=tfds:imagenet2012 --crop_pct=0.875

--weights takes anything the constructors' weights= take: "imagenet", a .weights.h5 file
(e.g. tools/train.py's final_ema.weights.h5) or a reference checkpoint (.pth /
.safetensors / .npz). --graph=deploy evaluates the fused graph (keras_minimal.deploy).
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

from tools.cli import run  # noqa: E402
from tools.model_flags import check_model_source  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, "Registered model name.")
flags.DEFINE_string("model_config", None, "Instead of --model: a JSON model config (train.py).")
flags.DEFINE_string("weights", None, "imagenet, a .weights.h5 file or a reference checkpoint.")
flags.DEFINE_string("data", None, "ImageFolder dir, TFRecord glob or tfds:<name>.")
flags.DEFINE_string("split", "validation", "TFDS split.")
flags.DEFINE_enum("graph", "train", ["train", "deploy"], "Evaluate the training or fused graph.")
flags.DEFINE_integer("image_size", None, "Evaluation resolution (default: the model's).")
flags.DEFINE_float("crop_pct", None, "Centre-crop fraction (default: the model's).")
flags.DEFINE_enum(
    "crop_mode", None, ["center", "squash"], "Resize the short side or both (default: the model's)."
)
flags.DEFINE_enum(
    "interpolation",
    None,
    ["bicubic", "bilinear", "nearest", "area"],
    "Resize interpolation (default: the model's).",
)
flags.DEFINE_integer("batch_size", 64, "Batch size.")
flags.DEFINE_integer("classes", None, "Model classes (default: the data's, or 1000).")
flags.DEFINE_integer("label_offset", 0, "TFRecords: added to labels (-1 for 1-based shards).")
flags.DEFINE_integer("max_batches", None, "Stop after this many batches.")
flags.DEFINE_string("tfds_data_dir", None, "TFDS data_dir.")
flags.DEFINE_string("output", None, "Also write the results as JSON here.")
flags.DEFINE_float(
    "max_bad_fraction",
    0.01,
    "Images that fail to load are skipped and reported; stop if more than this fraction fail.",
)
flags.mark_flag_as_required("data")


def build_model(classes):
    """The model of --model or --model_config (checked by check_model_source first)."""
    import keras_minimal
    from keras_minimal.applications import families

    if FLAGS.model_config:
        with open(FLAGS.model_config) as f:
            spec = json.load(f)
        if spec.get("family") not in families.BUILDERS:
            raise app.UsageError(f"Unknown family; choose one of {sorted(families.BUILDERS)}.")
        config = dict(spec["config"], weights=FLAGS.weights)
        return families.BUILDERS[spec["family"]](**config)
    return keras_minimal.create_model(FLAGS.model, weights=FLAGS.weights, classes=classes)


def evaluation_transform():
    """The flags given, else the model's recipe (NFNet-F0: 256, 0.9, squash), else timm's."""
    from keras_minimal.training.recipes import evaluation_settings

    settings = evaluation_settings(FLAGS.model)
    given = dict(
        eval_image_size=FLAGS.image_size,
        crop_pct=FLAGS.crop_pct,
        crop_mode=FLAGS.crop_mode,
        interpolation=FLAGS.interpolation,
    )
    settings.update({key: value for key, value in given.items() if value is not None})
    return settings


def open_source():
    from keras_minimal.training import data

    if FLAGS.data.startswith("tfds:"):
        return data.TFDSSource(FLAGS.data[5:], FLAGS.split, data_dir=FLAGS.tfds_data_dir)
    if os.path.isdir(FLAGS.data):
        return data.ImageFolderSource(FLAGS.data)
    return data.TFRecordSource(FLAGS.data, num_examples=0, label_offset=FLAGS.label_offset)


def main(argv):
    del argv
    from keras_minimal.training.data import LoadFailures, make_dataset
    from keras_minimal.training.evaluation import evaluate

    check_model_source(FLAGS.model, FLAGS.model_config)
    source = open_source()
    classes = FLAGS.classes or source.num_classes or 1000
    model = build_model(classes)
    if FLAGS.graph == "deploy":
        from keras_minimal.deploy import to_deploy

        model = to_deploy(model)
    transform = evaluation_transform()
    failures = LoadFailures(source, FLAGS.max_bad_fraction)
    dataset = make_dataset(
        source,
        training=False,
        batch_size=FLAGS.batch_size,
        image_size=transform["eval_image_size"],
        crop_pct=transform["crop_pct"],
        crop_mode=transform["crop_mode"],
        interpolation=transform["interpolation"],
        num_classes=classes,
        failures=failures,
    )
    if FLAGS.max_batches:
        dataset = dataset.take(FLAGS.max_batches)
    results = evaluate(model, dataset, failures=failures)
    results.update(model=model.name, graph=FLAGS.graph, weights=FLAGS.weights, **transform)
    rate = results["images_per_second"]
    print(
        f"{model.name} ({FLAGS.graph} graph): top-1 {results['top1']:.2%}  top-5 "
        f"{results['top5']:.2%}  loss {results['loss']:.4f}  on {results['examples']} images"
        + (f"  {rate:.1f} images/s" if rate else "")
    )
    print(
        "at {eval_image_size}², crop_pct {crop_pct}, {crop_mode} crop, {interpolation}".format(
            **transform
        )
    )
    if results["failed_examples"]:
        print(f"skipped: {failures.summary()}")
    if FLAGS.output:
        with open(FLAGS.output, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    run(main)
