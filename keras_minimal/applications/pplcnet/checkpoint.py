"""timm's lcnet_* state-dict names ↔ our layers (training graph; BatchNorm unfused).

timm (mobilenetv3.MobileNetV3 built by _gen_lcnet): conv_stem, bn1,
blocks.s.k.{conv_dw, bn1, se.conv_reduce, se.conv_expand, conv_pw, bn2},
conv_head (bias only in timm), classifier. timm's stages 3 and 4 are PaddleClas'
blocks5 split after its second block.
"""

from keras_minimal.applications.channels import make_divisible
from keras_minimal.applications.pplcnet.variants import (
    NET_CONFIG,
    STEM_WIDTH,
    VARIANTS,
)
from keras_minimal.weights.conversions import CONV2D, DENSE, DENSE_FROM_CONV1X1, DEPTHWISE
from keras_minimal.weights.reference import (
    ReferenceLayout,
    batch_norm_targets,
    weight_and_bias_targets,
)

# blocks5's first two blocks are timm stage 3, the rest stage 4.
_BLOCKS5_SPLIT = 2


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


def _targets(model, config):
    get = model.get_layer
    targets = {
        **weight_and_bias_targets("conv_stem", get("conv1_conv"), CONV2D),
        **batch_norm_targets("bn1", get("conv1_bn")),
    }
    for ours, theirs, use_se in timm_block_names():
        targets.update(
            weight_and_bias_targets(f"{theirs}.conv_dw", get(f"{ours}_dw_conv"), DEPTHWISE)
        )
        targets.update(batch_norm_targets(f"{theirs}.bn1", get(f"{ours}_dw_bn")))
        if use_se:
            targets.update(
                weight_and_bias_targets(
                    f"{theirs}.se.conv_reduce", get(f"{ours}_se_conv1"), DENSE_FROM_CONV1X1
                )
            )
            targets.update(
                weight_and_bias_targets(
                    f"{theirs}.se.conv_expand", get(f"{ours}_se_conv2"), DENSE_FROM_CONV1X1
                )
            )
        targets.update(weight_and_bias_targets(f"{theirs}.conv_pw", get(f"{ours}_pw_conv"), CONV2D))
        targets.update(batch_norm_targets(f"{theirs}.bn2", get(f"{ours}_pw_bn")))
    if config["include_top"]:
        targets.update(weight_and_bias_targets("conv_head", get("last_conv"), CONV2D))
        targets.update(weight_and_bias_targets("classifier", get("predictions"), DENSE))
    return targets


def _diagnose(config):
    def diagnose(names):
        if config["deploy"]:
            return (
                "This model is the deploy graph (BatchNorm folded); reference checkpoints "
                "hold the training graph. Build the model with deploy=False, load it there, "
                "then fold with keras_minimal.deploy.to_deploy(model)."
            )
        if not config["include_top"]:
            return None
        if "conv_head.bias" in names and not config["head_bias"]:
            return (
                "The checkpoint's head conv (conv_head) has a bias, as timm's lcnet models "
                "do, but this model was built with head_bias=False (PaddleClas' layout). "
                "Build it with head_bias=True to load this checkpoint."
            )
        if "conv_head.weight" in names and "conv_head.bias" not in names and config["head_bias"]:
            return (
                "The checkpoint's head conv (conv_head) has no bias but this model was "
                "built with head_bias=True. Build it with head_bias=False."
            )
        return None

    return diagnose


def _stem_and_last_widths(scale):
    return make_divisible(STEM_WIDTH * scale), make_divisible(512 * scale)


def _hint(config):
    def hint(problems, checkpoint):
        stem = checkpoint.get("conv_stem.weight")
        if stem is None:
            return (
                "This does not look like a timm lcnet checkpoint (conv_stem, bn1, "
                "blocks.s.k.*, conv_head, classifier)."
            )
        last = checkpoint.get("blocks.5.1.conv_pw.weight")
        if last is None:
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

    return hint


def reference_layout(model):
    config = model.builder_config
    return ReferenceLayout(
        description=(
            f"{model.variant or 'this PP-LCNet'} (scale={config['scale']}, "
            f"head_bias={config['head_bias']}, include_top={config['include_top']}) in "
            "timm's layout"
        ),
        targets={} if config["deploy"] else _targets(model, config),
        skippable=lambda name: (
            not config["include_top"] and name.startswith(("conv_head.", "classifier."))
        ),
        diagnose=_diagnose(config),
        hint=_hint(config),
    )
