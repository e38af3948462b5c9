"""Final artefacts and checkpoints: whole or absent, recoverable, and a full disk said clearly."""

import json
import logging
import os

import h5py
import keras
import numpy as np
import pytest

from keras_minimal import atomic_files
from keras_minimal.training import artefacts, checkpointing
from keras_minimal.training.data import ImageFolderSource
from tests.fault_injection import inject, temporary_files
from tests.training.synthetic import write_image_folder
from tests.training.test_trainer import _model, _trainer


def _h5_arrays(path):
    arrays = {}
    with h5py.File(path, "r") as f:
        f.visititems(
            lambda name, obj: arrays.__setitem__(name, obj[()]) if hasattr(obj, "shape") else None
        )
    return arrays


def test_weights_bytes_hold_what_save_weights_writes(tmp_path):
    model = _model()
    model.save_weights(str(tmp_path / "keras.weights.h5"))
    (tmp_path / "ours.weights.h5").write_bytes(artefacts.weights_bytes(model))
    expected, ours = (
        _h5_arrays(tmp_path / "keras.weights.h5"),
        _h5_arrays(tmp_path / "ours.weights.h5"),
    )
    assert expected.keys() == ours.keys() and len(ours) > 10
    for key in expected:
        np.testing.assert_array_equal(ours[key], expected[key])
    fresh = _model()
    fresh.load_weights(str(tmp_path / "ours.weights.h5"))
    for a, b in zip(fresh.weights, model.weights, strict=True):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))


def _files(directory):
    return {
        name: (directory / name).read_bytes()
        for name in sorted(os.listdir(directory))
        if (directory / name).is_file()
    }


def test_a_finished_run_leaves_every_artefact_and_a_rerun_changes_nothing(tmp_path, caplog):
    trainer = _trainer(tmp_path)
    trainer.fit()
    manifest = json.loads((tmp_path / "final.json").read_text())
    assert manifest["global_step"] == 6
    assert sorted(manifest["files"]) == ["final.keras", "final.weights.h5", "final_ema.weights.h5"]
    # The .keras model loads as it is and computes what the trained weights compute.
    loaded = keras.models.load_model(str(tmp_path / "final.keras"))
    network = _model()
    network.load_weights(str(tmp_path / "final.weights.h5"))
    images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(
        loaded.predict(images, verbose=0), network.predict(images, verbose=0), rtol=1e-6, atol=1e-6
    )
    before = _files(tmp_path) | {
        f"checkpoints/{k}": v for k, v in _files(tmp_path / "checkpoints").items()
    }
    with caplog.at_level(logging.WARNING):
        assert _trainer(tmp_path).fit() == {}
    assert "already finished (6 steps) and its final files are in" in caplog.text
    assert "Resumed" not in caplog.text
    after = _files(tmp_path) | {
        f"checkpoints/{k}": v for k, v in _files(tmp_path / "checkpoints").items()
    }
    assert after == before


def test_missing_or_torn_artefacts_are_rebuilt_from_the_last_checkpoint(tmp_path, caplog):
    _trainer(tmp_path).fit()
    expected = {
        name: _h5_arrays(tmp_path / name) for name in ("final.weights.h5", "final_ema.weights.h5")
    }
    with open(tmp_path / "final.weights.h5", "r+b") as f:
        f.truncate(1000)
    os.remove(tmp_path / "final.keras")
    with caplog.at_level(logging.WARNING):
        _trainer(tmp_path).fit()
    assert "final.keras is missing" in caplog.text
    assert "final.weights.h5 is not the file that was written" in caplog.text
    for name, arrays in expected.items():
        rebuilt = _h5_arrays(tmp_path / name)
        assert rebuilt.keys() == arrays.keys()
        for key in arrays:
            np.testing.assert_array_equal(rebuilt[key], arrays[key])
    keras.models.load_model(str(tmp_path / "final.keras"))
    assert artefacts.FinalArtefacts(str(tmp_path)).problems(6) == []


def test_a_full_disk_at_the_final_weights_leaves_nothing_partial_and_the_rerun_finishes(
    tmp_path, monkeypatch
):
    inject(monkeypatch, "enospc", "final.weights.h5")
    with pytest.raises(atomic_files.DiskFullError) as raised:
        _trainer(tmp_path).fit()
    message = str(raised.value)
    assert f"Not enough disk space to write {tmp_path / 'final.weights.h5'}" in message
    assert "it needs about" in message and "run the same command again" in message
    assert raised.value.errno == 28 and "\n" not in message
    assert temporary_files(tmp_path) == [] and not (tmp_path / "final.weights.h5").exists()
    assert not (tmp_path / "final.json").exists()
    manager = checkpointing.CheckpointManager(str(tmp_path / "checkpoints"))
    assert manager.read_state(manager.latest())["global_step"] == 6  # the last one, intact

    monkeypatch.undo()  # space freed
    _trainer(tmp_path).fit()
    assert artefacts.FinalArtefacts(str(tmp_path)).problems(6) == []


def test_a_full_disk_at_a_checkpoint_keeps_the_earlier_one_and_the_rerun_resumes(
    tmp_path, monkeypatch
):
    inject(monkeypatch, "enospc", "ckpt-0000000006")
    with pytest.raises(atomic_files.DiskFullError, match="ckpt-0000000006.npz"):
        _trainer(tmp_path).fit()
    checkpoints = tmp_path / "checkpoints"
    assert temporary_files(checkpoints) == []
    manager = checkpointing.CheckpointManager(str(checkpoints))
    assert [os.path.basename(p) for p in manager.paths()] == ["ckpt-0000000003.npz"]
    assert manager.read_state(manager.latest())["global_step"] == 3
    monkeypatch.undo()
    _trainer(tmp_path).fit()
    assert manager.read_state(manager.latest())["global_step"] == 6
    assert (tmp_path / "final.weights.h5").exists()


def test_with_an_undecodable_image_steps_iterations_and_data_position_agree(tmp_path, caplog):
    root = write_image_folder(str(tmp_path / "data"), classes=3, per_class=8)
    with open(tmp_path / "data" / "c2" / "005.png", "r+b") as f:
        f.truncate(60)
    source = ImageFolderSource(root)
    options = dict(
        output_dir=str(tmp_path / "run"),
        global_batch_size=8,
        jit_compile=False,
        train_crop=False,
        tensorboard=False,
        verbose=0,
        max_bad_fraction=0.1,
    )
    from keras_minimal.training.trainer import Trainer
    from tests.training.test_trainer import RECIPE

    trainer = Trainer(_model, RECIPE, source, **options)
    with caplog.at_level(logging.WARNING):
        trainer.fit()
    assert "Epoch 1: 1 example(s) of the image folder" in caplog.text
    assert "Epoch 2: 1 example(s)" in caplog.text and "c2/005.png" in caplog.text
    manager = checkpointing.CheckpointManager(str(tmp_path / "run" / "checkpoints"))
    state = manager.read_state(manager.latest())
    assert (
        state["global_step"]
        == 6
        == int(keras.ops.convert_to_numpy(trainer.model.optimizer.iterations))
    )
    before = _files(tmp_path / "run")
    rerun = Trainer(_model, RECIPE, source, **options)
    rerun.fit()
    assert int(keras.ops.convert_to_numpy(rerun.model.optimizer.iterations)) == 6
    assert _files(tmp_path / "run") == before
