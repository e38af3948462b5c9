r"""Convert a reference checkpoint (official code / timm / PaddleClas / DeepMind) into a Keras
.weights.h5.

    python tools/convert_weights.py --model=vanillanet_5 --source=vanillanet_5.pth \
        --output=vanillanet_5.weights.h5
    python tools/convert_weights.py --model=vanillanet_5 --source=vanillanet_5.pth --deploy \
        --output=vanillanet_5_deploy.weights.h5
    python tools/convert_weights.py --model=pplcnet_x1_0 --source=lcnet_100.safetensors \
        --model_kwargs='{"head_bias": true}' --output=lcnet_100.weights.h5
    python tools/convert_weights.py --model=pplcnet_x1_0 \
        --source=PPLCNet_x1_0_pretrained.pdparams --output=pplcnet_x1_0.weights.h5

The result loads with weights="<output>" in the constructor of the same configuration, or
model.load_weights. Loading is all or nothing: a checkpoint of another variant, or one
with missing or extra tensors, is refused with the tensors named and nothing is written.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

from tools.cli import run  # noqa: E402
from tools.model_flags import check_registered_model  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, "Registered model name (see keras_minimal.list_models()).")
flags.DEFINE_string(
    "source", None, "Reference checkpoint: .pth/.pt/.pth.tar/.pdparams/.safetensors/.npz."
)
flags.DEFINE_string("output", None, "The .weights.h5 file to write.")
flags.DEFINE_bool("deploy", False, "Write the deploy (fused) graph's weights.")
flags.DEFINE_bool("include_top", True, "Keep the classifier.")
flags.DEFINE_integer("classes", 1000, "Number of classes of the checkpoint's classifier.")
flags.DEFINE_string("key", None, "Checkpoint wrapper to take (model, model_ema, state_dict…).")
flags.DEFINE_string("model_kwargs", None, "Other constructor arguments as JSON.")
flags.DEFINE_bool("overwrite", False, "Replace an existing output file.")
flags.DEFINE_bool(
    "allow_nonfinite",
    False,
    "Convert tensors holding NaN or ±inf as they are (refused by default: they usually mean "
    "the run that saved them diverged).",
)
flags.mark_flags_as_required(["model", "source", "output"])


def model_kwargs():
    if not FLAGS.model_kwargs:
        return {}
    try:
        kwargs = json.loads(FLAGS.model_kwargs)
    except json.JSONDecodeError as error:
        raise app.UsageError(f"--model_kwargs is not valid JSON ({error}).") from None
    if not isinstance(kwargs, dict):
        raise app.UsageError("--model_kwargs must be a JSON object, e.g. '{\"head_bias\": true}'.")
    return kwargs


def main(argv):
    del argv
    import keras_minimal
    from keras_minimal.weights import convert_checkpoint
    from keras_minimal.weights.converted_weights import check_output_path

    check_registered_model(FLAGS.model)
    kwargs = dict(
        model_kwargs(), deploy=FLAGS.deploy, include_top=FLAGS.include_top, classes=FLAGS.classes
    )
    check_output_path(FLAGS.output, FLAGS.overwrite)
    model = keras_minimal.create_model(FLAGS.model, **kwargs)
    convert_checkpoint(
        model,
        FLAGS.source,
        FLAGS.output,
        key=FLAGS.key,
        overwrite=FLAGS.overwrite,
        allow_nonfinite=FLAGS.allow_nonfinite,
    )
    print(f"wrote {FLAGS.output}: {FLAGS.model}, {len(model.weights)} variables")
    return 0


if __name__ == "__main__":
    run(main)
