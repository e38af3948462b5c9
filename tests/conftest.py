import importlib.util
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import pytest  # noqa: E402

# pytest-xdist's hook, defined where xdist is installed (--workers=1 runs without it).
if importlib.util.find_spec("xdist") is not None:
    from tests.xdist_scheduling import pytest_xdist_make_scheduler  # noqa: E402, F401


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    keras.utils.set_random_seed(0)
    yield
    keras.backend.clear_session()
