"""tools/model_flags.py: the --model / --model_config checks the tools share."""

import pytest
from absl import app

from tools.model_flags import check_model_source


def test_a_registered_model_or_a_config_passes():
    check_model_source("vanillanet_5", None)
    check_model_source(None, "model.json")
    check_model_source("nfnet_f0", accepts_config=False)


@pytest.mark.parametrize(
    "model, model_config", [(None, None), ("vanillanet_5", "model.json"), ("", "")]
)
def test_exactly_one_source_is_required(model, model_config):
    with pytest.raises(app.UsageError, match="Pass exactly one of --model and --model_config"):
        check_model_source(model, model_config)


@pytest.mark.parametrize("accepts_config", [True, False])
def test_an_unknown_model_lists_the_registered_names(accepts_config):
    with pytest.raises(app.UsageError, match="Unknown --model='resnet50'. Choose one of: ") as e:
        check_model_source("resnet50", None, accepts_config=accepts_config)
    assert all(name in str(e.value) for name in ("convnext_tiny", "nfnet_f0", "vanillanet_13"))


def test_without_config_a_missing_model_is_named():
    with pytest.raises(app.UsageError, match="Unknown --model=None"):
        check_model_source(None, accepts_config=False)
