"""The documented QAT recipe end to end: tools/train.py --qat fine-tunes a trained .keras
model with quantisation-aware training, tools/export.py exports it to full-integer TFLite
with its trained ranges, verified."""

import json

import keras
import numpy as np
import pytest

from keras_minimal.applications import families
from keras_minimal.quantization import activation_quantizers
from keras_minimal.training.recipes import get_recipe, quantize_aware_recipe
from tests.tools.tool_process import error_line, run_tool
from tests.training.synthetic import tiny_vanillanet_config, write_image_folder

pytestmark = pytest.mark.slow


def _images(n, seed):
    """Images like write_image_folder's: the class sets the mean colour."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    images = rng.normal(60 * labels[:, None, None, None] + 40, 30, (n, 32, 32, 3))
    return np.clip(images, 0, 255).astype("float32"), labels


def _trained_vanillanet(path):
    """A tiny VanillaNet trained at λ = 1 (so that it fuses), saved as a .keras file."""
    keras.utils.set_random_seed(0)
    config_path = tiny_vanillanet_config(path.parent / "config.json", drop_rate=0.0)
    config = json.loads(config_path.read_text())["config"]
    model = families.BUILDERS["vanillanet"](**config)
    model.set_act_learn(1.0)
    model.compile(keras.optimizers.Adam(2e-3), keras.losses.SparseCategoricalCrossentropy(True))
    x, y = _images(96, seed=1)
    model.fit(x, y, batch_size=16, epochs=5, verbose=0)
    model.save(path)
    return path


def test_train_qat_then_export_int8(tmp_path):
    trained = _trained_vanillanet(tmp_path / "trained.keras")
    data = write_image_folder(str(tmp_path / "data"))
    run_dir = tmp_path / "run"
    result = run_tool(
        "train",
        f"--qat={trained}",
        f"--data={data}",
        "--recipe=vanillanet_5,epochs=1,train_image_size=32,eval_image_size=32,randaugment=none",
        "--batch_size=8",
        "--jit_compile=false",
        "--progress=epoch",
        f"--output_dir={run_dir}",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    qat = keras.saving.load_model(run_dir / "final.keras")
    quantizers = activation_quantizers(qat)
    # 24 images, batch 8, one epoch: every range was trained for 3 steps.
    assert quantizers and all(int(keras.ops.convert_to_numpy(q.steps)) == 3 for q in quantizers)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in qat.layers)
    images = tmp_path / "verify.npy"
    np.save(images, _images(32, seed=2)[0])
    result = run_tool(
        "export",
        f"--keras_file={run_dir / 'final.keras'}",
        "--formats=tflite",
        "--quantization=int8",
        "--int8_io",
        f"--representative_data={images}",
        "--name=tiny_qat",
        f"--output={tmp_path / 'out'}",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads((tmp_path / "out" / "tiny_qat_int8.tflite.report.json").read_text())
    assert report["passed"] and report["quantize_aware"] and report["num_verification_inputs"] == 32


@pytest.mark.parametrize(
    "flag, message",
    [
        ("--model_config", "--qat fine-tunes the model of its file: drop --model_config"),
        (None, "--qat with the paper recipe needs --model naming the architecture"),
    ],
)
def test_qat_takes_the_model_from_its_file_and_a_recipe_by_name(tmp_path, flag, message):
    extra = [f"{flag}={tiny_vanillanet_config(tmp_path / 'config.json')}"] if flag else []
    result = run_tool(
        "train",
        f"--qat={tmp_path / 'trained.keras'}",
        *extra,
        f"--data={tmp_path}",
        f"--output_dir={tmp_path / 'run'}",
    )
    assert message in error_line(result)


def test_quantize_aware_recipe_lowers_the_learning_rate_and_drops_warmup_and_ema():
    recipe = get_recipe("vanillanet_5")
    qat = quantize_aware_recipe(recipe, 0.1)
    assert qat.learning_rate == pytest.approx(recipe.learning_rate * 0.1)
    assert (qat.warmup_epochs, qat.ema_decay, qat.deep_training_epochs) == (0.0, None, None)
    assert (qat.epochs, qat.loss) == (recipe.epochs, recipe.loss)
    with pytest.raises(ValueError, match=r"in \(0, 1\]. Received: learning_rate_scale=2"):
        quantize_aware_recipe(recipe, 2)
