"""tools/benchmark.py --reference: run before and after our runtimes at each batch size, with
the placeholders filled in, and our rows' ratio to it; a failing command is one error line."""

import json
import shlex
import sys

import pytest

from tests.fake_reference import fake_reference_command, logged
from tests.tools.tool_process import error_line, run_tool

pytest.importorskip("onnxruntime")

PLACEHOLDERS = "--model={model} --batch={batch} --image_size={image_size} --runs={runs}"
TINY_RUN = (
    "--models=pplcnet_x0_25",
    "--graphs=deploy",
    "--runtimes=keras",
    "--image_size=32",
    "--runs=2",
    "--throughput_runs=1",
    "--warmup=1",
)


@pytest.mark.slow
def test_reference_is_timed_around_each_batch_and_our_rows_get_their_ratio(tmp_path):
    log = tmp_path / "calls.log"
    command = fake_reference_command(log, PLACEHOLDERS)
    result = run_tool(
        "benchmark",
        *TINY_RUN,
        "--batch_sizes=1,2",
        f"--reference=fake={command}",
        f"--output={tmp_path / 'bench'}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    batch_1 = ["--model=pplcnet_x0_25", "--batch=1", "--image_size=32", "--runs=2"]
    batch_2 = ["--model=pplcnet_x0_25", "--batch=2", "--image_size=32", "--runs=1"]
    assert logged(log) == [batch_1, batch_1, batch_2, batch_2]
    rows = json.loads((tmp_path / "bench.json").read_text())["rows"]
    assert [(r["runtime"], r["batch"]) for r in rows] == [
        ("keras", 1),
        ("ref:fake", 1),
        ("keras", 2),
        ("ref:fake", 2),
    ]
    ours_1, reference_1, ours_2, reference_2 = rows
    # The fake's median is 2 ms × its call number: 2 and 4 ms around batch 1, 6 and 8 around 2.
    assert (reference_1["before_median_ms"], reference_1["after_median_ms"]) == (2.0, 4.0)
    assert (reference_2["before_median_ms"], reference_2["after_median_ms"]) == (6.0, 8.0)
    assert ours_1["over_reference"] == {"fake": pytest.approx(ours_1["median_ms"] / 3.0)}
    assert ours_2["over_reference"] == {"fake": pytest.approx(ours_2["median_ms"] / 7.0)}
    table = result.stdout[result.stdout.index("vs reference") :]
    assert f"{ours_2['over_reference']['fake']:.2f}× fake" in table
    assert "before 6.00, after 8.00 ms" in table


FAILING = f"{shlex.quote(sys.executable)} -c 'import sys; sys.exit(3)'"


@pytest.mark.slow
@pytest.mark.parametrize(
    "reference, batch_sizes, message",
    [
        (f"fake={FAILING}", "1", "error: --reference fake: Reference command failed (3): "),
        (
            f"fake={FAILING}",
            "1,32",
            "error: --reference fake is compared with each batch of [1, 32] but its command "
            "has no {batch} to time each",
        ),
        (FAILING, "1", "error: --reference takes LABEL=COMMAND"),  # no "LABEL="
    ],
    ids=["failing", "no_placeholder", "no_label"],
)
def test_a_failing_or_unfit_reference_command_is_one_error_line(reference, batch_sizes, message):
    result = run_tool(
        "benchmark", *TINY_RUN, f"--batch_sizes={batch_sizes}", f"--reference={reference}"
    )
    assert error_line(result).startswith(message)
    assert "pplcnet_x0_25" not in result.stdout  # none of our runtimes was timed
