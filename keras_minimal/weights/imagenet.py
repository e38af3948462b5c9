"""weights="imagenet" (and a family's other published names, e.g. PP-LCNet's
"imagenet_ssld"): download the upstream checkpoint once, convert it, cache a .weights.h5."""

import hashlib
import os
import warnings

import keras

from keras_minimal import model_families
from keras_minimal.weights.checkpoint_loading import load_checkpoint
from keras_minimal.weights.converted_weights import save_weights_atomically
from keras_minimal.weights.readers import CorruptCheckpointError, read_checkpoint

CACHE_SUBDIR = os.path.join("models", "keras_minimal")


class WeightsDownloadError(OSError, ValueError):
    """The upstream checkpoint could not be fetched (offline, moved, ...)."""


def cache_dir():
    return os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")


def _make_cache_subdir():
    # keras.utils.get_file falls back to a shared /tmp/.keras when the directory does not
    # exist yet, and would then convert whatever file of that name it finds there.
    directory = os.path.join(cache_dir(), CACHE_SUBDIR)
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as error:
        raise OSError(
            f"Cannot create the weights cache {directory!r} ({error}). Set KERAS_HOME to a "
            "writable directory, or pass the path of a downloaded checkpoint as weights=."
        ) from None


def _family(model):
    return model_families.require_family(model, "weights=")


def _source_url(model, name):
    return _family(model).weights_urls[name](model.variant)


def converted_weights_path(model, name="imagenet"):
    """Where the converted weights `name` of this variant and form are cached.

    The name carries a digest of the checkpoint's URL and of the model's variable names,
    shapes and dtypes, so that forms with other variables (a pooled headless ConvNeXt has
    head_norm, an unpooled one does not) and other releases (PP-LCNet's "imagenet_ssld"; its
    "imagenet", timm's release before it was PaddleClas') never share a file.
    """
    config = model.builder_config
    suffix = ("_deploy" if config["deploy"] else "") + ("" if config["include_top"] else "_notop")
    source = "" if name == "imagenet" else f"_{name}"
    url = (_source_url(model, name) or "") if model.variant else ""
    layout = ";".join([url, *(f"{w.path}:{tuple(w.shape)}:{w.dtype}" for w in model.weights)])
    digest = hashlib.sha256(layout.encode()).hexdigest()[:8]
    return os.path.join(
        cache_dir(), CACHE_SUBDIR, f"{model.variant}{source}{suffix}-{digest}.weights.h5"
    )


def download_checkpoint(url, variant, options=None):
    """The local path of `url`'s file; `options` are the constructor arguments (besides the
    path) that a copy passed as weights= needs, named in the offline error."""
    fname = url.rsplit("/", 1)[-1]
    arguments = "".join(f', {name}="{value}"' for name, value in (options or {}).items())
    _make_cache_subdir()
    try:
        return keras.utils.get_file(
            fname=fname, origin=url, cache_dir=cache_dir(), cache_subdir=CACHE_SUBDIR
        )
    except Exception as error:
        raise WeightsDownloadError(
            f"Could not download the ImageNet weights of {variant} from {url} ({error}). "
            "Without network access, download that file on another machine and pass its "
            f'path instead: weights="/path/to/{fname}"{arguments} (it is converted on load; '
            "reading it needs no package beyond keras-minimal's own: no PyTorch, Paddle or "
            "Haiku)."
        ) from None


def _load_cached(model, cached):
    try:
        model.load_weights(cached)
        return True
    except Exception as error:
        warnings.warn(
            f"The cached ImageNet weights {cached!r} could not be loaded ({error}); "
            "converting the checkpoint again.",
            stacklevel=3,
        )
        os.remove(cached)
        return False


def _read_download(path, url):
    try:
        return read_checkpoint(path)
    except CorruptCheckpointError as error:
        # keras.utils.get_file reuses any file of that name, so a bad one must go.
        os.remove(path)
        raise ValueError(
            f"The checkpoint downloaded from {url} could not be read and has been deleted "
            f"({error}). Try again to download it anew."
        ) from None


def load_imagenet_weights(model, name="imagenet"):
    """Load the published checkpoint `name` ("imagenet", or one of the family's other names
    such as PP-LCNet's "imagenet_ssld" or NFNet's "imagenet_deepmind") of `model`'s variant,
    converting and caching it once."""
    cached = converted_weights_path(model, name)
    if os.path.isfile(cached) and _load_cached(model, cached):
        return model
    url = _source_url(model, name)
    options = _family(model).weights_options.get(name, {})
    checkpoint = _read_download(download_checkpoint(url, model.variant, options), url)
    load_checkpoint(model, checkpoint)
    try:
        save_weights_atomically(model, cached)
    except OSError as error:
        warnings.warn(
            f"The converted ImageNet weights could not be cached at {cached!r} ({error}); "
            "they are loaded, but will be converted again next time. Set KERAS_HOME to a "
            "writable directory to keep them.",
            stacklevel=3,
        )
    return model
