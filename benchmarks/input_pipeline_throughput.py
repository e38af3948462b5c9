"""Images/s of the full training input pipeline at 224² on this machine's CPU.

Synthetic ImageNet-like JPEGs (500×375, random smooth content) are written to a temp
ImageFolder; the pipeline decodes + Inception-crops + flips + RandAugment + random
erasing + MixUp/CutMix (the VanillaNet/ConvNeXt recipes' augmentation), batches 128.
Compares RandAugment through keras-cv 0.9 and Keras core, and without RandAugment.

    python benchmarks/input_pipeline_throughput.py               # record
    python benchmarks/input_pipeline_throughput.py --batches=3 --images=64   # smoke run

Target: ≥ 300 images/s with RandAugment on 2 cores.
"""

import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_integer("images", 512, "Synthetic JPEGs to write (the epoch repeats over them).")
flags.DEFINE_integer("classes", 8, "Class folders.")
flags.DEFINE_integer("batch_size", 128, "Batch size.")
flags.DEFINE_integer("batches", 30, "Timed batches per configuration.")
flags.DEFINE_integer("warmup_batches", 3, "Untimed batches first.")
flags.DEFINE_list("configs", ["keras_cv", "keras", "none"], "RandAugment backends to time.")
flags.DEFINE_string("policy", "rand-m9-mstd0.5-inc1", "timm RandAugment policy.")
flags.DEFINE_boolean("deterministic", False, "Keep the parallel map in order.")


def write_jpegs(root, count, classes, seed=0):
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    for c in range(classes):
        os.makedirs(os.path.join(root, f"class_{c:03d}"), exist_ok=True)
    for i in range(count):
        # Smooth random content compresses like a photo (noise would inflate the files).
        small = rng.integers(0, 256, size=(24, 32, 3)).astype("float32")
        image = tf.image.resize(small, (375, 500), method="bicubic")
        image = tf.cast(tf.clip_by_value(image, 0, 255), tf.uint8)
        path = os.path.join(root, f"class_{i % classes:03d}", f"{i:06d}.jpg")
        tf.io.write_file(path, tf.io.encode_jpeg(image, quality=90))


def time_pipeline(root, randaugment_backend):
    from keras_minimal.training import data
    from keras_minimal.training.augment import Augmentation

    augmentation = Augmentation(
        FLAGS.classes,
        randaugment=FLAGS.policy if randaugment_backend != "none" else None,
        randaugment_backend=None if randaugment_backend == "none" else randaugment_backend,
        random_erasing=0.25,
        mixup_alpha=0.8,
        cutmix_alpha=1.0,
        label_smoothing=0.1,
    )
    dataset = data.image_folder(
        root,
        training=True,
        batch_size=FLAGS.batch_size,
        image_size=224,
        augmentation=augmentation,
        deterministic=FLAGS.deterministic,
    )
    iterator = iter(dataset)
    for _ in range(FLAGS.warmup_batches):
        next(iterator)
    start = time.perf_counter()
    for _ in range(FLAGS.batches):
        next(iterator)
    seconds = time.perf_counter() - start
    return FLAGS.batches * FLAGS.batch_size / seconds


def main(argv):
    del argv
    from benchmarks.common import write_results

    results = {"policy": FLAGS.policy, "batch_size": FLAGS.batch_size, "image_size": 224}
    with tempfile.TemporaryDirectory() as root:
        write_jpegs(root, FLAGS.images, FLAGS.classes)
        for config in FLAGS.configs:
            rate = time_pipeline(root, config)
            results[f"images_per_s_randaugment_{config}"] = round(rate, 1)
            print(f"RandAugment {config:<9} {rate:8.1f} images/s", flush=True)
    path = write_results("input_pipeline_throughput", results)
    print(f"wrote {path}")


if __name__ == "__main__":
    app.run(main)
