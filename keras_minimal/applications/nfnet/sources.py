"""NFNet's published ImageNet weights, by the name `weights=` takes.

- "imagenet": timm's dm_nfnet_f0 … f6, its PyTorch port of DeepMind's weights.
- "imagenet_deepmind": DeepMind's own release, F0_haiku.npz … F6_haiku.npz (a dill pickle
  of the Haiku parameter tree, read without dill by keras_minimal.weights.haiku_pickle).
  These weights select `reference="deepmind"` in the builder (DeepMind's tanh GELU and
  weight standardisation; see references.py), which reproduces DeepMind's outputs.

Neither publisher released F7.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from keras_minimal.applications.nfnet.variants import VARIANTS

TIMM_RELEASE_URL = (
    "https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-dnf-weights/{file}"
)
DEEPMIND_RELEASE_URL = "https://storage.googleapis.com/dm-nfnets/{file}"
DEEPMIND_FILES = {f"nfnet_f{i}": f"F{i}_haiku.npz" for i in range(7)}


@dataclass(frozen=True)
class WeightSource:
    """Where each variant's checkpoint is (None: not released) and the builder options the
    weights were trained with, which the builder selects when it is given this name."""

    url: Callable
    options: dict = field(default_factory=dict)


def _timm_url(variant):
    file = VARIANTS[variant].checkpoint_file if variant in VARIANTS else None
    return TIMM_RELEASE_URL.format(file=file) if file else None


def _deepmind_url(variant):
    file = DEEPMIND_FILES.get(variant)
    return DEEPMIND_RELEASE_URL.format(file=file) if file else None


WEIGHT_SOURCES = {
    "imagenet": WeightSource(_timm_url),
    "imagenet_deepmind": WeightSource(_deepmind_url, {"reference": "deepmind"}),
}
