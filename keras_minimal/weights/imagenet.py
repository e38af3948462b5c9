"""weights="imagenet": download the upstream checkpoint once, convert it, cache a .weights.h5."""

import os
import tempfile

import keras

CACHE_SUBDIR = os.path.join("models", "keras_minimal")


class WeightsDownloadError(OSError, ValueError):
    """The upstream checkpoint could not be fetched (offline, moved, ...)."""


def cache_dir():
    return os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")


def converted_weights_path(model):
    """Where the converted weights of this variant and form are cached."""
    config = model.builder_config
    suffix = ("_deploy" if config["deploy"] else "") + ("" if config["include_top"] else "_notop")
    return os.path.join(cache_dir(), CACHE_SUBDIR, f"{model.variant}{suffix}.weights.h5")


def download_checkpoint(url, variant):
    fname = url.rsplit("/", 1)[-1]
    try:
        return keras.utils.get_file(
            fname=fname, origin=url, cache_dir=cache_dir(), cache_subdir=CACHE_SUBDIR
        )
    except Exception as error:
        raise WeightsDownloadError(
            f"Could not download the ImageNet weights of {variant} from {url} ({error}). "
            "Without network access, download that file on another machine and pass its "
            f'path instead: weights="/path/to/{fname}" (it is converted on load).'
        ) from None


def _save_atomically(model, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    handle, tmp = tempfile.mkstemp(suffix=".weights.h5", dir=os.path.dirname(path))
    os.close(handle)
    try:
        model.save_weights(tmp, overwrite=True)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_imagenet_weights(model):
    from keras_minimal.applications import families
    from keras_minimal.weights.reference import load_reference

    cached = converted_weights_path(model)
    if os.path.isfile(cached):
        model.load_weights(cached)
        return model
    url = families.IMAGENET_URLS[model.family](model.variant)
    checkpoint = download_checkpoint(url, model.variant)
    if model.builder_config.get("deploy"):
        # Published checkpoints are training graphs: load there, then fuse.
        from keras_minimal.deploy import to_deploy

        trained = families.rebuild(model, deploy=False)
        load_reference(trained, checkpoint)
        model.set_weights(to_deploy(trained).get_weights())
    else:
        load_reference(model, checkpoint)
    _save_atomically(model, cached)
    return model
