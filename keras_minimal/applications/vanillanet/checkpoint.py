"""Official VanillaNet state-dict names ↔ our layers, for both graph forms.

Training form (before switch_to_deploy): stem1.{0,1}, stem2.{0,1,2}, stages.i.conv1.{0,1},
stages.i.conv2.{0,1}, stages.i.act.{weight,bn.*}, cls1.{2,3}, cls2.0.
Deploy form (after switch_to_deploy): stem.{0,1}, stages.i.conv, stages.i.act.{weight,bias},
cls.2.
"""

import numpy as np

from keras_minimal.applications.vanillanet.variants import VARIANTS
from keras_minimal.weights.conversions import CONV2D, DENSE_FROM_CONV1X1, DEPTHWISE, IDENTITY
from keras_minimal.weights.reference import (
    ReferenceLayout,
    Target,
    batch_norm_targets,
    weight_and_bias_targets,
)


def _series_activation_targets(prefix, layer):
    targets = {f"{prefix}.weight": Target(layer.depthwise.kernel, DEPTHWISE)}
    if layer.deploy:
        targets[f"{prefix}.bias"] = Target(layer.depthwise.bias, IDENTITY)
    else:
        targets.update(batch_norm_targets(f"{prefix}.bn", layer.batch_norm))
    return targets


def _training_targets(model, num_stages, include_top):
    get = model.get_layer
    targets = {
        **weight_and_bias_targets("stem1.0", get("stem1_conv"), CONV2D),
        **batch_norm_targets("stem1.1", get("stem1_bn")),
        **weight_and_bias_targets("stem2.0", get("stem2_conv"), DENSE_FROM_CONV1X1),
        **batch_norm_targets("stem2.1", get("stem2_bn")),
        **_series_activation_targets("stem2.2", get("stem_act")),
    }
    for i in range(num_stages):
        targets.update(
            weight_and_bias_targets(
                f"stages.{i}.conv1.0", get(f"stages_{i}_conv1"), DENSE_FROM_CONV1X1
            )
        )
        targets.update(batch_norm_targets(f"stages.{i}.conv1.1", get(f"stages_{i}_conv1_bn")))
        targets.update(
            weight_and_bias_targets(
                f"stages.{i}.conv2.0", get(f"stages_{i}_conv2"), DENSE_FROM_CONV1X1
            )
        )
        targets.update(batch_norm_targets(f"stages.{i}.conv2.1", get(f"stages_{i}_conv2_bn")))
        targets.update(_series_activation_targets(f"stages.{i}.act", get(f"stages_{i}_act")))
    if include_top:
        targets.update(weight_and_bias_targets("cls1.2", get("cls1_fc"), DENSE_FROM_CONV1X1))
        targets.update(batch_norm_targets("cls1.3", get("cls1_bn")))
        targets.update(weight_and_bias_targets("cls2.0", get("predictions"), DENSE_FROM_CONV1X1))
    return targets


def _deploy_targets(model, num_stages, include_top):
    get = model.get_layer
    targets = {
        **weight_and_bias_targets("stem.0", get("stem_conv"), CONV2D),
        **_series_activation_targets("stem.1", get("stem_act")),
    }
    for i in range(num_stages):
        targets.update(
            weight_and_bias_targets(f"stages.{i}.conv", get(f"stages_{i}_conv"), DENSE_FROM_CONV1X1)
        )
        targets.update(_series_activation_targets(f"stages.{i}.act", get(f"stages_{i}_act")))
    if include_top:
        targets.update(weight_and_bias_targets("cls.2", get("predictions"), DENSE_FROM_CONV1X1))
    return targets


def _diagnose_form(deploy):
    def diagnose(names):
        # stem.0 alone also names timm ConvNeXt's stem: the fused stage conv is the marker.
        is_deploy_checkpoint = "stages.0.conv.weight" in names and "stem1.0.weight" not in names
        is_training_checkpoint = "stem1.0.weight" in names
        if not deploy and is_deploy_checkpoint:
            return (
                "This is a deploy-form VanillaNet checkpoint (after switch_to_deploy: stem.0, "
                "stages.i.conv, cls.2) but the model is the training graph. Build the model "
                "with deploy=True to load it."
            )
        if deploy and is_training_checkpoint:
            return (
                "This is a training-form VanillaNet checkpoint (stem1, stages.i.conv1/conv2, "
                "cls1/cls2) but the model is the deploy graph. Build the model with "
                "deploy=False, load it there, then fuse with keras_minimal.deploy.to_deploy(model)."
            )
        return None

    return diagnose


def _checkpoint_dims(checkpoint, deploy):
    """The dims a VanillaNet checkpoint was built with, read off its weights."""
    stem_key = "stem.0.weight" if deploy else "stem1.0.weight"
    if stem_key not in checkpoint or np.ndim(checkpoint[stem_key]) != 4:
        return None
    dims = [checkpoint[stem_key].shape[0]]
    i = 0
    conv = "conv" if deploy else "conv2.0"
    while f"stages.{i}.{conv}.weight" in checkpoint:
        dims.append(checkpoint[f"stages.{i}.{conv}.weight"].shape[0])
        i += 1
    return dims


def _is_series_activation_kernel(name):
    return name.endswith("act.weight") or name in ("stem2.2.weight", "stem.1.weight")


def _hint(deploy, act_num, dims):
    def hint(problems, checkpoint):
        sentences = []
        act_kernels = sorted(
            got[-1]
            for name, (got, _) in problems["mismatched"].items()
            if _is_series_activation_kernel(name) and len(got) == 4
        )
        if act_kernels:
            size = act_kernels[-1]
            sentences.append(
                f"The checkpoint's series activations use {size}×{size} kernels, i.e. "
                f"act_num={(size - 1) // 2}; this model has act_num={act_num}."
            )
        checkpoint_dims = _checkpoint_dims(checkpoint, deploy)
        if checkpoint_dims and checkpoint_dims != list(dims):
            names = [n for n, v in VARIANTS.items() if list(v.dims) == checkpoint_dims]
            sentences.append(
                f"The checkpoint was built with dims={checkpoint_dims} "
                f"({len(checkpoint_dims) - 1} stages)"
                + (f", as {' or '.join(names)} is." if names else ".")
            )
        return " ".join(sentences) or None

    return hint


def reference_layout(model):
    config = model.builder_config
    deploy, include_top = config["deploy"], config["include_top"]
    num_stages = len(config["strides"])
    build_targets = _deploy_targets if deploy else _training_targets
    form = "deploy graph" if deploy else "training graph"
    return ReferenceLayout(
        description=(
            f"{model.variant or 'this VanillaNet'} ({form}, dims={config['dims']}, "
            f"act_num={config['act_num']}, include_top={include_top})"
        ),
        targets=build_targets(model, num_stages, include_top),
        skippable=lambda name: not include_top and name.startswith("cls"),
        diagnose=_diagnose_form(deploy),
        hint=_hint(deploy, config["act_num"], config["dims"]),
    )
