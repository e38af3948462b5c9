"""The --model / --model_config checks that train.py, evaluate.py and convert_weights.py share."""

from absl import app


def check_registered_model(model):
    """UsageError naming the registered models unless --model is one of them."""
    import keras_minimal

    if model not in keras_minimal.list_models():
        raise app.UsageError(
            f"Unknown --model={model!r}. Choose one of: {', '.join(keras_minimal.list_models())}."
        )


def check_model_source(model, model_config):
    """UsageError unless exactly one of --model (a registered name) and --model_config is set."""
    if bool(model) == bool(model_config):
        raise app.UsageError("Pass exactly one of --model and --model_config.")
    if model:
        check_registered_model(model)
