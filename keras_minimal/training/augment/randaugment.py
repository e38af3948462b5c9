"""RandAugment behind a small adapter: keras-cv 0.9 (default) or Keras core.

keras-cv is imported here and nowhere else (it is heavy and frozen upstream). Measured
on this project's 2-core CPU inside tf.data (benchmarks/augmentation_throughput.py),
keras-cv's RandAugment is much faster per image than keras.layers.RandAugment, whose
per-image path converts through the backend-agnostic machinery on every call; keras-cv
is therefore the default and Keras core the fallback when keras-cv is not installed.

Mapping of the timm policy (policy.py):
- keras_cv: augmentations_per_image=n, magnitude=m/mmax, magnitude_stddev=mstd/mmax,
  rate=p. Its ten operations (auto contrast, equalize, solarize, color, contrast,
  brightness, shear x/y, translate x/y) all grow in severity with the magnitude — timm's
  "inc1" set; timm's Invert, Rotate, Posterize, SolarizeAdd and Sharpness are not in it.
- keras: num_ops=n, factor=m/mmax; no magnitude noise (mstd) and every chosen operation
  is applied (p=1).

Randomness: both libraries draw from stateful generators, so the RandAugment draws are
the one part of the pipeline that is not a pure function of the example's position
(see README: exact resume holds for everything else).
"""

import logging

from keras_minimal.training.augment.policy import parse_randaugment

BACKENDS = ("keras_cv", "keras")
logger = logging.getLogger(__name__)


def default_backend():
    import importlib.util

    return "keras_cv" if importlib.util.find_spec("keras_cv") is not None else "keras"


class RandAugment:
    """Apply a timm RandAugment policy to one float32 [0, 255] image inside tf.data."""

    def __init__(self, policy, backend=None, value_range=(0, 255), seed=None):
        self.policy = parse_randaugment(policy)
        self.policy_string = policy
        backend = backend or default_backend()
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}. Received: backend={backend!r}")
        self.backend = backend
        if not self.policy.increasing:
            logger.warning(
                "RandAugment %r: the Keras implementations grow every operation's severity "
                "with the magnitude (timm's inc1 set).",
                policy,
            )
        self.layer = (
            self._keras_cv(value_range, seed)
            if backend == "keras_cv"
            else self._keras(value_range, seed)
        )

    def _keras_cv(self, value_range, seed):
        try:
            import keras_cv
        except ImportError:
            raise ImportError(
                "RandAugment with backend='keras_cv' needs keras-cv: pip install "
                "'keras-minimal[augment]' (or pass backend='keras')."
            ) from None
        return keras_cv.layers.RandAugment(
            value_range=value_range,
            augmentations_per_image=self.policy.num_layers,
            magnitude=self.policy.fraction,
            magnitude_stddev=self.policy.magnitude_std / self.policy.magnitude_max,
            rate=self.policy.probability,
            seed=seed,
        )

    def _keras(self, value_range, seed):
        import keras

        if self.policy.magnitude_std:
            logger.warning(
                "keras.layers.RandAugment has no magnitude noise: mstd%g is ignored.",
                self.policy.magnitude_std,
            )
        return keras.layers.RandAugment(
            value_range=value_range,
            num_ops=self.policy.num_layers,
            factor=self.policy.fraction,
            seed=seed,
        )

    def __call__(self, image):
        return self.layer(image, training=True)
