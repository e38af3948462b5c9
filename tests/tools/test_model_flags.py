"""tools/model_flags.py: the --model / --model_config checks the tools share."""

import pytest
from absl import app

from tools.model_flags import check_model_source, check_registered_model


def test_a_registered_model_or_a_config_passes():
    check_model_source("vanillanet_5", None)
    check_model_source(None, "model.json")
    check_registered_model("nfnet_f0")


@pytest.mark.parametrize(
    "model, model_config", [(None, None), ("vanillanet_5", "model.json"), ("", "")]
)
def test_exactly_one_source_is_required(model, model_config):
    with pytest.raises(app.UsageError, match="Pass exactly one of --model and --model_config"):
        check_model_source(model, model_config)


@pytest.mark.parametrize(
    "check", [lambda name: check_model_source(name, None), check_registered_model]
)
def test_an_unknown_model_lists_the_registered_names(check):
    with pytest.raises(app.UsageError, match="Unknown --model='resnet50'. Choose one of: ") as e:
        check("resnet50")
    assert all(name in str(e.value) for name in ("convnext_tiny", "nfnet_f0", "vanillanet_13"))


def test_without_config_a_missing_model_is_named():
    with pytest.raises(app.UsageError, match="Unknown --model=None"):
        check_registered_model(None)
