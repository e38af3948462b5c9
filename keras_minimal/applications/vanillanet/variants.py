"""The VanillaNet variants of the official code (huawei-noah/VanillaNet models/vanillanet.py)."""

from dataclasses import dataclass

RELEASE_URL = "https://github.com/huawei-noah/VanillaNet/releases/download/ckpt/{name}.pth"


@dataclass(frozen=True)
class VanillaNetVariant:
    constructor_name: str
    dims: tuple
    strides: tuple
    ada_pool: tuple | None
    train_params: int  # trainable, PyTorch counting, classes=1000
    deploy_params: int

    @property
    def config(self):
        return {"dims": self.dims, "strides": self.strides, "ada_pool": self.ada_pool}


def _widths(multiplier, units):
    return tuple(multiplier * u for u in units)


# Stage widths in units of 128 channels; ×4 for the standard models, ×6 for the 1.5× ones.
_DEEP_UNITS = (128, 128, 256, 512, 512, 512, 512, 512, 512, 512, 1024, 1024)
_DEEP_STRIDES = (1, 2, 2, 1, 1, 1, 1, 1, 1, 2, 1)


def _deep(depth):
    """VanillaNet-7 … 13: the 13-layer layout with 13 − depth of its stride-1 512 stages removed."""
    dropped = 13 - depth
    units = _DEEP_UNITS[:4] + _DEEP_UNITS[4 + dropped :]
    strides = _DEEP_STRIDES[:3] + _DEEP_STRIDES[3 + dropped :]
    return _widths(4, units), strides


VARIANTS = {
    "vanillanet_5": VanillaNetVariant(
        "VanillaNet5", _widths(4, (128, 256, 512, 1024)), (2, 2, 2), None, 22328800, 15523304
    ),
    "vanillanet_6": VanillaNetVariant(
        "VanillaNet6",
        _widths(4, (128, 256, 512, 1024, 1024)),
        (2, 2, 2, 1),
        None,
        56116704,
        32509416,
    ),
    "vanillanet_7": VanillaNetVariant("VanillaNet7", *_deep(7), None, 56670176, 32797672),
    "vanillanet_8": VanillaNetVariant("VanillaNet8", *_deep(8), None, 65175520, 37096424),
    "vanillanet_9": VanillaNetVariant("VanillaNet9", *_deep(9), None, 73680864, 41395176),
    "vanillanet_10": VanillaNetVariant("VanillaNet10", *_deep(10), None, 82186208, 45693928),
    "vanillanet_11": VanillaNetVariant("VanillaNet11", *_deep(11), None, 90691552, 49992680),
    "vanillanet_12": VanillaNetVariant("VanillaNet12", *_deep(12), None, 99196896, 54291432),
    "vanillanet_13": VanillaNetVariant("VanillaNet13", *_deep(13), None, 107702240, 58590184),
    "vanillanet_13_x1_5": VanillaNetVariant(
        "VanillaNet13_x1_5",
        _widths(6, _DEEP_UNITS),
        _DEEP_STRIDES,
        None,
        236942048,
        127796200,
    ),
    # The ada_pool model also uses a stride-3, padding-1 stem (224 → 75 → 38 → 19 … → 10).
    "vanillanet_13_x1_5_ada_pool": VanillaNetVariant(
        "VanillaNet13_x1_5_ada_pool",
        _widths(6, _DEEP_UNITS),
        _DEEP_STRIDES,
        (0, 38, 19, 0, 0, 0, 0, 0, 0, 10, 0),
        236942048,
        127796200,
    ),
}


def find_variant(dims, strides, ada_pool):
    """The registered name of this configuration, or None."""
    key = (tuple(dims), tuple(strides), tuple(ada_pool) if ada_pool else None)
    for name, variant in VARIANTS.items():
        if (variant.dims, variant.strides, variant.ada_pool) == key:
            return name
    return None


# The tiny row for fast functional tests (the configuration of the vanillanet_tiny5 fixture).
TEST_CONFIG = {"dims": (16, 32, 64, 128), "strides": (2, 2, 2), "ada_pool": None}
