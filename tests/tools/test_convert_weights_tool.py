import keras
import numpy as np
import pytest

import keras_minimal
from keras_minimal.weights import convert_checkpoint
from tests.helpers import DATA, assert_matches_reference, load_fixture, vanillanet_for
from tests.tools.tool_process import error_line, run_tool

VANILLANET = load_fixture("vanillanet_tiny5")


def _outputs(model, fixture):
    return keras.ops.convert_to_numpy(model(fixture.inputs, training=False))


@pytest.mark.parametrize(
    ("deploy", "reference"), [(False, "train_graph_lambda_1"), (True, "deploy")]
)
def test_converted_file_loads_as_weights_argument(tmp_path, deploy, reference):
    output = tmp_path / "vanillanet.weights.h5"
    convert_checkpoint(vanillanet_for(VANILLANET, deploy=deploy), VANILLANET.state_dict, output)
    model = vanillanet_for(VANILLANET, deploy=deploy, weights=str(output))
    assert_matches_reference(_outputs(model, VANILLANET), VANILLANET.outputs[reference])


def test_nothing_is_written_when_the_checkpoint_does_not_load(tmp_path):
    output = tmp_path / "vanillanet.weights.h5"
    state = dict(VANILLANET.state_dict)
    del state["cls2.0.bias"]
    with pytest.raises(ValueError, match=r"Missing from the checkpoint \(1\): cls2.0.bias"):
        convert_checkpoint(vanillanet_for(VANILLANET), state, output)
    assert not list(tmp_path.iterdir())


def test_output_is_checked_before_loading(tmp_path):
    model = vanillanet_for(VANILLANET)
    with pytest.raises(ValueError, match=r"ending in .weights.h5.*Received: '.*vanillanet.h5'"):
        convert_checkpoint(model, {}, tmp_path / "vanillanet.h5")
    existing = tmp_path / "vanillanet.weights.h5"
    existing.write_bytes(b"keep me")
    with pytest.raises(ValueError, match="exists; pass overwrite=True"):
        convert_checkpoint(model, {}, existing)
    assert existing.read_bytes() == b"keep me"
    with pytest.raises(ValueError, match="output directory .* does not exist"):
        convert_checkpoint(model, {}, tmp_path / "missing" / "vanillanet.weights.h5")


def test_command_line_converts_a_timm_checkpoint(tmp_path):
    fixture = load_fixture("lcnet_050_timm")
    source = tmp_path / "lcnet_050.npz"
    np.savez(source, **fixture.state_dict)
    output = tmp_path / "lcnet_050.weights.h5"
    args = [
        "--model=pplcnet_x0_5",
        f"--source={source}",
        f"--output={output}",
        "--classes=10",
        '--model_kwargs={"head_bias": true}',
    ]
    result = run_tool("convert_weights", *args)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"wrote {output}" in result.stdout
    model = keras_minimal.create_model(
        "pplcnet_x0_5",
        head_bias=True,
        classes=10,
        include_preprocessing=False,
        classifier_activation=None,
        input_shape=fixture.inputs.shape[1:],
        weights=str(output),
    )
    assert_matches_reference(_outputs(model, fixture), fixture.outputs["logits"])

    again = run_tool("convert_weights", *args)
    assert "exists; pass overwrite=True (--overwrite)" in error_line(again)
    wrong_classes = run_tool(
        "convert_weights", *args[:3], "--overwrite", '--model_kwargs={"head_bias": true}'
    )
    assert "classifier has 10 classes, this model's 1000: build it with classes=10" in (
        error_line(wrong_classes)
    )


def test_command_line_converts_a_paddleclas_pdparams(tmp_path):
    fixture = load_fixture("pplcnet_paddle_x0_25")
    output = tmp_path / "pplcnet_x0_25.weights.h5"
    source = DATA / "pplcnet_paddle_x0_25.pdparams"
    args = ["--model=pplcnet_x0_25", f"--source={source}", f"--output={output}", "--classes=10"]
    result = run_tool("convert_weights", *args)
    assert result.returncode == 0, result.stderr[-3000:]
    model = keras_minimal.create_model(
        "pplcnet_x0_25",
        classes=10,
        include_preprocessing=False,
        classifier_activation=None,
        input_shape=fixture.inputs.shape[1:],
        weights=str(output),
    )
    assert_matches_reference(_outputs(model, fixture), fixture.outputs["logits"])


def test_command_line_refuses_nan_weights_unless_allow_nonfinite(tmp_path):
    fixture = load_fixture("lcnet_050_timm")
    state = dict(fixture.state_dict)
    state["classifier.bias"] = np.where(np.arange(10) == 2, np.nan, state["classifier.bias"])
    source = tmp_path / "diverged.npz"
    np.savez(source, **state)
    output = tmp_path / "diverged.weights.h5"
    args = [
        "--model=pplcnet_x0_5",
        f"--source={source}",
        f"--output={output}",
        "--classes=10",
        '--model_kwargs={"head_bias": true}',
    ]
    line = error_line(run_tool("convert_weights", *args))
    assert line.startswith("error: The checkpoint holds NaN or infinite values in 1 of")
    assert "classifier.bias (1 NaN of 10 values)" in line and "--allow_nonfinite" in line
    assert not output.exists()
    allowed = run_tool("convert_weights", *args, "--allow_nonfinite")
    assert allowed.returncode == 0, allowed.stderr[-3000:]
    assert f"wrote {output}" in allowed.stdout
