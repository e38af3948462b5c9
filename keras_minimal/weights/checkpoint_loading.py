"""Loading a file into a model whatever its graph: a deploy-graph model also takes its
training graph's weights (a .weights.h5 of tools/train.py, a published checkpoint), which are
loaded into the training graph and fused."""

import warnings

from keras_minimal import model_families
from keras_minimal.deploy.layer_weights import copy_layer_weights
from keras_minimal.deploy.to_deploy import to_deploy
from keras_minimal.weights.readers import read_checkpoint
from keras_minimal.weights.reference import describes_the_training_graph, load_reference


def load_keras_weights(model, path):
    """model.load_weights, except that a deploy-graph model also takes the training graph's
    file (tools/train.py's final_ema.weights.h5), which is loaded there and fused.

    Keras' warnings from the direct attempt (layers it skipped, "will retain their
    freshly-initialized weights") are passed on only when that attempt is the result: when
    it fails, they describe a load that did not happen.
    """
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.load_weights(path)
    except Exception as error:
        failure = ValueError(
            f"Could not load {path!r} into {model.name}: {error}. The file must come "
            "from model.save_weights() of the same architecture."
        )
    else:
        for warning in caught:
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
        return
    if not model.builder_config.get("deploy"):
        raise failure from None
    trained = _training_graph_of(model)
    try:
        trained.load_weights(path)
    except Exception:
        raise failure from None
    _fuse_into(trained, model)


def _training_graph_of(model):
    return model_families.rebuild_backbone(model, deploy=False)


def _fuse_into(trained, model):
    # By layer name: layers that computed an input_tensor are not in the rebuilt backbone.
    copy_layer_weights(
        to_deploy(trained), model, skip=model.architecture.get("input_tensor_layers", ())
    )


def load_checkpoint(model, source, allow_nonfinite=False):
    """load_reference, except that a deploy-graph model also takes its training checkpoint.

    Published checkpoints hold the training graph: for a deploy model it is loaded into
    the training graph, which is then fused (VanillaNet's deploy-form checkpoints load
    directly).
    """
    checkpoint = read_checkpoint(source)
    if not describes_the_training_graph(model, checkpoint):
        load_reference(model, checkpoint, allow_nonfinite=allow_nonfinite)
        return
    trained = _training_graph_of(model)
    load_reference(trained, checkpoint, allow_nonfinite=allow_nonfinite)
    _fuse_into(trained, model)
