r"""Train a model with a published recipe, resumably; a thin command line over the library.

    python tools/train.py --model=vanillanet_5 --data=/imagenet/train --val_data=/imagenet/val \
        --recipe=paper --batch_size=1024 --output_dir=runs/vn5
    python tools/train.py --model=vanillanet_5 --data=tfds:imagenette/320px-v2 \
        --recipe=paper,epochs=100,learning_rate=2e-3 --batch_size=128 --output_dir=runs/x
    KERAS_BACKEND=jax python tools/train.py ... --strategy=data_parallel
    python tools/train.py --qat=runs/lc/final.keras --model=pplcnet_x0_25 --data=... \
        --recipe=paper,epochs=3 --output_dir=runs/lc_qat   # then tools/export.py --int8

Progress: a Keras progress bar on a terminal, else one line per epoch with an ETA
(--progress); --verbose also shows TensorFlow's own logging.

Restarting the same command after an interruption (even kill -9) resumes from the last
checkpoint in --output_dir. --data is an ImageFolder directory, a TFRecord glob
(TF ImageNet format) or tfds:<name> (split train; --val_data defaults to its validation
split).
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

from tools.cli import run  # noqa: E402
from tools.model_flags import check_model_source, check_registered_model  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, "Registered model name (see keras_minimal.list_models()).")
flags.DEFINE_string(
    "model_config",
    None,
    'Instead of --model: a JSON file {"family": "vanillanet", "config": {...generic builder '
    "arguments...}} for any configuration.",
)
flags.DEFINE_string("data", None, "Training data: ImageFolder dir, TFRecord glob or tfds:<name>.")
flags.DEFINE_string("val_data", None, "Validation data (same forms); optional.")
flags.DEFINE_string(
    "recipe",
    "paper",
    "'paper', a recipe name (e.g. vanillanet_5), optionally followed by ',key=value' "
    "overrides, or only 'key=value,...' overrides of the paper recipe.",
)
flags.DEFINE_integer("epochs", None, "Epochs (default: the recipe's).")
flags.DEFINE_integer("batch_size", None, "Global batch size (default: the recipe's).")
flags.DEFINE_enum("strategy", "none", ["auto", "none", "mirrored", "data_parallel"], "Engine.")
flags.DEFINE_string("output_dir", None, "Checkpoints, logs and final weights; resumes from it.")
flags.DEFINE_enum(
    "mixed_precision", "auto", ["auto", "float32", "mixed_bfloat16", "mixed_float16"], "Policy."
)
flags.DEFINE_enum("jit_compile", "auto", ["auto", "true", "false"], "XLA-compile the step.")
flags.DEFINE_integer("seed", 0, "Data and initialisation seed.")
flags.DEFINE_integer("checkpoint_every_steps", 500, "Also checkpoint every K steps (0: epochs).")
flags.DEFINE_integer("steps_per_epoch", None, "Default: training examples // global batch.")
flags.DEFINE_boolean("deterministic", True, "Fixed input order (exact resume); off is faster.")
flags.DEFINE_enum("randaugment_backend", None, ["keras_cv", "keras"], "RandAugment library.")
flags.DEFINE_integer("num_classes", None, "Default: from the data.")
flags.DEFINE_integer("num_examples", None, "TFRecords: examples in --data (else counted).")
flags.DEFINE_integer("label_offset", 0, "TFRecords: added to labels (-1 for 1-based shards).")
flags.DEFINE_string("tfds_data_dir", None, "TFDS data_dir.")
flags.DEFINE_string("tfds_manual_dir", None, "TFDS manual_dir (imagenet2012 tars).")
flags.DEFINE_string("coordinator_address", None, "JAX multi-process: host:port of process 0.")
flags.DEFINE_integer("num_processes", None, "JAX multi-process: number of processes.")
flags.DEFINE_integer("process_id", None, "JAX multi-process: this process' index.")
flags.DEFINE_float(
    "max_bad_fraction",
    0.01,
    "Examples that fail to load are replaced by another of their batch and reported each "
    "epoch; the run stops if more than this fraction of an epoch fails.",
)
flags.DEFINE_enum(
    "progress",
    "auto",
    ["auto", "bar", "epoch", "none"],
    "bar: Keras' progress bar; epoch: one line per epoch with the ETA; auto: bar on a terminal, "
    "else epoch.",
)
flags.DEFINE_string(
    "qat",
    None,
    "Fine-tune this trained model (a .keras file, e.g. a run's final.keras) with "
    "quantisation-aware training: fused first (BatchNorm folded, VanillaNet merged), then "
    "keras_minimal.quantization.quantize_aware; --recipe's learning rate x --qat_lr_scale, "
    "no warmup, EMA or lambda schedule. --model, if given, names the recipe of --recipe=paper. "
    "Export output_dir/final.keras with tools/export.py --quantization=int8.",
)
flags.DEFINE_float("qat_lr_scale", 0.1, "With --qat: the recipe's learning rate is scaled by it.")
flags.mark_flag_as_required("output_dir")
flags.mark_flag_as_required("data")


def open_data(spec, split, num_classes=None):
    from keras_minimal.training import data

    if spec.startswith("tfds:"):
        return data.TFDSSource(
            spec[len("tfds:") :],
            split,
            data_dir=FLAGS.tfds_data_dir,
            manual_dir=FLAGS.tfds_manual_dir,
        )
    if os.path.isdir(spec):
        return data.ImageFolderSource(spec)
    return data.TFRecordSource(
        spec,
        num_examples=FLAGS.num_examples if split == "train" else None,
        num_classes=num_classes,
        label_offset=FLAGS.label_offset,
    )


def quantize_aware_factory():
    """(name for the recipe lookup, a callable building the QAT model of --qat)."""
    import keras

    from keras_minimal.quantization import quantize_aware

    if FLAGS.model_config:
        raise app.UsageError(
            "--qat fine-tunes the model of its file: drop --model_config (use --model to name "
            "the recipe of --recipe=paper)."
        )
    if FLAGS.model:
        check_registered_model(FLAGS.model)
    elif FLAGS.recipe.partition(",")[0] == "paper" or "=" in FLAGS.recipe.partition(",")[0]:
        raise app.UsageError(
            "--qat with the paper recipe needs --model naming the architecture of the "
            "file (e.g. --model=pplcnet_x0_25), or name a recipe: --recipe=pplcnet_x0_25,..."
        )
    if not os.path.isfile(FLAGS.qat):
        raise FileNotFoundError(f"--qat: no such file: {FLAGS.qat!r}")
    return FLAGS.model, lambda: quantize_aware(keras.saving.load_model(FLAGS.qat))


def model_factory():
    """(name for the recipe lookup, model argument for the Trainer)."""
    from keras_minimal.applications import families

    if FLAGS.qat:
        return quantize_aware_factory()
    check_model_source(FLAGS.model, FLAGS.model_config)
    if FLAGS.model:
        return FLAGS.model, FLAGS.model
    with open(FLAGS.model_config) as f:
        spec = json.load(f)
    family = spec.get("family")
    if family not in families.BUILDERS:
        raise app.UsageError(
            f"--model_config family {family!r} unknown; choose one of {sorted(families.BUILDERS)}."
        )
    config = spec.get("config", {})
    return config.get("name", family), lambda: families.BUILDERS[family](**config)


def main(argv):
    del argv
    from keras_minimal.training.distribute import resolve_distribution
    from keras_minimal.training.recipes import RECIPES, quantize_aware_recipe, resolve_recipe
    from tools.progress import Trainer

    name, model = model_factory()
    recipe = resolve_recipe(FLAGS.recipe, name, RECIPES)
    if FLAGS.qat:
        recipe = quantize_aware_recipe(recipe, FLAGS.qat_lr_scale)
    options = {}
    if FLAGS.strategy == "data_parallel" and FLAGS.num_processes:
        options = dict(
            coordinator_address=FLAGS.coordinator_address,
            num_processes=FLAGS.num_processes,
            process_id=FLAGS.process_id,
        )
    distribution = resolve_distribution(FLAGS.strategy, **options)
    train_source = open_data(FLAGS.data, "train", FLAGS.num_classes)
    val_spec = FLAGS.val_data
    if val_spec is None and FLAGS.data.startswith("tfds:"):
        val_spec = FLAGS.data
    val_source = open_data(val_spec, "validation", FLAGS.num_classes) if val_spec else None
    jit = {"auto": "auto", "true": True, "false": False}[FLAGS.jit_compile]
    progress = FLAGS.progress
    if progress == "auto":
        progress = "bar" if sys.stdout.isatty() else "epoch"
    trainer = Trainer(
        model,
        recipe,
        train_source,
        val_source=val_source,
        output_dir=FLAGS.output_dir,
        global_batch_size=FLAGS.batch_size,
        epochs=FLAGS.epochs,
        distribution=distribution,
        mixed_precision=FLAGS.mixed_precision,
        jit_compile=jit,
        seed=FLAGS.seed,
        checkpoint_every_steps=FLAGS.checkpoint_every_steps or None,
        randaugment_backend=FLAGS.randaugment_backend,
        deterministic=FLAGS.deterministic,
        steps_per_epoch=FLAGS.steps_per_epoch,
        num_classes=FLAGS.num_classes,
        verbose=1 if progress == "bar" else 0,
        print_every=1 if progress == "epoch" else None,
        max_bad_fraction=FLAGS.max_bad_fraction,
    )
    print(
        f"{name or trainer.model.name}: {recipe.optimizer}, "
        f"global batch {trainer.global_batch_size} "
        f"({trainer.per_host_batch} per host, {distribution.num_replicas} replicas), "
        f"{trainer.steps_per_epoch} steps/epoch, {trainer.epochs} epochs, {trainer.precision}, "
        f"jit_compile={trainer.jit_compile}",
        flush=True,
    )
    trainer.fit()
    print(f"done: weights in {os.path.join(FLAGS.output_dir, 'final.weights.h5')}")
    return 0


if __name__ == "__main__":
    run(main)
