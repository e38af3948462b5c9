"""ConvNeXt state-dict names ↔ our layers, in the two layouts checkpoints come in.

Official (facebookresearch/ConvNeXt, the released .pth files):
    downsample_layers.0.{0: conv, 1: norm}, downsample_layers.i.{0: norm, 1: conv},
    stages.i.j.{dwconv, norm, pwconv1, pwconv2, gamma}, norm, head
timm (convnext_*):
    stem.{0: conv, 1: norm}, stages.i.downsample.{0: norm, 1: conv},
    stages.i.blocks.j.{conv_dw, norm, mlp.fc1, mlp.fc2, gamma}, head.norm, head.fc
The layout is detected from the names (`load_reference` picks the matching one).
"""

import re

from keras_minimal.applications.convnext.model import block_name, has_head_norm
from keras_minimal.applications.convnext.variants import VARIANTS
from keras_minimal.weights.conversions import CONV2D, DENSE, DEPTHWISE, IDENTITY
from keras_minimal.weights.reference import ReferenceLayout, Target, weight_and_bias_targets

# layout → (stem conv, stem norm, downsample norm, downsample conv, block, block parts, head)
_NAMES = {
    "official": {
        "stem_conv": "downsample_layers.0.0",
        "stem_norm": "downsample_layers.0.1",
        "downsample_norm": "downsample_layers.{i}.0",
        "downsample_conv": "downsample_layers.{i}.1",
        "block": "stages.{i}.{j}",
        "dwconv": "dwconv",
        "pwconv1": "pwconv1",
        "pwconv2": "pwconv2",
        "head_norm": "norm",
        "predictions": "head",
    },
    "timm": {
        "stem_conv": "stem.0",
        "stem_norm": "stem.1",
        "downsample_norm": "stages.{i}.downsample.0",
        "downsample_conv": "stages.{i}.downsample.1",
        "block": "stages.{i}.blocks.{j}",
        "dwconv": "conv_dw",
        "pwconv1": "mlp.fc1",
        "pwconv2": "mlp.fc2",
        "head_norm": "head.norm",
        "predictions": "head.fc",
    },
}
_DESCRIPTION = {
    "official": "downsample_layers.*, stages.i.j.*, norm, head",
    "timm": "stem.*, stages.i.blocks.j.*, head.norm, head.fc",
}


def _norm_targets(prefix, layer):
    return {
        f"{prefix}.weight": Target(layer.gamma, IDENTITY),
        f"{prefix}.bias": Target(layer.beta, IDENTITY),
    }


def _targets(model, names, config):
    get = model.get_layer
    targets = {
        **weight_and_bias_targets(names["stem_conv"], get("stem_conv"), CONV2D),
        **_norm_targets(names["stem_norm"], get("stem_norm")),
    }
    for i, depth in enumerate(config["depths"]):
        if i > 0:
            targets.update(
                _norm_targets(
                    names["downsample_norm"].format(i=i), get(f"stages_{i}_downsample_norm")
                )
            )
            targets.update(
                weight_and_bias_targets(
                    names["downsample_conv"].format(i=i),
                    get(f"stages_{i}_downsample_conv"),
                    CONV2D,
                )
            )
        for j in range(depth):
            ours, theirs = block_name(i, j), names["block"].format(i=i, j=j)
            targets.update(
                weight_and_bias_targets(
                    f"{theirs}.{names['dwconv']}", get(f"{ours}_dwconv"), DEPTHWISE
                )
            )
            targets.update(_norm_targets(f"{theirs}.norm", get(f"{ours}_norm")))
            targets.update(
                weight_and_bias_targets(
                    f"{theirs}.{names['pwconv1']}", get(f"{ours}_pwconv1"), DENSE
                )
            )
            targets.update(
                weight_and_bias_targets(
                    f"{theirs}.{names['pwconv2']}", get(f"{ours}_pwconv2"), DENSE
                )
            )
            if config["layer_scale_init_value"]:
                targets[f"{theirs}.gamma"] = Target(get(f"{ours}_layer_scale").gamma, IDENTITY)
    if has_head_norm(config):
        targets.update(_norm_targets(names["head_norm"], get("head_norm")))
    if config["include_top"]:
        targets.update(weight_and_bias_targets(names["predictions"], get("predictions"), DENSE))
    return targets


def detect_layout(names):
    """ "official" or "timm" from a checkpoint's names (timm when neither is recognisable)."""
    if "downsample_layers.0.0.weight" in names or any(
        re.match(r"stages\.\d+\.\d+\.dwconv\.", n) for n in names
    ):
        return "official"
    return "timm"


def checkpoint_architecture(checkpoint, layout):
    """(depths, dims) read off a checkpoint's depthwise kernels."""
    pattern = (
        re.compile(r"stages\.(\d+)\.(\d+)\.dwconv\.weight")
        if layout == "official"
        else re.compile(r"stages\.(\d+)\.blocks\.(\d+)\.conv_dw\.weight")
    )
    stages = {}
    for name, array in checkpoint.items():
        match = pattern.fullmatch(name)
        if match:
            stage, block = int(match.group(1)), int(match.group(2))
            depth, _ = stages.get(stage, (0, 0))
            stages[stage] = (max(depth, block + 1), array.shape[0])
    if not stages or sorted(stages) != list(range(len(stages))):
        return None
    return [stages[i][0] for i in sorted(stages)], [stages[i][1] for i in sorted(stages)]


def _hint(layout, config):
    def hint(problems, checkpoint):
        sentences = []
        found = checkpoint_architecture(checkpoint, layout)
        if found and found != (list(config["depths"]), list(config["dims"])):
            depths, dims = found
            names = [
                n for n, v in VARIANTS.items() if (list(v.depths), list(v.dims)) == (depths, dims)
            ]
            sentences.append(
                f"The checkpoint ({layout} layout: {_DESCRIPTION[layout]}) was built with "
                f"depths={depths} dims={dims}"
                + (f", as {' or '.join(names)} is" if names else "")
                + f"; this model has depths={list(config['depths'])} dims={list(config['dims'])}."
            )
        elif not found:
            sentences.append(
                "This does not look like a ConvNeXt checkpoint in the official "
                f"({_DESCRIPTION['official']}) or timm ({_DESCRIPTION['timm']}) layout."
            )
        if any(n.endswith(".gamma") for n in problems["unexpected"]):
            sentences.append(
                "The checkpoint has layer scale (gamma); build the model with "
                "layer_scale_init_value=1e-6."
            )
        return " ".join(sentences) or None

    return hint


def _layout(model, layout):
    config = model.builder_config
    return ReferenceLayout(
        description=(
            f"{model.variant or 'this ConvNeXt'} (depths={config['depths']}, "
            f"dims={config['dims']}, include_top={config['include_top']}) read as a "
            f"checkpoint in the {layout} ({_DESCRIPTION[layout]}) layout"
        ),
        targets=_targets(model, _NAMES[layout], config),
        skippable=_skippable(_NAMES[layout], config),
        hint=_hint(layout, config),
    )


def _skippable(names, config):
    head = {f"{names['predictions']}.weight", f"{names['predictions']}.bias"}
    if not has_head_norm(config):
        head |= {f"{names['head_norm']}.weight", f"{names['head_norm']}.bias"}
    return lambda name: not config["include_top"] and name in head


def reference_layout(model):
    """The timm layout by default; the official one when the checkpoint's names use it."""
    layout = _layout(model, "timm")
    layout.choose = lambda names: _layout(model, detect_layout(names))
    return layout
