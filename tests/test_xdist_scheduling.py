import pytest

pytest.importorskip("xdist")

from tests.xdist_scheduling import ModuleOrPageScheduling  # noqa: E402


def scope(nodeid):
    return ModuleOrPageScheduling._split_scope(None, nodeid)  # reads only the node id


def test_a_doc_page_is_one_unit_and_other_tests_go_by_module():
    readme = "tests/test_docs.py::test_documented_block_runs[README.md:{}]"
    assert scope(readme.format(32)) == scope(readme.format(75)) == "doc page README.md"
    deploy = "tests/test_docs.py::test_documented_block_runs[docs/deploy.md:12]"
    assert scope(deploy) == "doc page docs/deploy.md"
    assert scope("tests/test_docs.py::test_every_directive_applies") == "tests/test_docs.py"
    assert scope("tests/a/test_b.py::TestC::test_d[x]") == "tests/a/test_b.py"
