"""pytest-xdist scheduling for tools/run_tests.py's workers: a test module's tests stay on one
worker, so that its module fixtures are built once, and a documentation page's blocks stay on
one worker in page order, since tests/test_docs.py runs them one after another in one folder.
(xdist's own loadgroup cannot be used: pytest 9 ignores the group it appends to node ids.)"""

import re

import pytest
from xdist.scheduler import LoadScopeScheduling

DOC_BLOCK = re.compile(r"^tests/test_docs\.py::test_documented_block_runs\[(.+):\d+\]$")


class ModuleOrPageScheduling(LoadScopeScheduling):
    def _split_scope(self, nodeid):
        block = DOC_BLOCK.match(nodeid)
        return f"doc page {block.group(1)}" if block else nodeid.split("::")[0]


@pytest.hookimpl(optionalhook=True)  # a run with -p no:xdist has no such hook
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") == "loadscope":  # as tools/run_tests.py runs the workers
        return ModuleOrPageScheduling(config, log)
    return None
