"""The ConvNeXt variants of the paper (Liu et al. 2022, Table / official models/convnext.py)."""

from dataclasses import dataclass

# The official ImageNet-1k checkpoints (EMA weights, 224²), as timm's convnext_*.fb_in1k
# point to them. XL was only trained on ImageNet-22k: its ImageNet-1k classifier is the
# 22k → 1k fine-tune (timm convnext_xlarge.fb_in22k_ft_in1k).
_RELEASE = "https://dl.fbaipublicfiles.com/convnext/"


@dataclass(frozen=True)
class ConvNeXtVariant:
    constructor_name: str
    depths: tuple
    dims: tuple
    params: int  # trainable, PyTorch counting, classes=1000
    imagenet_url: str
    # drop_path_rate of the paper's ImageNet-1k recipe (None: no ImageNet-1k-only recipe).
    recipe_drop_path_rate: float | None

    @property
    def config(self):
        return {"depths": self.depths, "dims": self.dims}


_SHALLOW = (3, 3, 9, 3)
_DEEP = (3, 3, 27, 3)

VARIANTS = {
    "convnext_tiny": ConvNeXtVariant(
        "ConvNeXtTiny",
        _SHALLOW,
        (96, 192, 384, 768),
        28589128,
        _RELEASE + "convnext_tiny_1k_224_ema.pth",
        0.1,
    ),
    "convnext_small": ConvNeXtVariant(
        "ConvNeXtSmall",
        _DEEP,
        (96, 192, 384, 768),
        50223688,
        _RELEASE + "convnext_small_1k_224_ema.pth",
        0.4,
    ),
    "convnext_base": ConvNeXtVariant(
        "ConvNeXtBase",
        _DEEP,
        (128, 256, 512, 1024),
        88591464,
        _RELEASE + "convnext_base_1k_224_ema.pth",
        0.5,
    ),
    "convnext_large": ConvNeXtVariant(
        "ConvNeXtLarge",
        _DEEP,
        (192, 384, 768, 1536),
        197767336,
        _RELEASE + "convnext_large_1k_224_ema.pth",
        0.5,
    ),
    "convnext_xlarge": ConvNeXtVariant(
        "ConvNeXtXLarge",
        _DEEP,
        (256, 512, 1024, 2048),
        350196968,
        _RELEASE + "convnext_xlarge_22k_1k_224_ema.pth",
        None,
    ),
}


def find_variant(depths, dims):
    """The registered name of this configuration, or None."""
    key = (tuple(depths), tuple(dims))
    for name, variant in VARIANTS.items():
        if (variant.depths, variant.dims) == key:
            return name
    return None


# The tiny row for fast functional tests (the configuration of the convnext_tiny_* fixtures).
TEST_CONFIG = {"depths": (1, 1, 2, 1), "dims": (16, 32, 48, 64)}
