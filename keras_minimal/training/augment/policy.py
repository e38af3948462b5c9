"""timm RandAugment policy strings ("rand-m9-mstd0.5-inc1") as data."""

import re
from dataclasses import dataclass

_KEYS = {
    "m": "magnitude",
    "n": "num_layers",
    "mstd": "magnitude_std",
    "mmax": "magnitude_max",
    "inc": "increasing",
    "p": "probability",
}


@dataclass(frozen=True)
class RandAugmentPolicy:
    """timm's rand_augment_transform parameters (defaults as in timm)."""

    magnitude: float = 10.0  # m: 0 … magnitude_max
    num_layers: int = 2  # n: operations per image
    magnitude_std: float = 0.0  # mstd: Gaussian noise on the magnitude, per operation
    magnitude_max: float = 10.0  # mmax: timm's _LEVEL_DENOM
    increasing: bool = False  # inc: the increasing-severity operation set
    probability: float = 0.5  # p: each chosen operation is applied with this probability

    @property
    def fraction(self):
        """The magnitude as a fraction of the maximum (what Keras-style layers take); a
        magnitude above the maximum is clipped to it, as timm's AugmentOp does."""
        return min(self.magnitude, self.magnitude_max) / self.magnitude_max


def is_randaugment(policy):
    """Whether `policy` is a timm RandAugment string ("rand-…")."""
    return isinstance(policy, str) and policy.split("-")[0] == "rand"


def parse_randaugment(policy):
    """Parse a timm string: "rand" then "-"-separated keys m, n, mstd, mmax, inc, p."""
    if not is_randaugment(policy):
        raise ValueError(
            "A RandAugment policy is a timm string such as 'rand-m9-mstd0.5-inc1' "
            f"(keys: {', '.join(_KEYS)}). Received: {policy!r}"
        )
    values = {}
    for part in policy.split("-")[1:]:
        match = re.fullmatch(r"([a-z]+)([0-9.]+)", part)
        if match is None or match.group(1) not in _KEYS:
            raise ValueError(
                f"Unknown RandAugment key {part!r} in {policy!r}; the keys are "
                f"{', '.join(_KEYS)} (timm's 'w' weighted choice is not supported)."
            )
        key, value = _KEYS[match.group(1)], float(match.group(2))
        if key == "num_layers":
            value = int(value)
        elif key == "increasing":
            value = bool(value)
        values[key] = value
    result = RandAugmentPolicy(**values)
    if result.magnitude < 0 or result.magnitude_max <= 0:
        raise ValueError(f"RandAugment needs m ≥ 0 and mmax > 0. Received: {policy!r}")
    if result.num_layers < 1 or not 0 <= result.probability <= 1:
        raise ValueError(f"RandAugment needs n ≥ 1 and p in [0, 1]. Received: {policy!r}")
    return result
