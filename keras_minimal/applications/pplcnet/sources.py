"""PP-LCNet's published ImageNet-1k weights, by the `weights=` value that selects them.

- "imagenet": PaddleClas' release for all eight scales (MODEL_URLS of
  ppcls/arch/backbone/legendary_models/pp_lcnet.py), in PaddleClas' layout.
- "imagenet_ssld": PaddleClas' SSLD-distilled release. PaddleClas' load_dygraph_pretrain
  (use_ssld=True) derives its URL by replacing "_pretrained" with "_ssld_pretrained", and
  the files exist for x0.5, x1.0 and x2.5 only: PaddleClas' docs/en/models/PP-LCNet_en.md
  (section 4.1) lists PPLCNet_x0_5_ssld, PPLCNet_x1_0_ssld and PPLCNet_x2_5_ssld, as does the
  SSLD table of its ImageNet-1k model list, which links these three .pdparams files.
- "imagenet_timm": timm's lcnet_050/075/100.ra2_in1k (x0.5, x0.75, x1.0), in timm's layout,
  whose head conv has a bias (head_bias=True).
"""

from dataclasses import dataclass

from keras_minimal.applications.pplcnet.variants import (
    DEFAULT_ACT,
    HEAD_WIDTH,
    VARIANTS,
    find_variant,
)

PADDLE_RELEASE = "https://paddle-imagenet-models-name.bj.bcebos.com/dygraph/legendary_models/"
TIMM_RELEASE = "https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/"
SSLD_VARIANTS = ("pplcnet_x0_5", "pplcnet_x1_0", "pplcnet_x2_5")


@dataclass(frozen=True)
class WeightsSource:
    description: str
    head_bias: bool  # whether the checkpoints' head conv has a bias (timm) or not (PaddleClas)
    urls: dict  # registered variant name → checkpoint URL

    def url(self, variant):
        """The checkpoint URL of `variant`, or None where this release has none."""
        return self.urls.get(variant)

    @property
    def scales(self):
        return sorted(VARIANTS[name].scale for name in self.urls)


def _paddle_urls(suffix, names):
    return {
        name: f"{PADDLE_RELEASE}{VARIANTS[name].constructor_name}_{suffix}.pdparams"
        for name in names
    }


SOURCES = {
    "imagenet": WeightsSource(
        "PaddleClas' ImageNet-1k checkpoints", False, _paddle_urls("pretrained", VARIANTS)
    ),
    "imagenet_ssld": WeightsSource(
        "PaddleClas' SSLD-distilled ImageNet-1k checkpoints",
        False,
        _paddle_urls("ssld_pretrained", SSLD_VARIANTS),
    ),
    "imagenet_timm": WeightsSource(
        "timm's lcnet_*.ra2_in1k checkpoints",
        True,
        {
            "pplcnet_x0_5": TIMM_RELEASE + "lcnet_050-f447553b.pth",
            "pplcnet_x0_75": TIMM_RELEASE + "lcnet_075-318cad2c.pth",
            "pplcnet_x1_0": TIMM_RELEASE + "lcnet_100-a929038c.pth",
        },
    ),
}

# weights= name → (variant → URL), as keras_minimal.applications.families registers it.
WEIGHTS_URLS = {name: source.url for name, source in SOURCES.items()}


def _head_bias_advice(name, source):
    if source.head_bias:
        return (
            f'weights="{name}" are {source.description}, whose head 1×1 conv has a bias: '
            "build the model with head_bias=True. Received: head_bias=False"
        )
    return (
        f'weights="{name}" are {source.description}, whose head 1×1 conv has no bias: build '
        'the model with head_bias=False (timm\'s checkpoints have one: weights="imagenet_timm"). '
        "Received: head_bias=True"
    )


def check_published_weights(
    weights, scale, include_top, head_bias, act, use_last_conv, class_expand
):
    """ValueError, before anything is built, when `weights` names a release that does not
    fit the model; nothing when `weights` is not one of SOURCES."""
    source = SOURCES.get(weights) if isinstance(weights, str) else None
    if source is None:
        return
    if source.url(find_variant(scale)) is None:
        raise ValueError(
            f'weights="{weights}" ({source.description}) exist for the scales '
            f"{source.scales}. Received: scale={scale}"
        )
    if act != DEFAULT_ACT:
        raise ValueError(
            f'weights="{weights}" were trained with act="{DEFAULT_ACT}"; build the model with '
            f"it to use them. Received: act={act!r}"
        )
    if not include_top:
        return
    if not use_last_conv or class_expand != HEAD_WIDTH:
        raise ValueError(
            f'weights="{weights}" with include_top=True take the published head: '
            f"use_last_conv=True, class_expand={HEAD_WIDTH}. Build it so, or pass "
            "include_top=False and add your own classifier. Received: "
            f"use_last_conv={use_last_conv}, class_expand={class_expand}"
        )
    if bool(head_bias) != source.head_bias:
        raise ValueError(_head_bias_advice(weights, source))
