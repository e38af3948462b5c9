"""The --model / --model_config checks that train.py, evaluate.py and convert_weights.py share."""

from absl import app


def check_model_source(model, model_config=None, accepts_config=True):
    """UsageError unless exactly one of --model and --model_config names the model and a
    --model is a registered name."""
    import keras_minimal

    if accepts_config and bool(model) == bool(model_config):
        raise app.UsageError("Pass exactly one of --model and --model_config.")
    if (model or not accepts_config) and model not in keras_minimal.list_models():
        raise app.UsageError(
            f"Unknown --model={model!r}. Choose one of: {', '.join(keras_minimal.list_models())}."
        )
