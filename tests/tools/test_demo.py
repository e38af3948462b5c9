import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.slow
def test_demo_trains_fuses_and_checks_agreement():
    result = subprocess.run(
        [sys.executable, "tools/demo.py", "--epochs=6", "--warmup_epochs=1", "--latency_runs=3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, KERAS_BACKEND="tensorflow"),
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "λ = 1.0" in result.stdout
    assert "top-1 agreement 100.00%" in result.stdout
    assert "deploy graph" in result.stdout and "training graph" in result.stdout
