"""VanillaNet training graph → deploy graph (the official switch_to_deploy, on our layers)."""

from keras import ops

from keras_minimal.deploy.fusion import BatchNormStats, fold_batch_norm, merge_pointwise_after


def _weights(layer):
    return [ops.convert_to_numpy(v) for v in (layer.kernel, layer.bias)]


def _conv_bn(model, conv_name, bn_name):
    kernel, bias = _weights(model.get_layer(conv_name))
    return fold_batch_norm(kernel, bias, BatchNormStats.from_layer(model.get_layer(bn_name)))


def _series_activation(layer):
    kernel = ops.convert_to_numpy(layer.depthwise.kernel)
    return fold_batch_norm(
        kernel, None, BatchNormStats.from_layer(layer.batch_norm), channel_axis=2
    )


def check_fusable(model):
    act_learn = model.act_learn
    if act_learn != 1.0:
        raise ValueError(
            "VanillaNet can only be fused at λ = 1 (act_learn), where each leaky ReLU between "
            f"two convolutions is the identity. This model has act_learn={act_learn}. Finish "
            "deep training (DeepTrainingScheduler reaches 1 at decay_epochs) or call "
            "model.set_act_learn(1.0) if the weights were trained to λ = 1."
        )


def fuse_into(trained, fused):
    """Write the fused weights of the training-graph `trained` into the deploy-graph `fused`."""
    config = trained.builder_config
    get = fused.get_layer

    stem = _conv_bn(trained, "stem1_conv", "stem1_bn")
    get("stem_conv").set_weights(
        merge_pointwise_after(*stem, *_conv_bn(trained, "stem2_conv", "stem2_bn"))
    )
    get("stem_act").depthwise.set_weights(_series_activation(trained.get_layer("stem_act")))

    for i in range(len(config["strides"])):
        first = _conv_bn(trained, f"stages_{i}_conv1", f"stages_{i}_conv1_bn")
        second = _conv_bn(trained, f"stages_{i}_conv2", f"stages_{i}_conv2_bn")
        get(f"stages_{i}_conv").set_weights(merge_pointwise_after(*first, *second))
        get(f"stages_{i}_act").depthwise.set_weights(
            _series_activation(trained.get_layer(f"stages_{i}_act"))
        )

    if config["include_top"]:
        hidden = _conv_bn(trained, "cls1_fc", "cls1_bn")
        get("predictions").set_weights(
            merge_pointwise_after(*hidden, *_weights(trained.get_layer("predictions")))
        )
    return fused
