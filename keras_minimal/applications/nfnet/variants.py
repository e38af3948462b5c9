"""NFNet-F0 … F7 (Brock et al. 2021, table 2; DeepMind nfnets base.py `nfnet_params`)."""

from dataclasses import dataclass

CHANNELS = (256, 512, 1536, 1536)


@dataclass(frozen=True)
class NFNetVariant:
    constructor_name: str
    depths: tuple
    train_image_size: int
    test_image_size: int
    drop_rate: float  # dropout before the classifier
    checkpoint_file: str | None  # timm dm_nfnet_* release file (sources.py), None if unreleased

    @property
    def config(self):
        return {"depths": self.depths, "channels": CHANNELS}


VARIANTS = {
    "nfnet_f0": NFNetVariant("NFNetF0", (1, 2, 6, 3), 192, 256, 0.2, "dm_nfnet_f0-604f9c3a.pth"),
    "nfnet_f1": NFNetVariant("NFNetF1", (2, 4, 12, 6), 224, 320, 0.3, "dm_nfnet_f1-fc540f82.pth"),
    "nfnet_f2": NFNetVariant("NFNetF2", (3, 6, 18, 9), 256, 352, 0.4, "dm_nfnet_f2-89875923.pth"),
    "nfnet_f3": NFNetVariant("NFNetF3", (4, 8, 24, 12), 320, 416, 0.4, "dm_nfnet_f3-d74ab3aa.pth"),
    "nfnet_f4": NFNetVariant("NFNetF4", (5, 10, 30, 15), 384, 512, 0.5, "dm_nfnet_f4-0ac5b10b.pth"),
    "nfnet_f5": NFNetVariant("NFNetF5", (6, 12, 36, 18), 416, 544, 0.5, "dm_nfnet_f5-ecb20ab1.pth"),
    "nfnet_f6": NFNetVariant("NFNetF6", (7, 14, 42, 21), 448, 576, 0.5, "dm_nfnet_f6-e0f12116.pth"),
    "nfnet_f7": NFNetVariant("NFNetF7", (8, 16, 48, 24), 480, 608, 0.5, None),
}

# Everything but depths and channels that a published F-model fixes.
PUBLISHED_OPTIONS = {
    "group_size": 128,
    "stem_chs": 128,
    "bottle_ratio": 0.5,
    "se_ratio": 0.5,
    "alpha": 0.2,
    "num_features": 2 * CHANNELS[-1],
}
# The GELU each publisher trained with, by builder `reference` (references.py).
PUBLISHED_ACTIVATIONS = {"timm": "gelu", "deepmind": "gelu_approximate"}


def find_variant(depths, channels, reference="timm", **options):
    """The registered name of this configuration, or None."""
    if any(options.get(k) != v for k, v in PUBLISHED_OPTIONS.items()):
        return None
    if options.get("activation") != PUBLISHED_ACTIVATIONS[reference]:
        return None
    for name, variant in VARIANTS.items():
        if variant.depths == tuple(depths) and CHANNELS == tuple(channels):
            return name
    return None


# The tiny row for fast functional tests (the configuration of the nfnet_tiny_dm fixture).
TEST_CONFIG = {
    "depths": (1, 1, 2, 1),
    "channels": (32, 64, 96, 96),
    "group_size": 8,
    "stem_chs": 32,
}
