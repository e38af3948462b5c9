import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import pytest  # noqa: E402

from tests.xdist_scheduling import ModuleOrPageScheduling  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    keras.utils.set_random_seed(0)
    yield
    keras.backend.clear_session()


def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") == "loadscope":  # as tools/run_tests.py runs the workers
        return ModuleOrPageScheduling(config, log)
    return None
