"""Rebuild a model under another dtype policy (float32 for export, bfloat16 for CPU inference)."""

from keras_minimal import model_families
from keras_minimal.policies import dtype_policy_scope


def _policy_names(model):
    return {layer.dtype_policy.name for layer in model.layers if hasattr(layer, "dtype_policy")}


def is_float32(model):
    return _policy_names(model) <= {"float32"}


def _clone_config_with_policy(config, policy):
    """A functional model config with every layer's dtype policy replaced by `policy`."""
    if isinstance(config, dict):
        if config.get("class_name") in ("DTypePolicy", "FloatDTypePolicy"):
            return {**config, "config": {**config.get("config", {}), "name": policy}}
        return {k: _clone_config_with_policy(v, policy) for k, v in config.items()}
    if isinstance(config, list):
        return [_clone_config_with_policy(v, policy) for v in config]
    return config


def with_dtype_policy(model, policy):
    """A new model computing in `policy` ("float32", "mixed_bfloat16", ...) with `model`'s weights.

    keras_minimal models are rebuilt from their builder arguments; other functional
    models are re-created from their config. Variables stay float32 under mixed
    policies, so the weights copy over unchanged.
    """
    if model_families.is_ours(model):
        clone = model_families.rebuild(model, dtype_policy=policy)
    else:
        with dtype_policy_scope(policy):
            clone = model.__class__.from_config(
                _clone_config_with_policy(model.get_config(), policy)
            )
    clone.set_weights(model.get_weights())
    return clone


def _nested_layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _nested_layers(layer)


def check_not_quantized(model, tool):
    """Refuse a model.quantize()d model: the tools rebuild float graphs from its weights."""
    quantized = [layer.name for layer in _nested_layers(model) if layer.quantization_mode]
    if quantized:
        raise ValueError(
            f"{tool} works on float models, and {model.name!r} has layers quantised by "
            f"model.quantize() ({', '.join(quantized[:4])}{', …' if len(quantized) > 4 else ''}). "
            "Fuse and export the float model, with quantization='int8' for a TFLite int8 file "
            "(post-training); a Keras-quantised model is exported with Keras' own "
            "model.export(), unverified by keras_minimal."
        )
