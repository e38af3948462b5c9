"""The final artefacts of a training run: written whole, listed in a manifest, rebuilt if lost.

    final.weights.h5      the trained weights (model.load_weights, weights=, evaluate.py)
    final_ema.weights.h5  the EMA weights, when the recipe keeps an EMA
    final.keras           the trained model for keras.models.load_model (no optimizer)
    final.json            written last: the global step and the SHA-256 of each file above

Each file is serialised in memory (keras_minimal/keras_bytes.py), then written atomically
(keras_minimal/atomic_files.py). A finished run's manifest lets a rerun check every artefact
(present, same bytes) and rebuild the ones that are not.
"""

import hashlib
import json
import os

from keras_minimal.atomic_files import remove_temporary_leftovers, write_atomically
from keras_minimal.keras_bytes import model_bytes, weights_bytes  # noqa: F401 (re-exported)

WEIGHTS = "final.weights.h5"
EMA_WEIGHTS = "final_ema.weights.h5"
MODEL = "final.keras"
MANIFEST = "final.json"


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def _file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class FinalArtefacts:
    """The final files of the run in `directory`."""

    def __init__(self, directory):
        self.directory = directory

    def path(self, name):
        return os.path.join(self.directory, name)

    def remove_leftovers(self):
        """Remove the temporary files of final writes killed on this host."""
        return remove_temporary_leftovers(self.directory, "final*")

    def write(self, files, global_step):
        """Write `files` (name → bytes, None to skip) one by one, then the manifest."""
        written = {}
        for name, data in files.items():
            if data is None:
                continue
            write_atomically(self.path(name), data)
            written[name] = _sha256(data)
        manifest = {"global_step": int(global_step), "files": written}
        write_atomically(self.path(MANIFEST), json.dumps(manifest, indent=2).encode())

    def problems(self, global_step):
        """What is wrong with the artefacts of a run finished at `global_step` (empty: all
        present, as written)."""
        try:
            with open(self.path(MANIFEST)) as f:
                manifest = json.load(f)
        except FileNotFoundError:
            return [f"{MANIFEST} is missing"]
        except (OSError, ValueError):
            return [f"{MANIFEST} is unreadable"]
        if manifest.get("global_step") != int(global_step):
            return [f"{MANIFEST} is of step {manifest.get('global_step')}, not {global_step}"]
        problems = []
        for name, digest in manifest.get("files", {}).items():
            path = self.path(name)
            if not os.path.isfile(path):
                problems.append(f"{name} is missing")
            elif _file_sha256(path) != digest:
                problems.append(f"{name} is not the file that was written (torn or changed)")
        if WEIGHTS not in manifest.get("files", {}):
            problems.append(f"{WEIGHTS} is not listed")
        return problems
