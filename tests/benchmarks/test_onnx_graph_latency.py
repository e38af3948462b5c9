"""benchmarks/onnx_graph_latency.py times one onnxruntime session at a time, spinning as users
get it, in rounds that cycle over the graphs."""

import json
import textwrap

import pytest

from tests.tools.tool_process import run_python

pytest.importorskip("onnxruntime")
pytest.importorskip("torch")

# Runs the benchmark with onnxruntime's InferenceSession counted: how many are alive whenever
# one runs, and the spinning setting each was created with.
DRIVER = textwrap.dedent(
    """
    import json, runpy, sys, weakref
    import onnxruntime

    alive, seen = weakref.WeakSet(), {"sessions": 0, "most_alive": 0, "spinning": []}

    class CountedSession(onnxruntime.InferenceSession):
        def __init__(self, model, options=None, *args, **kwargs):
            super().__init__(model, options, *args, **kwargs)
            alive.add(self)
            seen["sessions"] += 1
            try:
                spinning = options.get_session_config_entry("session.intra_op.allow_spinning")
            except RuntimeError:  # not set: onnxruntime's default
                spinning = "unset"
            seen["spinning"].append(spinning)

        def run(self, *args, **kwargs):
            seen["most_alive"] = max(seen["most_alive"], len(alive))
            return super().run(*args, **kwargs)

    onnxruntime.InferenceSession = CountedSession
    sys.argv = ["onnx_graph_latency.py", *sys.argv[1:]]
    try:
        runpy.run_path("benchmarks/onnx_graph_latency.py", run_name="__main__")
    except SystemExit:
        pass
    print("SESSIONS " + json.dumps(seen))
    """
)


@pytest.mark.slow
def test_each_session_is_timed_alone_with_default_spinning(tmp_path):
    rounds = 2
    result = run_python(
        "-c",
        DRIVER,
        "--models=pplcnet_x0_25",
        "--image_sizes=64",
        "--runs=2",
        "--warmup=1",
        f"--rounds={rounds}",
        f"--output={tmp_path / 'latency'}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("SESSIONS "))
    seen = json.loads(line.removeprefix("SESSIONS "))
    # One session each for the previous/rewritten outputs, then one per graph and round.
    assert seen["sessions"] == 2 + 3 * rounds
    assert seen["most_alive"] == 1
    assert set(seen["spinning"]) == {"1"}
    (row,) = json.loads((tmp_path / "latency.json").read_text())["results"]
    for key in ("previous", "rewritten", "reference"):
        assert len(row[f"{key}_round_medians_ms"]) == rounds
        assert row[f"{key}_median_ms"] > 0
