"""Training checkpoints for exact resume, written atomically.

One .npz per checkpoint (`ckpt-<global step>.npz`, numpy only, read with
allow_pickle=False) holding every model variable (weights, BatchNorm statistics, λ,
dropout seed-generator states), every optimizer variable (step counter, slots, EMA,
loss scale) and a JSON record of where training stood (epoch, step in epoch, data seed,
global batch) and what it trains (a fingerprint of the model's variables). It is written
to a temporary file, fsync'ed and renamed over (keras_minimal/atomic_files.py), so a kill at
any moment leaves either the previous checkpoint or the new one, never a torn file; the
temporary files of killed writers are removed when the run starts again; a full disk raises
DiskFullError and leaves the earlier checkpoints as they were.
"""

import contextlib
import glob
import json
import os
import re

import keras
import numpy as np

from keras_minimal.atomic_files import remove_temporary_leftovers, write_atomically

FORMAT_VERSION = 1
_PATTERN = re.compile(r"ckpt-(\d+)\.npz$")


def _sync(model):
    if hasattr(model, "jax_state_sync"):
        model.jax_state_sync()


def _stable_path(path):
    # Seed generators are named from a process-wide counter ("seed_generator_3/..."):
    # the number depends on what else the process built, not on the model.
    return re.sub(r"seed_generator(_\d+)?", "seed_generator", path)


def fingerprint(model):
    """[path, shape, dtype] of every model variable, in order."""
    return [[_stable_path(v.path), list(v.shape), str(v.dtype)] for v in model.variables]


def _optimizer_variables(model):
    return list(model.optimizer.variables) if model.optimizer is not None else []


def write_arrays(path, arrays):
    """One .npz, atomically (DiskFullError on a full disk, nothing partial left)."""
    size = sum(array.nbytes + 512 for array in arrays.values())  # + zip and npy headers
    return write_atomically(path, lambda file: np.savez(file, **arrays), size=size)


class CheckpointManager:
    """Save / find / restore training checkpoints in `directory`, keeping the last `keep`."""

    def __init__(self, directory, keep=2):
        self.directory = directory
        self.keep = keep

    def remove_leftovers(self):
        """Remove the temporary files of checkpoint writes killed on this host."""
        return remove_temporary_leftovers(self.directory, "ckpt-*.npz")

    def paths(self):
        found = []
        for path in glob.glob(os.path.join(self.directory, "ckpt-*.npz")):
            match = _PATTERN.search(os.path.basename(path))
            if match:
                found.append((int(match.group(1)), path))
        return [p for _, p in sorted(found)]

    def latest(self):
        paths = self.paths()
        return paths[-1] if paths else None

    def save(self, model, state):
        """Write the model + optimizer variables and `state` (a JSON-able dict)."""
        _sync(model)
        step = int(state["global_step"])
        meta = dict(state, format_version=FORMAT_VERSION, variables=fingerprint(model))
        arrays = {"meta": np.array(json.dumps(meta))}
        for i, variable in enumerate(model.variables):
            arrays[f"model_{i:05d}"] = keras.ops.convert_to_numpy(variable)
        for i, variable in enumerate(_optimizer_variables(model)):
            arrays[f"optimizer_{i:05d}"] = keras.ops.convert_to_numpy(variable)
        path = os.path.join(self.directory, f"ckpt-{step:010d}.npz")
        write_arrays(path, arrays)
        for old in self.paths()[: -self.keep]:
            # Several hosts may share the directory: another one may have removed it.
            with contextlib.suppress(FileNotFoundError):
                os.remove(old)
        return path

    @staticmethod
    def read_state(path):
        with np.load(path, allow_pickle=False) as data:
            return json.loads(str(data["meta"]))

    def restore(self, model, path, expect=None):
        """Load a checkpoint into a compiled model with a built optimizer; returns the state.

        `expect` maps state keys to the values this run uses (e.g. the global batch); any
        difference is refused, as is a checkpoint of another model.
        """
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            expected = fingerprint(model)
            if meta.get("variables") != expected:
                raise ValueError(
                    f"The checkpoint {path} was written for a different model "
                    f"({meta.get('model')!r}, {len(meta.get('variables', []))} variables) than "
                    f"the one this run builds ({model.name!r}, {len(expected)} variables): "
                    f"{_first_difference(meta.get('variables', []), expected)}. Resume with "
                    "the same --model and model options, or use another --output_dir."
                )
            for key, value in (expect or {}).items():
                if meta.get(key) != value:
                    raise ValueError(
                        f"The checkpoint {path} was written with "
                        f"{_setting_difference(key, meta.get(key), value)}. Resume with the "
                        "same settings (exact resume depends on them) or use another --output_dir."
                    )
            optimizer_variables = _optimizer_variables(model)
            stored = sorted(k for k in data.files if k.startswith("optimizer_"))
            if len(stored) != len(optimizer_variables):
                raise ValueError(
                    f"The checkpoint {path} holds {len(stored)} optimizer variables; this run's "
                    f"optimizer has {len(optimizer_variables)}. Resume with the same recipe (a "
                    "checkpoint written before keras_minimal averaged BatchNorm statistics in "
                    "the EMA has fewer: finish that run with the version that started it)."
                )
            for i, variable in enumerate(model.variables):
                variable.assign(data[f"model_{i:05d}"])
            for i, variable in enumerate(optimizer_variables):
                variable.assign(data[f"optimizer_{i:05d}"])
        if hasattr(model, "_jax_state_synced"):
            model._jax_state_synced = True
        return meta


def _setting_difference(key, stored, used):
    if isinstance(stored, dict) and isinstance(used, dict):
        fields = sorted(k for k in stored.keys() | used.keys() if stored.get(k) != used.get(k))
        stored = ", ".join(f"{k}={stored.get(k)!r}" for k in fields)
        used = ", ".join(f"{k}={used.get(k)!r}" for k in fields)
        return f"{key} {stored}; this run's {key} has {used}"
    return f"{key}={stored!r}; this run uses {key}={used!r}"


def _first_difference(stored, expected):
    for a, b in zip(stored, expected, strict=False):
        if a != b:
            return f"checkpoint has {a}, the model has {b}"
    return f"{len(stored)} vs {len(expected)} variables"


class CheckpointCallback(keras.callbacks.Callback):
    """Checkpoint every `every_steps` global steps and at the end of every epoch.

    `state_fn(global_step)` returns the JSON-able record saved with the variables. The
    global step is counted from `start_step` (no device read per batch).
    """

    def __init__(self, manager, steps_per_epoch, state_fn, every_steps=None, start_step=0):
        super().__init__()
        self.manager = manager
        self.steps_per_epoch = steps_per_epoch
        self.state_fn = state_fn
        self.every_steps = every_steps
        self.global_step = int(start_step)

    def on_train_batch_end(self, batch, logs=None):
        self.global_step += 1
        if (
            self.every_steps
            and self.global_step % self.every_steps == 0
            and self.global_step % self.steps_per_epoch
        ):
            self.manager.save(self.model, self.state_fn(self.global_step))

    def on_epoch_end(self, epoch, logs=None):
        self.manager.save(self.model, self.state_fn(self.global_step))
