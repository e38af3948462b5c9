"""Examples that fail to load: never a hang, never silent, never a shifted data position."""

import logging
import os
import re
import subprocess
import sys
import textwrap
import traceback

import numpy as np
import pytest
import tensorflow as tf

from keras_minimal.applications import VanillaNet
from keras_minimal.training import data
from keras_minimal.training.data.failures import UnreadableDataError
from keras_minimal.training.recipes import apply_overrides, get_recipe
from keras_minimal.training.trainer import Trainer
from tests.training.synthetic import write_image_folder

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
JUNK_JPEG = b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 20


def _run_python(code, timeout=300):
    """Run `code` in a fresh interpreter: a regression to a hang fails here, not CI."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3"),
    )


def _corrupt(path):
    """Keep a valid JPEG header (so the folder listing accepts it) but nothing decodable."""
    with open(path, "wb") as f:
        f.write(JUNK_JPEG)


def test_a_folder_of_undecodable_images_stops_the_stream_and_fit_in_the_first_epoch(tmp_path):
    root = write_image_folder(str(tmp_path / "data"), classes=2, per_class=6, fmt="jpg")
    for folder in ("c0", "c1"):
        for name in os.listdir(tmp_path / "data" / folder):
            _corrupt(tmp_path / "data" / folder / name)
    result = _run_python(
        f"""
        import numpy as np
        from keras_minimal.applications import VanillaNet
        from keras_minimal.training import data
        from keras_minimal.training.data.failures import UnreadableDataError
        from keras_minimal.training.recipes import apply_overrides, get_recipe
        from keras_minimal.training.trainer import Trainer

        stream = data.image_folder({root!r}, training=True, batch_size=4, image_size=16)
        try:
            next(iter(stream))
        except Exception as error:  # TensorFlow wraps it in an op error
            print("STREAM:", "UnreadableDataError" in str(error))
        recipe = apply_overrides(
            get_recipe("vanillanet_5"),
            "epochs=2,warmup_epochs=1,train_image_size=16,eval_image_size=16,randaugment=none",
        )
        model = lambda: VanillaNet([8, 16], [2], classes=2, input_shape=(16, 16, 3),
                                   classifier_activation=None)
        trainer = Trainer(model, recipe, data.ImageFolderSource({root!r}),
                          output_dir={str(tmp_path / "run")!r}, global_batch_size=4,
                          jit_compile=False, tensorboard=False, verbose=0)
        try:
            trainer.fit()
        except UnreadableDataError as error:
            print("FIT:", error)
        """
    )
    assert "STREAM: True" in result.stdout, result.stdout + result.stderr[-3000:]
    fit_line = next(line for line in result.stdout.splitlines() if line.startswith("FIT:"))
    # Parallel loading may count a few more failures before the stop reaches fit.
    assert re.search(r"Stopped: \d+ of the 12 examples of an epoch of the image folder", fit_line)
    assert "max_bad_fraction=0.01 allows (0 per epoch)" in fit_line
    assert re.search(r"First: \S+/c[01]/\d+\.jpg: ", fit_line)
    assert "Check that the files are complete images" in fit_line
    assert not os.path.exists(tmp_path / "run" / "final.weights.h5")


def test_tfrecords_with_other_feature_keys_stop_naming_the_keys_found(tmp_path):
    path = str(tmp_path / "train-00000-of-00001")
    with tf.io.TFRecordWriter(path) as writer:
        for label in range(6):
            feature = {
                "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[JUNK_JPEG])),
                "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label % 2])),
            }
            example = tf.train.Example(features=tf.train.Features(feature=feature))
            writer.write(example.SerializeToString())
    result = _run_python(
        f"""
        from keras_minimal.training import data
        from keras_minimal.training.data.failures import LoadFailures

        source = data.TFRecordSource({path!r}, num_classes=2)
        for training in (True, False):
            failures = LoadFailures(source)
            stream = data.make_dataset(source, training=training, batch_size=2, image_size=16,
                                       failures=failures)
            try:
                list(stream.take(3))
            except Exception:
                print("ERROR:", failures.error)
        """
    )
    errors = [line for line in result.stdout.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 2, result.stdout + result.stderr[-3000:]
    assert "of the TFRecord file(s)" in errors[0]
    assert "it has no image/encoded, image/class/label feature" in errors[0]
    assert (
        "(features found: image, label; expected: image/encoded, image/class/label)" in (errors[0])
    )
    assert "of the 6 examples of the TFRecord file(s)" in errors[1]


def _batches(dataset):
    return [(x.copy(), y.copy()) for x, y in dataset.as_numpy_iterator()]


def test_a_failed_training_example_takes_a_loaded_one_of_its_batch_and_keeps_positions(
    tmp_path, caplog
):
    clean = write_image_folder(str(tmp_path / "clean"), classes=2, per_class=6, fmt="png")
    broken = write_image_folder(str(tmp_path / "broken"), classes=2, per_class=6, fmt="png")
    with open(tmp_path / "broken" / "c1" / "002.png", "r+b") as f:
        f.truncate(60)  # a PNG header, then nothing
    options = dict(training=True, batch_size=4, image_size=16, train_crop=False, epochs=2)
    failures = data.LoadFailures(data.ImageFolderSource(broken), max_fraction=0.25)
    expected = _batches(data.image_folder(clean, **options))
    with caplog.at_level(logging.WARNING):
        actual = _batches(data.image_folder(broken, failures=failures, **options))
    assert len(actual) == len(expected) == 6
    replaced = []
    for step, ((x, y), (x_ref, y_ref)) in enumerate(zip(actual, expected, strict=True)):
        assert x.shape == x_ref.shape == (4, 16, 16, 3)
        for slot in range(4):
            if not np.array_equal(x[slot], x_ref[slot]):
                others = [k for k in range(4) if k != slot]
                assert any(np.array_equal(x[slot], x[k]) and y[slot] == y[k] for k in others)
                replaced.append(step)
            else:
                assert y[slot] == y_ref[slot]
    assert replaced and len(replaced) == 2 and replaced[0] < 3 <= replaced[1]  # once an epoch
    assert failures.count(0) == failures.count(1) == 1
    assert failures.named(0)[0][0].endswith("c1/002.png")
    assert "c1/002.png" in failures.summary(1)
    assert "Could not load" in caplog.text and "replaced by another example" in caplog.text


def test_evaluation_skips_and_reports_a_failed_example_once_however_many_passes(tmp_path):
    root = write_image_folder(str(tmp_path), classes=2, per_class=5, fmt="jpg")
    _corrupt(tmp_path / "c0" / "001.jpg")
    source = data.ImageFolderSource(root)
    failures = data.LoadFailures(source, max_fraction=0.1)
    dataset = data.make_dataset(
        source, training=False, batch_size=4, image_size=16, failures=failures
    )
    for _ in range(2):  # validation runs once per epoch
        labels = np.concatenate([y for _, y in dataset.as_numpy_iterator()])
        assert len(labels) == 9
    assert failures.count() == 1 and failures.error is None
    assert failures.named()[0][0].endswith("c0/001.jpg")
    # Over the default 1 %: evaluation stops instead of reporting a partial accuracy.
    strict_enough = data.LoadFailures(source)
    dataset = data.make_dataset(
        source, training=False, batch_size=4, image_size=16, failures=strict_enough
    )
    with pytest.raises(tf.errors.OpError, match="1 of the 10 examples"):
        list(dataset.as_numpy_iterator())


def test_evaluate_reports_skipped_examples_and_refuses_an_empty_pass(tmp_path):
    import keras

    from keras_minimal.training.data.failures import UnreadableDataError
    from keras_minimal.training.evaluation import evaluate

    root = write_image_folder(str(tmp_path), classes=2, per_class=3, fmt="jpg")
    _corrupt(tmp_path / "c1" / "000.jpg")
    source = data.ImageFolderSource(root)
    model = keras.Sequential(
        [keras.Input((16, 16, 3)), keras.layers.Flatten(), keras.layers.Dense(2)]
    )
    failures = data.LoadFailures(source, max_fraction=0.5)
    dataset = data.make_dataset(
        source, training=False, batch_size=2, image_size=16, failures=failures
    )
    results = evaluate(model, dataset, from_logits=True, failures=failures)
    assert results["examples"] == 5 and results["failed_examples"] == 1
    assert results["failed_named"][0][0].endswith("c1/000.jpg")
    for name in os.listdir(tmp_path / "c0"):
        _corrupt(tmp_path / "c0" / name)
    for name in os.listdir(tmp_path / "c1"):
        _corrupt(tmp_path / "c1" / name)
    failures = data.LoadFailures(source, max_fraction=1.0)
    dataset = data.make_dataset(
        source, training=False, batch_size=2, image_size=16, failures=failures
    )
    with pytest.raises(UnreadableDataError, match="6 of the 6 examples of an evaluation pass"):
        evaluate(model, dataset, from_logits=True, failures=failures)


def test_max_bad_fraction_is_checked():
    source = data.ArraySource(np.zeros((4, 8, 8, 3)), np.arange(4) % 2)
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]. Received: 1.5"):
        data.LoadFailures(source, 1.5)
    with pytest.raises(TypeError, match="Received: '1%'"):
        data.LoadFailures(source, "1%")


def test_a_closed_pipeline_stays_out_of_python_and_reopens(tmp_path):
    """A closed gate: failures go unrecorded (no call into Python, which could deadlock an
    iterator destroyed with the GIL held); reopened, they are counted again."""
    root = write_image_folder(str(tmp_path), classes=2, per_class=3, fmt="jpg")
    _corrupt(tmp_path / "c1" / "002.jpg")
    source = data.ImageFolderSource(root)
    failures = data.LoadFailures(source, max_fraction=0.5)
    dataset = data.make_dataset(
        source, training=False, batch_size=2, image_size=16, failures=failures
    )
    failures.close()
    labels = np.concatenate([y for _, y in dataset.as_numpy_iterator()])
    assert len(labels) == 5 and failures.count() == 0
    failures.open()
    labels = np.concatenate([y for _, y in dataset.as_numpy_iterator()])
    assert len(labels) == 5 and failures.count() == 1


def test_a_stopped_fit_closes_its_pipelines_and_drops_the_op_error(tmp_path):
    """The clean error is raised without the op error's traceback (which holds the pipeline's
    iterator) and with every pipeline of the run closed."""
    root = write_image_folder(str(tmp_path / "data"), classes=2, per_class=4, fmt="jpg")
    for folder in ("c0", "c1"):
        for name in os.listdir(tmp_path / "data" / folder):
            _corrupt(tmp_path / "data" / folder / name)
    recipe = apply_overrides(
        get_recipe("vanillanet_5"),
        "epochs=1,warmup_epochs=0,train_image_size=16,eval_image_size=16,randaugment=none",
    )
    trainer = Trainer(
        lambda: VanillaNet(
            [8, 16], [2], classes=2, input_shape=(16, 16, 3), classifier_activation=None
        ),
        recipe,
        data.ImageFolderSource(root),
        val_source=data.ImageFolderSource(root),
        output_dir=str(tmp_path / "run"),
        global_batch_size=4,
        jit_compile=False,
        tensorboard=False,
        verbose=0,
    )
    with pytest.raises(UnreadableDataError) as raised:
        trainer.fit()
    assert raised.value.__context__ is None and raised.value.__cause__ is None
    files = [frame.f_code.co_filename for frame, _ in traceback.walk_tb(raised.tb)]
    assert not [f for f in files if "/keras/src/" in f or "/tensorflow/" in f], files
    assert not trainer.train_failures.is_open and not trainer.val_failures.is_open
