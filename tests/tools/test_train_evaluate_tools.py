import json

import numpy as np
import pytest

from tests.tools.tool_process import error_line, run_tool
from tests.training.synthetic import tiny_vanillanet_config, write_image_folder


@pytest.mark.slow
def test_evaluate_reports_metrics_for_train_and_deploy_graphs(tmp_path):
    import keras

    from keras_minimal.applications import VanillaNet

    data = write_image_folder(str(tmp_path / "val"), classes=3, per_class=4)
    config = tiny_vanillanet_config(str(tmp_path / "model.json"), drop_rate=0.0)
    spec = json.load(open(config))["config"]
    keras.utils.set_random_seed(1)
    VanillaNet(**spec).save_weights(str(tmp_path / "w.weights.h5"))
    outputs = {}
    for graph in ("train", "deploy"):
        out = tmp_path / f"{graph}.json"
        result = run_tool(
            "evaluate",
            f"--model_config={config}",
            f"--weights={tmp_path / 'w.weights.h5'}",
            f"--data={data}",
            "--image_size=32",
            "--batch_size=5",
            f"--graph={graph}",
            f"--output={out}",
        )
        assert result.returncode == 0, result.stderr[-3000:]
        assert "top-1" in result.stdout and "top-5" in result.stdout
        outputs[graph] = json.load(open(out))
    assert outputs["train"]["examples"] == 12
    assert outputs["train"]["top5"] == 1.0  # 3 classes
    assert outputs["train"]["top1"] == outputs["deploy"]["top1"]
    np.testing.assert_allclose(outputs["train"]["loss"], outputs["deploy"]["loss"], rtol=1e-4)


@pytest.mark.slow
def test_unknown_model_and_flag_values_list_the_choices(tmp_path):
    line = error_line(run_tool("train", "--model=resnet50", "--data=x", f"--output_dir={tmp_path}"))
    assert line.startswith("error: Unknown --model='resnet50'. Choose one of: ")
    assert all(name in line for name in ("convnext_tiny", "nfnet_f0", "vanillanet_5"))
    line = error_line(
        run_tool(
            "train",
            "--model=vanillanet_5",
            "--data=x",
            "--strategy=horovod",
            f"--output_dir={tmp_path}",
        )
    )
    assert "<auto|none|mirrored|data_parallel>" in line
    line = error_line(run_tool("evaluate", "--model=vanillanet_99", f"--data={tmp_path}"))
    assert line.startswith("error: Unknown --model='vanillanet_99'")


def test_evaluation_metrics_match_a_direct_computation():
    import keras
    import tensorflow as tf

    from keras_minimal.training.evaluation import evaluate

    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(6, name="fc")(inputs))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(10, 3)).astype("float32")
    y = rng.integers(0, 6, 10)
    results = evaluate(model, tf.data.Dataset.from_tensor_slices((x, y)).batch(4), from_logits=True)
    logits = model.predict(x, verbose=0)
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    assert results["top1"] == np.mean(logits.argmax(-1) == y)
    top5 = np.argsort(-logits, -1)[:, :5]
    assert results["top5"] == np.mean((top5 == y[:, None]).any(-1))
    np.testing.assert_allclose(results["loss"], -log_probs[np.arange(10), y].mean(), rtol=1e-5)
    assert results["images_per_second"] > 0
    single = evaluate(model, tf.data.Dataset.from_tensor_slices((x, y)).batch(16), from_logits=True)
    assert single["examples"] == 10 and single["images_per_second"] > 0  # one batch
