"""PP-LCNet state-dict names ↔ our layers (training graph; BatchNorm unfused), in the two
layouts checkpoints come in; `load_reference` picks the one the checkpoint's names use.

PaddleClas (ppcls legendary_models/pp_lcnet.py, `.pdparams` files): conv1.{conv, bn},
blocksN.k.{dw_conv.{conv, bn}, se.conv1, se.conv2, pw_conv.{conv, bn}}, last_conv (no bias),
fc; BatchNorm statistics as `_mean` / `_variance`; fc.weight is [in, out].
timm (mobilenetv3.MobileNetV3 built by _gen_lcnet): conv_stem, bn1,
blocks.s.k.{conv_dw, bn1, se.conv_reduce, se.conv_expand, conv_pw, bn2},
conv_head (bias only in timm), classifier. timm's stages 3 and 4 are PaddleClas'
blocks5 split after its second block.

Paddle's head Dropout is mode="downscale_in_infer": at inference it multiplies the last
conv's features by (1 − p) before fc. Our Keras Dropout is the identity at inference, so
fc.weight is loaded × (1 − dropout_rate) (fc.bias as it is): the model then computes
PaddleClas' logits. A model of ours saved and taken back to PaddleClas needs the inverse,
`predictions` kernel / (1 − dropout_rate), or Paddle's Dropout(mode="upscale_in_train").
"""

import numpy as np

from keras_minimal.applications.channels import make_divisible
from keras_minimal.applications.pplcnet.variants import (
    NET_CONFIG,
    STEM_WIDTH,
    VARIANTS,
)
from keras_minimal.weights.conversions import (
    CONV2D,
    DENSE,
    DENSE_FROM_CONV1X1,
    DEPTHWISE,
    IDENTITY,
    Conversion,
)
from keras_minimal.weights.reference import ReferenceLayout, Target, weight_and_bias_targets

# blocks5's first two blocks are timm stage 3, the rest stage 4.
_BLOCKS5_SPLIT = 2

# layout → where each unit's tensors are. {b}: the block's prefix in that layout.
_NAMES = {
    "paddle": {
        "stem_conv": "conv1.conv",
        "stem_bn": "conv1.bn",
        "dw_conv": "{b}.dw_conv.conv",
        "dw_bn": "{b}.dw_conv.bn",
        "se_conv1": "{b}.se.conv1",
        "se_conv2": "{b}.se.conv2",
        "pw_conv": "{b}.pw_conv.conv",
        "pw_bn": "{b}.pw_conv.bn",
        "last_conv": "last_conv",
        "classifier": "fc",
        "bn": ("weight", "bias", "_mean", "_variance"),
        "last_block": "blocks6.1.pw_conv.conv.weight",
    },
    "timm": {
        "stem_conv": "conv_stem",
        "stem_bn": "bn1",
        "dw_conv": "{b}.conv_dw",
        "dw_bn": "{b}.bn1",
        "se_conv1": "{b}.se.conv_reduce",
        "se_conv2": "{b}.se.conv_expand",
        "pw_conv": "{b}.conv_pw",
        "pw_bn": "{b}.bn2",
        "last_conv": "conv_head",
        "classifier": "classifier",
        "bn": ("weight", "bias", "running_mean", "running_var"),
        "last_block": "blocks.5.1.conv_pw.weight",
    },
}
_BLOCK_UNITS = ("dw_conv", "dw_bn", "se_conv1", "se_conv2", "pw_conv", "pw_bn")
_DESCRIPTION = {
    "paddle": "PaddleClas' layout (conv1, blocks2 … blocks6, last_conv, fc)",
    "timm": "timm's layout (conv_stem, bn1, blocks.s.k.*, conv_head, classifier)",
}
_PADDLE_PREFIXES = ("conv1.", "last_conv.", "fc.", *(f"{stage}." for stage in NET_CONFIG))


def detect_layout(names):
    """ "paddle" or "timm" from a checkpoint's names (timm when neither is recognisable)."""
    return "paddle" if any(name.startswith(_PADDLE_PREFIXES) for name in names) else "timm"


def timm_block_names():
    """[(our block prefix, timm block prefix, has SE)] in network order."""
    pairs = []
    timm_stage = 0
    for stage, blocks in NET_CONFIG.items():
        for j, (*_, use_se) in enumerate(blocks):
            if stage == "blocks5" and j == _BLOCKS5_SPLIT:
                timm_stage += 1
            k = j - _BLOCKS5_SPLIT if stage == "blocks5" and j >= _BLOCKS5_SPLIT else j
            pairs.append((f"{stage}_{j}", f"blocks.{timm_stage}.{k}", use_se))
        timm_stage += 1
    return pairs


def paddle_block_names():
    """[(our block prefix, PaddleClas block prefix, has SE)] in network order."""
    return [
        (f"{stage}_{j}", f"{stage}.{j}", use_se)
        for stage, blocks in NET_CONFIG.items()
        for j, (*_, use_se) in enumerate(blocks)
    ]


def paddle_fc(keep):
    """Paddle's Linear weight [in, out] × `keep` = 1 − p of the downscale_in_infer dropout."""
    return Conversion(
        f"paddle_fc_times_{keep:g}",
        lambda array: np.multiply(array, keep, dtype=array.dtype),
        tuple,
    )


def _batch_norm_targets(prefix, layer, names):
    variables = (layer.gamma, layer.beta, layer.moving_mean, layer.moving_variance)
    return {
        f"{prefix}.{name}": Target(variable, IDENTITY)
        for name, variable in zip(names, variables, strict=True)
    }


def _classifier_conversion(layout, config):
    if layout == "timm":
        return DENSE
    return paddle_fc(1.0 - config["dropout_rate"] if config["use_last_conv"] else 1.0)


def _targets(model, layout, config):
    names, get = _NAMES[layout], model.get_layer
    targets = {
        **weight_and_bias_targets(names["stem_conv"], get("conv1_conv"), CONV2D),
        **_batch_norm_targets(names["stem_bn"], get("conv1_bn"), names["bn"]),
    }
    blocks = paddle_block_names() if layout == "paddle" else timm_block_names()
    for ours, theirs, use_se in blocks:
        units = {unit: names[unit].format(b=theirs) for unit in _BLOCK_UNITS}
        targets.update(weight_and_bias_targets(units["dw_conv"], get(f"{ours}_dw_conv"), DEPTHWISE))
        targets.update(_batch_norm_targets(units["dw_bn"], get(f"{ours}_dw_bn"), names["bn"]))
        if use_se:
            for unit in ("se_conv1", "se_conv2"):
                layer = get(f"{ours}_{unit}")
                targets.update(weight_and_bias_targets(units[unit], layer, DENSE_FROM_CONV1X1))
        targets.update(weight_and_bias_targets(units["pw_conv"], get(f"{ours}_pw_conv"), CONV2D))
        targets.update(_batch_norm_targets(units["pw_bn"], get(f"{ours}_pw_bn"), names["bn"]))
    if config["include_top"]:
        if config["use_last_conv"]:
            targets.update(weight_and_bias_targets(names["last_conv"], get("last_conv"), CONV2D))
        targets.update(
            weight_and_bias_targets(
                names["classifier"], get("predictions"), _classifier_conversion(layout, config)
            )
        )
    return targets


_DEPLOY_DIAGNOSIS = (
    "This model is the deploy graph (BatchNorm folded); reference checkpoints "
    "hold the training graph. Build the model with deploy=False, load it there, "
    "then fold with keras_minimal.deploy.to_deploy(model)."
)


def _head_diagnosis(layout, names, config):
    """A complete message when the checkpoint's head is of another form than the model's."""
    last_conv = _NAMES[layout]["last_conv"]
    has_last_conv = f"{last_conv}.weight" in names
    if has_last_conv and not config["use_last_conv"]:
        return (
            f"The checkpoint has the 1×1 last conv ({last_conv}) but this model was built "
            "with use_last_conv=False. Build it with use_last_conv=True to load this "
            "checkpoint."
        )
    if (
        not has_last_conv
        and config["use_last_conv"]
        and f"{_NAMES[layout]['classifier']}.weight" in names
    ):
        return (
            f"The checkpoint has no 1×1 last conv ({last_conv}) before its classifier, as "
            "PaddleClas' use_last_conv=False models, but this model was built with "
            "use_last_conv=True. Build it with use_last_conv=False."
        )
    if not has_last_conv:
        return None
    if f"{last_conv}.bias" in names and not config["head_bias"]:
        return (
            f"The checkpoint's last conv ({last_conv}) has a bias, as timm's lcnet models "
            "do, but this model was built with head_bias=False (PaddleClas' layout). "
            "Build it with head_bias=True to load this checkpoint."
        )
    if f"{last_conv}.bias" not in names and config["head_bias"]:
        return (
            f"The checkpoint's last conv ({last_conv}) has no bias, as PaddleClas' models, "
            "but this model was built with head_bias=True. Build it with head_bias=False."
        )
    return None


def _diagnose(layout, config):
    def diagnose(names):
        if config["deploy"]:
            return _DEPLOY_DIAGNOSIS
        if not config["include_top"]:
            return None
        return _head_diagnosis(layout, names, config)

    return diagnose


def _stem_and_last_widths(scale):
    return make_divisible(STEM_WIDTH * scale), make_divisible(512 * scale)


def _scale_hint(layout, config, checkpoint):
    names = _NAMES[layout]
    stem = checkpoint.get(f"{names['stem_conv']}.weight")
    last = checkpoint.get(names["last_block"])
    if stem is None or last is None:
        return None
    widths = (stem.shape[0], last.shape[0])
    if widths == _stem_and_last_widths(config["scale"]):
        return None  # the same scale: the tensors listed are all there is to say
    matches = [
        f"{name} (scale={v.scale})"
        for name, v in VARIANTS.items()
        if _stem_and_last_widths(v.scale) == widths
    ]
    return (
        f"The checkpoint's stem has {widths[0]} channels and its last block {widths[1]}"
        + (f", as {' or '.join(matches)} has" if matches else "")
        + f"; this model has scale={config['scale']}: build it with the checkpoint's scale."
    )


def _class_expand_hint(layout, config, checkpoint):
    last_conv = checkpoint.get(f"{_NAMES[layout]['last_conv']}.weight")
    if last_conv is None or not config["include_top"] or not config["use_last_conv"]:
        return None
    if last_conv.shape[0] == config["class_expand"]:
        return None
    return (
        f"The checkpoint's last conv has {last_conv.shape[0]} channels, this model's "
        f"{config['class_expand']}: build it with class_expand={last_conv.shape[0]}."
    )


def _hint(layout, config):
    def hint(problems, checkpoint):
        if f"{_NAMES[layout]['stem_conv']}.weight" not in checkpoint:
            return (
                "This does not look like a PP-LCNet checkpoint in "
                f"{_DESCRIPTION['paddle']} or {_DESCRIPTION['timm']}."
            )
        sentences = [
            _scale_hint(layout, config, checkpoint),
            _class_expand_hint(layout, config, checkpoint),
        ]
        return " ".join(s for s in sentences if s) or None

    return hint


def _layout(model, layout):
    config = model.builder_config
    config.setdefault("use_last_conv", True)  # records of models built before the option
    head = (_NAMES[layout]["last_conv"], _NAMES[layout]["classifier"])
    return ReferenceLayout(
        description=(
            f"{model.variant or 'this PP-LCNet'} (scale={config['scale']}, "
            f"head_bias={config['head_bias']}, use_last_conv={config['use_last_conv']}, "
            f"include_top={config['include_top']}) read as a checkpoint in "
            f"{_DESCRIPTION[layout]}"
        ),
        targets={} if config["deploy"] else _targets(model, layout, config),
        skippable=lambda name: (
            not config["include_top"] and name.startswith(tuple(f"{h}." for h in head))
        ),
        diagnose=_diagnose(layout, config),
        hint=_hint(layout, config),
    )


def reference_layout(model):
    """timm's layout by default; PaddleClas' when the checkpoint's names use it."""
    layout = _layout(model, "timm")
    layout.choose = lambda names: _layout(model, detect_layout(names))
    return layout
